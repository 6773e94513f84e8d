/* The FAQ studio's unpublished-changes guard (issue 22): the form as last opened, restored or
   published is remembered; before another entry, a new one or signing out replaces a form that
   changed since, an in-page dialog asks (texts from the locales, no window.confirm), and leaving
   the page asks through the browser's own `beforeunload` prompt.
   window.StudioGuard(opts) -> {mark(draft?), dirty(), ask() -> Promise<boolean>}. */
(function () {
  "use strict";

  window.StudioGuard = function (opts) {
    var dialog = opts.dialog;
    var saved = null;               // the draft as published (JSON), null: no form open
    var waiting = null;             // the answer of the dialog on screen
    var from = null;                // what had the focus before it

    function mark(draft) { saved = JSON.stringify(draft || opts.draft()); }

    function dirty() { return opts.open() && saved !== null && JSON.stringify(opts.draft()) !== saved; }

    function ask() {
      if (!dirty()) { return Promise.resolve(true); }
      if (waiting) { return waiting; }
      from = document.activeElement;
      waiting = new Promise(function (resolve) {
        dialog.addEventListener("close", function closed() {
          dialog.removeEventListener("close", closed);
          var discard = dialog.returnValue === "discard";
          waiting = null;
          if (discard) { saved = null; } else if (from && from.focus) { from.focus(); }
          resolve(discard);
        });
      });
      dialog.returnValue = "";
      dialog.showModal();
      opts.cancel.focus();               // the safe choice first
      return waiting;
    }

    opts.cancel.addEventListener("click", function () { dialog.close("keep"); });
    opts.confirm.addEventListener("click", function () { dialog.close("discard"); });
    window.addEventListener("beforeunload", function (event) {
      if (!dirty()) { return; }
      event.preventDefault();
      event.returnValue = "";            // older browsers need it set to show their prompt
    });

    return {mark: mark, dirty: dirty, ask: ask};
  };
})();
