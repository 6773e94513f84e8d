/* Help centre: live suggestions in the search box (progressive enhancement).
 *
 * Without this file the search form still submits to /help/{lang}/search and the server
 * renders the results. With it, while the shopper types (debounced) up to 5 matching
 * articles from GET /api/search appear under the box as links to their pages: a labelled
 * list announced by a polite live region; Down arrow moves from the box into the list,
 * Up/Down/Home/End move between links, Escape closes and returns to the box.
 * API data is only ever written with textContent or as URL parts, never as HTML.
 *
 * "Chat with us" links (data-open-chat) fire a cancelable `shop-support:open` event on
 * window; a chat widget that handles it calls preventDefault(). If nothing handles it, the
 * link leads to the contact article as it does without JavaScript.
 */
(function () {
  "use strict";

  var MIN_CHARS = 3;
  var DEBOUNCE_MS = 250;
  var MAX_ITEMS = 5;
  var MAX_CHARS = 1000;
  var SAFE_ID = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;
  var SAFE_LANG = /^[a-z]{2}$/;

  function setup(form, n) {
    var input = form.querySelector("input[name=q]");
    if (!input || !window.fetch || !window.URLSearchParams) return;
    var lang = form.getAttribute("data-lang") || document.documentElement.lang || "fr";
    var api = form.getAttribute("data-api") || "/api/search";
    var text = function (name) { return form.getAttribute("data-text-" + name) || ""; };
    var base = "help-suggest-" + n;

    var hint = form.querySelector(".help-search__hint");
    if (hint) {
      hint.hidden = false;
      input.setAttribute("aria-describedby", hint.id);
    }

    var status = document.createElement("p");
    status.className = "visually-hidden";
    status.id = base + "-status";
    status.setAttribute("role", "status");
    status.setAttribute("aria-live", "polite");
    form.appendChild(status);

    var panel = document.createElement("div");
    panel.className = "suggest";
    panel.id = base;
    panel.hidden = true;
    var heading = document.createElement("p");
    heading.className = "suggest__label";
    heading.id = base + "-label";
    heading.textContent = text("label");
    var list = document.createElement("ul");
    list.setAttribute("aria-labelledby", heading.id);
    var empty = document.createElement("p");
    empty.className = "suggest__empty";
    empty.hidden = true;
    panel.appendChild(heading);
    panel.appendChild(list);
    panel.appendChild(empty);
    form.appendChild(panel);
    input.setAttribute("aria-controls", panel.id);

    var timer = null;
    var seq = 0;
    var controller = null;
    var shownFor = "";
    var escaped = false;   // Escape from the list: back to the box, which must not reopen it

    function links() { return Array.prototype.slice.call(list.querySelectorAll("a")); }

    function close() {
      panel.hidden = true;
      shownFor = "";
    }

    function announce(message) { status.textContent = message; }

    function show(body, query) {
      var hits = body && Array.isArray(body.hits) ? body.hits : [];
      hits = hits.filter(function (h) {
        return h && h.band !== "none" && typeof h.id === "string" && SAFE_ID.test(h.id) &&
          typeof h.lang === "string" && SAFE_LANG.test(h.lang);
      }).slice(0, MAX_ITEMS);
      list.textContent = "";
      hits.forEach(function (h) {
        var li = document.createElement("li");
        var a = document.createElement("a");
        a.href = "/help/" + encodeURIComponent(h.lang) + "/" + encodeURIComponent(h.id);
        a.textContent = String(h.title || h.id);
        if (h.lang !== lang) {
          a.setAttribute("lang", h.lang);
          a.setAttribute("hreflang", h.lang);
        }
        li.appendChild(a);
        list.appendChild(li);
      });
      list.hidden = hits.length === 0;
      heading.hidden = hits.length === 0;
      empty.hidden = hits.length !== 0;
      empty.textContent = hits.length ? "" : text("none");
      panel.hidden = false;
      shownFor = query;
      if (hits.length === 0) announce(text("none"));
      else if (hits.length === 1) announce(text("count-1"));
      else announce(text("count-n").replace("{n}", String(hits.length)));
    }

    function showError() {
      list.textContent = "";
      list.hidden = true;
      heading.hidden = true;
      empty.hidden = false;
      empty.textContent = text("error");
      panel.hidden = false;
      shownFor = "";
    }

    function run() {
      var query = input.value.replace(/\s+/g, " ").trim();
      if (query.length < MIN_CHARS || query.length > MAX_CHARS) {
        if (controller) controller.abort();
        seq += 1;
        close();
        return;
      }
      if (query === shownFor && !panel.hidden) return;
      if (controller) controller.abort();
      controller = window.AbortController ? new AbortController() : null;
      var mine = ++seq;
      var params = new URLSearchParams({ q: query, lang: lang, k: String(MAX_ITEMS) });
      fetch(api + "?" + params.toString(), {
        headers: { Accept: "application/json" },
        credentials: "same-origin",
        signal: controller ? controller.signal : undefined
      }).then(function (response) {
        if (!response.ok) throw new Error("search failed: " + response.status);
        return response.json();
      }).then(function (body) {
        if (mine === seq) show(body, query);
      }).catch(function (err) {
        if (mine === seq && !(err && err.name === "AbortError")) showError();
      });
    }

    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(run, DEBOUNCE_MS);
    });

    input.addEventListener("keydown", function (event) {
      var items = links();
      if (event.key === "ArrowDown" && !panel.hidden && items.length) {
        event.preventDefault();
        items[0].focus();
      } else if (event.key === "Escape" && !panel.hidden) {
        event.preventDefault();
        close();
      }
    });

    panel.addEventListener("keydown", function (event) {
      var items = links();
      var i = items.indexOf(document.activeElement);
      if (i < 0) return;
      var target = null;
      if (event.key === "ArrowDown") target = items[Math.min(i + 1, items.length - 1)];
      else if (event.key === "ArrowUp") target = i === 0 ? input : items[i - 1];
      else if (event.key === "Home") target = items[0];
      else if (event.key === "End") target = items[items.length - 1];
      else if (event.key === "Escape") { close(); target = input; escaped = true; }
      if (target) {
        event.preventDefault();
        target.focus();
      }
    });

    form.addEventListener("focusout", function () {
      setTimeout(function () {
        if (!form.contains(document.activeElement)) close();
      }, 0);
    });

    input.addEventListener("focus", function () {
      if (escaped) { escaped = false; return; }
      if (panel.hidden && input.value.trim().length >= MIN_CHARS) run();
    });
  }

  Array.prototype.forEach.call(document.querySelectorAll("form[data-help-search]"), setup);

  document.addEventListener("click", function (event) {
    var link = event.target && event.target.closest ? event.target.closest("a[data-open-chat]") : null;
    if (!link) return;
    var lang = document.documentElement.lang;
    var open = new CustomEvent("shop-support:open", { cancelable: true, detail: { lang: lang } });
    if (!window.dispatchEvent(open)) {
      event.preventDefault();
    } else if (window.ShopSupport && typeof window.ShopSupport.open === "function") {
      event.preventDefault();
      window.ShopSupport.open({ lang: lang });
    }
  });
})();
