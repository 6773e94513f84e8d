"""The shop's own systems the bot looks into (orders), behind small interfaces."""
