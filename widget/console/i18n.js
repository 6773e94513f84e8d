/* Texts of the agent console and the manager dashboard, in French or English.
 *
 * Every text is written once, in locales/fr.yml and locales/en.yml; the page asks the gateway
 * for its section (GET /api/texts/console?lang=fr) and this file puts the texts in:
 *   <span data-i18n="login.submit"></span>                  its text
 *   <input data-i18n-attr="placeholder:kb.placeholder">     attributes (name:key;name:key)
 *   <p data-i18n="matrix.hint"><code data-i18n-field="file">config/shop.yml</code></p>
 *                                                           {file} in the text becomes that element
 * Texts only ever go in through textContent, attributes and text nodes, never innerHTML: a text
 * can never become markup. A missing text shows its key (the neutral fallback), never English.
 * French is the shop's language and the default; a browser whose language starts with "en" gets
 * English until the account says otherwise. <html lang> follows the language shown.
 * Loaded by both pages (/static/console/i18n.js), before their own script; no inline code (CSP).
 */
(function () {
  "use strict";

  var LANGS = ["fr", "en"];
  var LOCALES = { fr: "fr-FR", en: "en-GB" };   // dates and numbers: Intl formats per language
  var PENDING = "i18n-pending";                 // <html class>: the page is hidden until its texts are in
  var PLACEHOLDER = /\{(\w+)\}/g;

  function norm(lang) {
    return String(lang || "").trim().toLowerCase().slice(0, 2) === "en" ? "en" : "fr";
  }

  function fill(template, fields) {
    return String(template).replace(PLACEHOLDER, function (whole, name) {
      return fields && fields[name] !== undefined && fields[name] !== null ? String(fields[name]) : whole;
    });
  }

  function I18n(scope) {
    this.scope = scope;
    this.lang = "";
    this.texts = {};
    this.loaded = null;     // the promise of the last load
    this._seq = 0;
  }

  I18n.norm = norm;
  I18n.LANGS = LANGS;

  /* The browser's language, the choice before anyone signs in. */
  I18n.prototype.browserLang = function () {
    return norm((navigator.languages && navigator.languages[0]) || navigator.language);
  };

  I18n.prototype.locale = function () { return LOCALES[this.lang] || LOCALES.fr; };

  /* Fetch the texts of `lang` (cached by the browser: the answer is public and versioned by ETag),
     then show them. Resolves even if the server fails: the page keeps the texts it had, or keys. */
  I18n.prototype.load = function (lang) {
    var self = this, seq = ++this._seq;
    lang = norm(lang);
    this.loaded = fetch("/api/texts/" + encodeURIComponent(this.scope) + "?lang=" + lang,
                        { headers: { Accept: "application/json" }, credentials: "omit" })
      .then(function (res) {
        if (!res.ok) throw new Error("HTTP " + res.status);
        return res.json();
      })
      .then(function (body) {
        if (seq !== self._seq) return;                    // a later choice won
        var texts = {};
        Object.keys(body.texts || {}).forEach(function (k) {
          if (typeof body.texts[k] === "string") texts[k] = body.texts[k];
        });
        self.texts = texts;
        self.lang = lang;
        self.apply(document);
      })
      .catch(function () {
        if (seq !== self._seq) return;
        if (!self.lang) { self.lang = lang; self.apply(document); }
      });
    return this.loaded;
  };

  /* The staff's choice of language: saved on the account when signed in (`token`; the console,
     dashboard and studio share it), then shown. Rejects when the account could not save it. */
  I18n.prototype.choose = function (lang, token) {
    var self = this;
    var saved = !token ? Promise.resolve() : fetch("/api/agent/language", {
      method: "POST", body: JSON.stringify({ lang: lang }),
      headers: { Authorization: "Bearer " + token, "Content-Type": "application/json" }
    }).then(function (res) { if (!res.ok) throw new Error("HTTP " + res.status); });
    return saved.then(function () { return self.load(lang); });
  };

  /* Texts for the browser's language unless some are already there. */
  I18n.prototype.ensure = function () {
    return this.loaded || this.load(this.browserLang());
  };

  /* One text, its {placeholders} filled (as text). */
  I18n.prototype.t = function (key, fields) {
    var value = this.texts[key];
    return value === undefined ? key : fill(value, fields);
  };

  /* A text that depends on a count: `key.one` / `key.other` (CLDR plural categories);
     {n} is the count formatted for the language. */
  I18n.prototype.tn = function (key, n, fields) {
    var category = "other";
    try { category = new Intl.PluralRules(this.locale()).select(n); } catch (e) { /* "other" */ }
    var found = this.texts[key + "." + category] !== undefined ? key + "." + category : key + ".other";
    return this.t(found, Object.assign({ n: this.number(n) }, fields || {}));
  };

  /* A text whose {placeholders} are nodes (elements or strings): a DocumentFragment, no markup. */
  I18n.prototype.nodes = function (key, fields) {
    var template = this.texts[key] === undefined ? key : this.texts[key];
    var out = document.createDocumentFragment(), last = 0, match;
    PLACEHOLDER.lastIndex = 0;
    while ((match = PLACEHOLDER.exec(template)) !== null) {
      if (match.index > last) out.appendChild(document.createTextNode(template.slice(last, match.index)));
      var field = fields ? fields[match[1]] : undefined;
      if (field instanceof Node) out.appendChild(field);
      else out.appendChild(document.createTextNode(field === undefined || field === null ? match[0] : String(field)));
      last = PLACEHOLDER.lastIndex;
    }
    if (last < template.length) out.appendChild(document.createTextNode(template.slice(last)));
    return out;
  };

  I18n.prototype.number = function (value, options) {
    try { return new Intl.NumberFormat(this.locale(), options).format(value); } catch (e) { return String(value); }
  };

  I18n.prototype.date = function (value, options) {
    var d = value instanceof Date ? value : new Date(value);
    if (isNaN(d)) return String(value || "");
    try { return new Intl.DateTimeFormat(this.locale(), options).format(d); } catch (e) { return d.toISOString(); }
  };

  /* Put the texts in every marked element under `root`, set <html lang>, show the page. */
  I18n.prototype.apply = function (root) {
    var self = this;
    root = root || document;
    root.querySelectorAll("[data-i18n]").forEach(function (node) {
      var key = node.getAttribute("data-i18n");
      if (!node._i18nFields) {                             // elements kept inside the text, by name
        node._i18nFields = {};
        node.querySelectorAll("[data-i18n-field]").forEach(function (child) {
          node._i18nFields[child.getAttribute("data-i18n-field")] = child;
        });
      }
      var fields = node._i18nFields;
      if (Object.keys(fields).length) {
        while (node.firstChild) node.removeChild(node.firstChild);
        node.appendChild(self.nodes(key, fields));
      } else {
        node.textContent = self.t(key);
      }
    });
    root.querySelectorAll("[data-i18n-attr]").forEach(function (node) {
      node.getAttribute("data-i18n-attr").split(";").forEach(function (pair) {
        var at = pair.indexOf(":");
        if (at < 1) return;
        var name = pair.slice(0, at).trim(), key = pair.slice(at + 1).trim();
        if (/^(aria-[a-z]+|title|placeholder|label|alt)$/.test(name)) node.setAttribute(name, self.t(key));
      });
    });
    if (this.lang) document.documentElement.lang = this.lang;
    document.documentElement.classList.remove(PENDING);
  };

  window.SupportI18n = I18n;

  // Never leave the page hidden if the texts cannot come (the keys show instead).
  window.setTimeout(function () { document.documentElement.classList.remove(PENDING); }, 4000);
})();
