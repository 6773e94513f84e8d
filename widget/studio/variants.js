/* The FAQ studio's A/B variants (issue 22): the entry's front matter `variants: {name: markdown}`
   as rows of a name and a markdown answer, added and removed, each with the same live preview as
   the answer (the gateway's renderer and sanitiser, drawn by studio.js: `opts.preview`). Texts
   from the locales (`opts.T`), everything typed goes in as values and textContent.
   window.StudioVariants(opts) -> {fill(variants), value(), inputs(), renumber()}. */
(function () {
  "use strict";
  var MAX = 5;                // the API's bound (gateway/editor_api.py Draft.variants)
  var PREVIEW_MS = 300;

  window.StudioVariants = function (opts) {
    var T = opts.T, list = opts.list, add = opts.add;
    var made = 0;

    function el(tag, cls) {
      var node = document.createElement(tag);
      if (cls) { node.className = cls; }
      return node;
    }

    function rows() { return Array.prototype.slice.call(list.children); }

    function renumber() {
      rows().forEach(function (row, i) {
        var n = {n: i + 1};
        row.querySelector(".variant-name-label").textContent = T("form.variant_name_n", n);
        row.querySelector(".variant-text-label").textContent = T("form.variant_text_n", n);
        row.querySelector(".variant-preview-title").textContent = T("form.variant_preview_n", n);
        var remove = row.querySelector("button");
        remove.textContent = T("form.remove_variant");
        remove.setAttribute("aria-label", T("form.remove_variant_n", n));
      });
      add.disabled = rows().length >= MAX;
    }

    function addRow(name, text, focus) {
      var id = "variant-" + (++made);
      var row = el("div", "variant");
      var edit = el("div", "field");
      var nameLabel = el("label", "variant-name-label");
      nameLabel.htmlFor = id + "-name";
      var nameInput = el("input", "variant-name");
      nameInput.id = id + "-name";
      nameInput.autocomplete = "off";
      nameInput.spellcheck = false;
      nameInput.maxLength = 30;
      nameInput.value = name || "";
      nameInput.setAttribute("aria-describedby", "hint-variants issues-variants");
      var textLabel = el("label", "variant-text-label");
      textLabel.htmlFor = id + "-text";
      var textarea = el("textarea", "variant-text");
      textarea.id = id + "-text";
      textarea.rows = 5;
      textarea.value = text || "";
      textarea.setAttribute("aria-describedby", "issues-variants");
      var remove = el("button", "secondary");
      remove.type = "button";
      [nameLabel, nameInput, textLabel, textarea, remove].forEach(function (node) { edit.appendChild(node); });
      var shown = el("div", "field");
      var title = el("h4", "variant-preview-title");
      title.id = id + "-preview-title";
      var preview = el("div", "preview");
      preview.setAttribute("role", "region");
      preview.setAttribute("aria-labelledby", title.id);
      shown.appendChild(title);
      shown.appendChild(preview);
      row.appendChild(edit);
      row.appendChild(shown);
      var timer = null;
      function draw() { opts.preview(preview, textarea.value, id); }
      textarea.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(draw, PREVIEW_MS); });
      remove.addEventListener("click", function () {
        var next = row.nextElementSibling || row.previousElementSibling;
        row.remove();
        renumber();
        (next ? next.querySelector("input") : add).focus();
        opts.changed();
      });
      list.appendChild(row);
      renumber();
      draw();
      if (focus) { nameInput.focus(); }
    }

    add.addEventListener("click", function () {
      if (rows().length < MAX) { addRow("", "", true); }
    });

    return {
      /* The rows for an entry's variants ({} or none: no row). */
      fill: function (variants) {
        list.textContent = "";
        var given = variants && typeof variants === "object" ? variants : {};
        Object.keys(given).forEach(function (name) { addRow(name, given[name]); });
        renumber();
      },
      /* {name: text} as the draft sends it; a row with a name or a text counts (the check says
         what is wrong with it), an empty one is left out. A name given twice would silently keep
         one row: the repeat goes as "name (2)", which the check refuses next to the variants. */
      value: function () {
        var out = {};
        rows().forEach(function (row) {
          var name = row.querySelector("input").value.trim(), text = row.querySelector("textarea").value;
          if (!name && !text.trim()) { return; }
          var key = name, n = 1;
          while (Object.prototype.hasOwnProperty.call(out, key)) { n += 1; key = name + " (" + n + ")"; }
          out[key] = text;
        });
        return out;
      },
      inputs: function () { return Array.prototype.slice.call(list.querySelectorAll("input, textarea")); },
      renumber: renumber
    };
  };
})();
