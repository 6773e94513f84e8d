/* Shop support widget: being written (issue 6). */
