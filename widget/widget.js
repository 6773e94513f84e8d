/*!
 * Shop support chat widget: one file, vanilla JS, no build step, no dependency.
 *
 * Embed (the gateway's address comes from this script's own src):
 *   <script src="https://support.example/widget.js" data-lang="fr" data-color="#2f5d50" async></script>
 * Options, as data-* attributes of that script tag:
 *   data-lang       "fr" | "en" (default: navigator.language, French when it is French, else English);
 *                   the widget then follows the conversation's language: a shopper who writes in
 *                   English gets the English interface at once, and on the next pages too
 *   data-color      brand colour "#rgb" / "#rrggbb"; text on it is white or dark, by luminance (WCAG AA)
 *   data-title      the panel's title (default "Service client" / "Customer service")
 *   data-proactive  JSON list of greetings, e.g. [{"path": "/demo", "after": 3, "fr": "...", "en": "..."}]:
 *                   `path` is a path prefix, or a regular expression when it starts with "^"; `after`
 *                   in seconds. Shown at most once per browser session.
 *
 * Protocol: docs/protocol.md (WebSocket /ws/chat, HTTP fallback /api/chat/...).
 * Security: the only markup this widget ever inserts is a bot message's `html` field, which the
 * gateway sanitised (gateway/render.py). Everything else (shopper, agent and system texts, FAQ
 * suggestions, titles) is text: textContent, or DOM nodes built one by one.
 * Public API: window.ShopSupport = {version, open(), close(), toggle()}.
 * Performance marks: "shop-support-ready" (launcher on screen and usable) and
 * "shop-support-connected" (first welcome + history received).
 */
(function () {
  "use strict";
  var W = window, D = document;
  if (W.ShopSupport && W.ShopSupport.version) return;  // embedded twice: keep the first
  var script = D.currentScript || D.querySelector('script[src*="/widget.js"]');
  if (!script || !script.src) return;

  var VERSION = "1.0.0";
  var BASE = new URL(".", script.src);                  // https://support.example/
  var WS_URL = BASE.href.replace(/^http/, "ws") + "ws/chat";
  var OPT = script.dataset;
  var NAV = (navigator.language || "").slice(0, 2).toLowerCase();
  var LANG = OPT.lang === "fr" || OPT.lang === "en" ? OPT.lang : NAV === "fr" ? "fr" : "en";
  var KEY = "shop-support:" + BASE.origin + ":";        // storage keys are per gateway origin
  var MAX_CHARS = 2000;

  // -- interface strings -------------------------------------------------------------------

  // both languages' texts, from locales/{fr,en}.yml's `widget` section: the gateway puts them
  // in place of the marker when it serves this file (gateway/pages.py)
  var ALL_STRINGS = /*@widget-texts@*/{fr: {}, en: {}};
  var STRINGS = ALL_STRINGS[LANG];

  function t(key, vars) {
    return (STRINGS[key] || key).replace(/\{(\w+)\}/g, function (_, k) { return vars && k in vars ? vars[k] : ""; });
  }

  // -- storage (private modes may refuse it: the widget then just forgets) ---------------

  function store(area) {
    return {
      get: function (k, d) {
        try { var v = W[area].getItem(KEY + k); return v === null ? d : JSON.parse(v); } catch (e) { return d; }
      },
      set: function (k, v) {
        try {
          if (v === null || v === undefined) W[area].removeItem(KEY + k);
          else W[area].setItem(KEY + k, JSON.stringify(v));
        } catch (e) { /* storage full or refused */ }
      }
    };
  }
  var LS = store("localStorage"), SS = store("sessionStorage");
  var SPOKEN = LS.get("lang", "");                      // the language this visitor's conversation is in
  if (SPOKEN === "fr" || SPOKEN === "en") { LANG = SPOKEN; STRINGS = ALL_STRINGS[LANG]; }

  // -- colours: AA contrast whatever data-color says ---------------------------------------

  function rgb(c) {
    var m = /^#?([0-9a-f]{3}|[0-9a-f]{6})$/i.exec(String(c || "").trim());
    if (!m) return null;
    var h = m[1].length === 3 ? m[1].replace(/./g, "$&$&") : m[1];
    return [0, 2, 4].map(function (i) { return parseInt(h.substr(i, 2), 16); });
  }
  function lum(c) {
    var a = c.map(function (v) { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
    return 0.2126 * a[0] + 0.7152 * a[1] + 0.0722 * a[2];
  }
  function contrast(l1, l2) { return (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05); }
  function cssColor(c) { return "rgb(" + c.join(",") + ")"; }
  var brand = rgb(OPT.color) || [47, 93, 80];
  var DARK = [16, 20, 26];
  var onBrand = contrast(lum(brand), 1) >= contrast(lum(brand), lum(DARK)) ? "#fff" : cssColor(DARK);
  var ink = brand.slice();                               // the brand colour as text on white: darkened to 4.5:1
  while (contrast(lum(ink), 1) < 4.5) ink = ink.map(function (v) { return Math.floor(v * 0.88); });

  // -- DOM helpers (no markup strings) ------------------------------------------------------

  function el(tag, attrs, kids) {
    var n = D.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      var v = attrs[k];
      if (v === null || v === undefined || v === false) return;
      if (k === "text") n.textContent = v;
      else if (k === "class") n.className = v;
      else if (k.slice(0, 2) === "on") n.addEventListener(k.slice(2), v);
      else n.setAttribute(k, v === true ? "" : v);
    });
    (kids || []).forEach(function (c) { if (c) n.appendChild(typeof c === "string" ? D.createTextNode(c) : c); });
    return n;
  }
  var SVG = "http://www.w3.org/2000/svg";
  var ICONS = {
    chat: "M21 11.5a8.4 8.4 0 0 1-.9 3.8 8.5 8.5 0 0 1-7.6 4.7 8.4 8.4 0 0 1-3.8-.9L3 21l1.9-5.7a8.4 8.4 0 0 1-.9-3.8 8.5 8.5 0 0 1 4.7-7.6 8.4 8.4 0 0 1 3.8-.9h.5a8.5 8.5 0 0 1 8 8v.5z",
    close: "M18 6 6 18M6 6l12 12",
    down: "M6 9l6 6 6-6",
    send: "M22 2 11 13M22 2l-7 20-4-9-9-4 20-7z",
    up: "M7 10v12M15 5.9 14 10h5.8a2 2 0 0 1 1.9 2.6l-2.3 8A2 2 0 0 1 17.5 22H4a2 2 0 0 1-2-2v-8a2 2 0 0 1 2-2h2.8a2 2 0 0 0 1.8-1.1L12 2a3.1 3.1 0 0 1 3 3.9z",
    dn: "M17 14V2M9 18.1 10 14H4.2a2 2 0 0 1-1.9-2.6l2.3-8A2 2 0 0 1 6.5 2H20a2 2 0 0 1 2 2v8a2 2 0 0 1-2 2h-2.8a2 2 0 0 0-1.8 1.1L12 22a3.1 3.1 0 0 1-3-3.9z",
    mail: "M4 4h16a2 2 0 0 1 2 2v12a2 2 0 0 1-2 2H4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2zm18 2-10 7L2 6",
    book: "M4 19.5A2.5 2.5 0 0 1 6.5 17H20V2H6.5A2.5 2.5 0 0 0 4 4.5v15zM20 17v5H6.5A2.5 2.5 0 0 1 4 19.5",
    clip: "M21.4 11.1l-9.2 9.2a6 6 0 0 1-8.5-8.5l9.2-9.2a4 4 0 0 1 5.7 5.7l-9.2 9.2a2 2 0 0 1-2.8-2.8l8.5-8.5"
  };
  function icon(name) {
    var s = D.createElementNS(SVG, "svg");
    s.setAttribute("viewBox", "0 0 24 24");
    s.setAttribute("aria-hidden", "true");
    s.setAttribute("focusable", "false");
    var p = D.createElementNS(SVG, "path");
    p.setAttribute("d", ICONS[name]);
    s.appendChild(p);
    return s;
  }
  var seq = 0;
  function uid(prefix) { return "ss-" + prefix + "-" + (++seq); }

  // A small markdown reader for FAQ suggestions: paragraphs, lists, bold, italics, code and
  // http(s)/mailto/tel links, built as DOM nodes. Anything else (raw HTML included) stays text.
  function inline(parent, text) {
    var re = /\*\*([^*]+)\*\*|__([^_]+)__|\*([^*\s][^*]*)\*|`([^`]+)`|\[([^\]]+)\]\(([^)\s]+)\)/g, last = 0, m;
    while ((m = re.exec(text))) {
      if (m.index > last) parent.appendChild(D.createTextNode(text.slice(last, m.index)));
      if (m[1] || m[2]) parent.appendChild(el("strong", {text: m[1] || m[2]}));
      else if (m[3]) parent.appendChild(el("em", {text: m[3]}));
      else if (m[4]) parent.appendChild(el("code", {text: m[4]}));
      else {
        var href = m[6].charAt(0) === "/" && m[6].charAt(1) !== "/" ? new URL(m[6], BASE).href : m[6];
        parent.appendChild(/^(https?:|mailto:|tel:)/i.test(href)
          ? el("a", {href: href, target: "_blank", rel: "noopener noreferrer nofollow", text: m[5]})
          : D.createTextNode(m[5]));
      }
      last = re.lastIndex;
    }
    if (last < text.length) parent.appendChild(D.createTextNode(text.slice(last)));
  }
  function markdownNodes(md) {
    var frag = D.createDocumentFragment(), item = /^\s*([-*+]|\d+[.)])\s+/;
    String(md || "").replace(/\r/g, "").split(/\n\s*\n/).forEach(function (block) {
      var lines = block.split("\n").filter(function (l) { return l.trim(); });
      if (!lines.length) return;
      if (lines.every(function (l) { return item.test(l); })) {
        var list = el(/^\s*\d/.test(lines[0]) ? "ol" : "ul");
        lines.forEach(function (l) { var li = el("li"); inline(li, l.replace(item, "")); list.appendChild(li); });
        frag.appendChild(list);
      } else {
        var p = el("p");
        lines.forEach(function (l, i) { if (i) p.appendChild(el("br")); inline(p, l.replace(/^\s*(#+|>)\s*/, "")); });
        frag.appendChild(p);
      }
    });
    return frag;
  }

  var timeFmt = new Intl.DateTimeFormat(LANG, {hour: "2-digit", minute: "2-digit"});
  var dayFmt = new Intl.DateTimeFormat(LANG, {day: "numeric", month: "short", hour: "2-digit", minute: "2-digit"});
  function when(ts) {
    var d = new Date((ts || Date.now() / 1000) * 1000);
    return (d.toDateString() === new Date().toDateString() ? timeFmt : dayFmt).format(d);
  }

  function getJSON(url, init) {
    return fetch(url, init).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (body) {
        if (!r.ok) { var e = new Error(body.message || "HTTP " + r.status); e.status = r.status; e.body = body; throw e; }
        return body;
      });
    });
  }
  function postJSON(url, data) {
    return getJSON(url, {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(data)});
  }
  function apiUrl(path) { return new URL(path, BASE).href; }

  // -- styles -------------------------------------------------------------------------------

  var CSS = [
    ":host{all:initial!important;position:fixed!important;z-index:2147483000!important;inset:auto!important;",
    "display:block!important;width:0!important;height:0!important}",
    ".ss{--brand:" + cssColor(brand) + ";--on:" + onBrand + ";--ink:" + cssColor(ink) + ";--text:#1b1f24;",
    "--muted:#555d69;--line:#dde1e6;--soft:#f2f4f6;--r:16px;font:15px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,",
    "'Helvetica Neue',Arial,sans-serif;color:var(--text);-webkit-font-smoothing:antialiased}",
    ".ss *,.ss *::before,.ss *::after{box-sizing:border-box}",
    "[hidden]{display:none!important}",
    ".sr{position:absolute!important;width:1px;height:1px;margin:-1px;padding:0;overflow:hidden;clip:rect(0 0 0 0);",
    "white-space:nowrap;border:0}",
    "svg{width:20px;height:20px;fill:none;stroke:currentColor;stroke-width:2;stroke-linecap:round;stroke-linejoin:round;flex:none}",
    "button,input,textarea{font:inherit;color:inherit}",
    "button{cursor:pointer}",
    ":focus-visible{outline:3px solid var(--ink);outline-offset:2px}",
    ".launcher{position:fixed;right:20px;bottom:20px;width:60px;height:60px;border-radius:50%;border:0;",
    "background:var(--brand);color:var(--on);display:grid;place-items:center;box-shadow:0 6px 20px rgba(16,24,40,.28);",
    "transition:transform .18s ease,box-shadow .18s ease}",
    ".launcher:hover{transform:translateY(-2px);box-shadow:0 10px 26px rgba(16,24,40,.32)}",
    ".launcher:focus-visible{outline:3px solid #fff;box-shadow:0 0 0 6px var(--ink),0 6px 20px rgba(16,24,40,.28)}",
    ".launcher svg{width:28px;height:28px}",
    ".badge{position:absolute;top:-4px;right:-4px;min-width:22px;height:22px;padding:0 6px;border-radius:11px;",
    "background:#c62828;color:#fff;font-size:12px;font-weight:700;line-height:22px;text-align:center;border:2px solid #fff}",
    ".greet{position:fixed;right:20px;bottom:92px;max-width:300px;display:flex;align-items:flex-start;gap:4px;",
    "background:#fff;border-radius:14px 14px 4px 14px;box-shadow:0 8px 28px rgba(16,24,40,.2);padding:4px;",
    "animation:ss-in .25s ease-out}",
    ".greet-text{border:0;background:none;text-align:left;padding:10px 4px 10px 12px;font-size:14.5px;color:var(--text)}",
    ".greet-x{border:0;background:none;border-radius:8px;padding:6px;color:var(--muted);display:grid}",
    ".greet-x svg{width:16px;height:16px}",
    ".panel{position:fixed;right:20px;bottom:92px;width:384px;height:min(640px,calc(100vh - 116px));",
    "display:flex;flex-direction:column;background:#fff;border-radius:var(--r);overflow:hidden;",
    "box-shadow:0 16px 48px rgba(16,24,40,.24),0 2px 6px rgba(16,24,40,.08);animation:ss-in .2s ease-out}",
    "@keyframes ss-in{from{opacity:0;transform:translateY(12px)}to{opacity:1;transform:none}}",
    ".head{background:var(--brand);color:var(--on);padding:16px 14px 14px 18px;display:flex;gap:12px;align-items:center}",
    ".avatar{width:40px;height:40px;border-radius:50%;display:grid;place-items:center;flex:none;",
    "background:rgba(255,255,255,.18);border:2px solid currentColor}",
    ".head-text{flex:1;min-width:0}",
    ".head h2{margin:0;font-size:16.5px;font-weight:650;line-height:1.25}",
    ".avail{margin:2px 0 0;font-size:13px;display:flex;align-items:center;gap:6px}",
    ".dot{width:9px;height:9px;border-radius:50%;background:currentColor;opacity:.6;flex:none;border:1.5px solid currentColor}",
    ".dot.human{background:#2fd06b;opacity:1;border-color:#fff}.dot.busy{background:#f5b400;opacity:1;border-color:#fff}",
    ".dot.closed{background:transparent;opacity:1}",
    ".icon-btn{border:0;background:transparent;color:inherit;width:36px;height:36px;border-radius:10px;display:grid;",
    "place-items:center;flex:none}",
    ".icon-btn:hover{background:rgba(127,127,127,.2)}",
    ".head :focus-visible{outline-color:var(--on)}",
    ".conn{background:#fff4e5;color:#6b3d00;font-size:13px;padding:6px 16px;border-bottom:1px solid #f3d9b1}",
    ".body{flex:1;overflow-y:auto;padding:16px 14px 8px;background:#fafbfc;overscroll-behavior:contain}",
    ".leave{display:flex;align-items:center;gap:8px;margin:0 0 12px auto;border:1px solid var(--line);background:#fff;",
    "color:var(--ink);border-radius:999px;padding:7px 14px;font-size:13.5px;font-weight:600}",
    ".leave svg{width:16px;height:16px}",
    ".msgs{list-style:none;margin:0;padding:0;display:flex;flex-direction:column;gap:10px}",
    ".msg{display:flex;flex-direction:column;align-items:flex-start;max-width:86%}",
    ".msg.me{align-self:flex-end;align-items:flex-end}",
    ".msg.sys{align-self:center;max-width:100%;font-size:13px;color:var(--muted);text-align:center}",
    ".bubble{padding:10px 13px;border-radius:16px 16px 16px 4px;background:#fff;border:1px solid var(--line);",
    "overflow-wrap:anywhere;white-space:pre-wrap}",
    ".bot .bubble,.intro .bubble{white-space:normal}",
    ".agent .bubble{background:#eef4ff;border-color:#d3e0f7}",
    ".me .bubble{background:var(--brand);color:var(--on);border-color:transparent;border-radius:16px 16px 4px 16px}",
    ".me.pending .bubble{opacity:.72}.me.failed .bubble{background:#fff;color:#a11d1d;border:1px dashed #c62828}",
    ".bubble p{margin:0 0 8px}.bubble p:last-child{margin:0}.bubble ul,.bubble ol{margin:4px 0 8px;padding-left:20px}",
    ".bubble a{color:var(--ink);font-weight:600;text-underline-offset:2px}",
    ".bubble code{font:13px ui-monospace,Menlo,Consolas,monospace;background:var(--soft);padding:1px 4px;border-radius:4px}",
    ".meta{font-size:12px;color:var(--muted);margin:3px 4px 0}",
    ".bot:has(+.bot)>.meta,.agent:has(+.agent)>.meta,.me:has(+.me:not(.pending,.failed))>.meta{display:none}",
    ".bot:has(+.bot),.agent:has(+.agent),.me:has(+.me){margin-bottom:-5px}",
    ".meta .st{margin-left:4px}.failed .meta{color:#a11d1d}",
    ".btns{display:flex;flex-wrap:wrap;gap:6px;margin-top:8px}",
    ".qr{border:1.5px solid var(--ink);color:var(--ink);background:#fff;border-radius:999px;padding:6px 14px;",
    "font-size:14px;font-weight:600;transition:background .15s}",
    ".qr:hover{background:var(--soft)}",
    ".fb .qr{width:40px;height:40px;padding:0;display:grid;place-items:center;border-color:var(--line)}",
    ".fb .qr[aria-pressed=true]{background:var(--brand);color:var(--on);border-color:var(--brand)}",
    ".btns.answered .qr:disabled{cursor:default}.btns.answered .qr[aria-pressed=false]{opacity:.55}",
    ".typing{display:flex;gap:4px;padding:12px 14px;margin-top:10px;background:#fff;border:1px solid var(--line);",
    "border-radius:16px 16px 16px 4px;width:max-content}",
    ".typing i,.dots i{width:7px;height:7px;border-radius:50%;background:#7a828e;animation:ss-b 1.2s infinite ease-in-out}",
    ".typing i:nth-child(2),.dots i:nth-child(2){animation-delay:.15s}",
    ".typing i:nth-child(3),.dots i:nth-child(3){animation-delay:.3s}",
    "@keyframes ss-b{0%,80%,100%{transform:translateY(0);opacity:.5}40%{transform:translateY(-4px);opacity:1}}",
    ".agent-typing{display:flex;align-items:center;gap:8px;margin:10px 0 0;font-size:13px;color:var(--muted)}",
    ".dots{display:flex;gap:4px;padding:8px 10px;background:#fff;border:1px solid var(--line);border-radius:12px}",
    ".card{background:#fff;border:1px solid var(--line);border-radius:14px;padding:14px;margin:0 0 14px}",
    ".card h3{margin:0 0 4px;font-size:15px}.card .hint{margin:0 0 10px;font-size:13px;color:var(--muted)}",
    ".field{margin:0 0 10px}.field label{display:block;font-size:13px;font-weight:600;margin:0 0 4px}",
    ".field input,.field textarea{width:100%;border:1px solid #8a929d;border-radius:10px;padding:8px 10px;background:#fff;",
    "font-size:14.5px}",
    ".field textarea{min-height:76px;resize:vertical}",
    ".field [aria-invalid=true]{border-color:#c62828;border-width:2px}",
    ".err{color:#a11d1d;font-size:12.5px;margin:4px 0 0}",
    ".primary{border:0;background:var(--brand);color:var(--on);border-radius:10px;padding:9px 16px;font-weight:650}",
    ".primary:disabled{opacity:.6}",
    ".done{margin:0;font-size:14px}.done strong{display:block;margin-bottom:4px}",
    ".sug{border-top:1px solid var(--line);background:#fff;max-height:42%;overflow-y:auto;padding:8px 12px 4px}",
    ".sug-h{display:flex;align-items:center;gap:6px;margin:0 0 4px;font-size:12.5px;font-weight:650;color:var(--muted);",
    "text-transform:uppercase;letter-spacing:.03em}",
    ".sug-h svg{width:15px;height:15px}",
    ".sug ul{list-style:none;margin:0;padding:0}",
    ".sug-q{width:100%;text-align:left;border:0;background:none;padding:7px 6px;border-radius:8px;color:var(--ink);",
    "font-weight:600;font-size:14px;display:flex;justify-content:space-between;align-items:center;gap:8px}",
    ".sug-q:hover{background:var(--soft)}.sug-q svg{width:18px;height:18px;transition:transform .15s}",
    ".sug-q[aria-expanded=true] svg{transform:rotate(180deg)}",
    ".sug-a{font-size:14px;padding:2px 8px 10px;color:var(--text)}.sug-a p{margin:0 0 6px}",
    ".sug-a a{color:var(--ink)}",
    ".composer{display:flex;align-items:flex-end;gap:8px;padding:10px 12px 12px;border-top:1px solid var(--line);background:#fff}",
    ".composer textarea{flex:1;border:1px solid #8a929d;border-radius:12px;padding:9px 12px;resize:none;",
    "max-height:120px;min-height:42px;line-height:1.4;font-size:15px;background:#fff}",
    ".composer textarea:focus-visible{outline:2px solid var(--ink);outline-offset:0;border-color:var(--ink)}",
    ".send{width:42px;height:42px;border:0;border-radius:12px;background:var(--brand);color:var(--on);display:grid;",
    "place-items:center;flex:none}",
    ".send:disabled{opacity:.45;cursor:default}",
    ".attach{width:42px;height:42px;border:1px solid var(--line);border-radius:12px;background:#fff;color:var(--ink);",
    "display:grid;place-items:center;flex:none}.attach:hover{background:var(--soft)}.attach-box{display:flex}",
    ".files{display:flex;flex-direction:column;gap:6px;align-items:inherit}",
    ".file{display:inline-flex;align-items:center;gap:6px;color:var(--ink);font-size:14px;font-weight:600;",
    "background:#fff;border:1px solid var(--line);border-radius:12px;padding:8px 10px;overflow-wrap:anywhere}",
    ".file.pic{padding:3px}.file img{display:block;max-width:220px;max-height:220px;border-radius:10px}",
    ".file svg{width:16px;height:16px}.failed .file{border:1px dashed #c62828;color:#a11d1d}",
    "@media (max-width:480px){.panel{inset:0;width:100%;height:100%;height:100dvh;border-radius:0}",
    ".is-open .launcher,.is-open .greet{display:none}.greet{left:16px;right:16px;max-width:none}.msg{max-width:92%}}",
    "@media (prefers-reduced-motion:reduce){.ss *{animation:none!important;transition:none!important}}",
    "@media (forced-colors:active){.launcher,.send,.primary,.me .bubble{border:1px solid}}"
  ].join("");

  // -- state ----------------------------------------------------------------------------------

  var S = {
    cid: LS.get("cid", ""),
    open: !!LS.get("open", false),
    unread: +LS.get("unread", 0) || 0,
    queue: LS.get("queue", []),          // [{id, text, display, ts}]: typed, not yet acknowledged
    ws: null, serial: 0, connected: false, wanted: false, everOpened: false, attempts: 0,
    retryTimer: 0, pingTimer: 0, pongTimer: 0, polling: 0, inflight: {}, limitedUntil: 0, limitTimer: 0,
    histCount: 0, historyLoaded: false, convState: "bot",
    seen: {}, titles: {}, groups: [], typingTimer: 0,
    agentTypingTimer: 0, typingSentAt: 0, typingIdle: 0,
    avail: null, availAt: 0, sugTimer: 0, sugSeq: 0, greeting: "", ticket: LS.get("ticket", null)
  };
  if (!Array.isArray(S.queue)) S.queue = [];

  // -- building the interface ------------------------------------------------------------

  var host, root, launcher, badge, panel, availText, dot, leaveBtn, conn, body, ticketBox, list, typing,
    agentTyping, agentTypingText,
    sug, input, sendBtn, live, greet, greetText, fileInput;
  var FILE_TYPES = "image/jpeg,image/png,image/webp,image/gif,application/pdf";   // what the gateway keeps

  function build() {
    host = el("div", {id: "shop-support-widget", lang: LANG, "data-proactive": "none"});
    var shadow = host.attachShadow({mode: "open"});
    // A constructed stylesheet is CSSOM, not inline CSS: it works on shop pages whose CSP
    // forbids inline styles; older browsers get a <style> element.
    if (window.CSSStyleSheet && "adoptedStyleSheets" in shadow && CSSStyleSheet.prototype.replaceSync) {
      var sheet = new CSSStyleSheet();
      sheet.replaceSync(CSS);
      shadow.adoptedStyleSheets = [sheet];
    } else {
      shadow.appendChild(el("style", {text: CSS}));
    }
    root = el("div", {class: "ss"});
    shadow.appendChild(root);

    var title = OPT.title || t("title");
    var titleId = uid("title");
    badge = el("span", {class: "badge", "aria-hidden": "true", hidden: true});
    launcher = el("button", {class: "launcher", type: "button", "aria-expanded": "false",
      "aria-controls": "ss-panel", "aria-label": t("open"), onclick: function () { setOpen(!S.open, true); }},
    [icon("chat"), badge]);

    greetText = el("button", {class: "greet-text", type: "button", onclick: function () { setOpen(true, true); }});
    greet = el("div", {class: "greet", hidden: true}, [greetText,
      el("button", {class: "greet-x", type: "button", "aria-label": t("greetClose"), onclick: hideGreeting},
        [icon("close")])]);

    dot = el("span", {class: "dot", "aria-hidden": "true"});
    availText = el("span", {text: t("checking")});
    leaveBtn = el("button", {class: "leave", type: "button", hidden: true, onclick: function () { showTicket(true); }},
      [icon("mail"), t("leave")]);
    conn = el("div", {class: "conn", role: "status", hidden: true, text: t("offline")});
    ticketBox = el("div", {hidden: true});
    list = el("ol", {class: "msgs", "aria-label": t("conversation")});
    typing = el("div", {class: "typing", hidden: true, role: "img", "aria-label": t("typing")},
      [el("i"), el("i"), el("i")]);
    // the advisor typing in the console ("Marie is typing…"): a status line, said once when it appears
    agentTypingText = el("span");
    agentTyping = el("p", {class: "agent-typing", role: "status", hidden: true}, [
      el("span", {class: "dots", "aria-hidden": "true"}, [el("i"), el("i"), el("i")]), agentTypingText]);
    body = el("div", {class: "body", tabindex: "0", role: "region", "aria-label": t("conversation")}, [
      leaveBtn, ticketBox,
      el("div", {class: "msg bot intro"}, [el("div", {class: "bubble", text: t("welcome")})]),
      list, typing, agentTyping]);
    sug = el("div", {class: "sug", role: "region", "aria-label": t("sugTitle"), hidden: true});

    var inputId = uid("input");
    input = el("textarea", {id: inputId, rows: "1", maxlength: String(MAX_CHARS), placeholder: t("placeholder"),
      autocomplete: "off", enterkeyhint: "send"});
    sendBtn = el("button", {class: "send", type: "submit", "aria-label": t("send"), disabled: true}, [icon("send")]);
    var composer = el("form", {class: "composer", onsubmit: function (e) {
      e.preventDefault(); sendText(input.value); input.value = ""; autosize(); input.focus();
    }}, [el("label", {class: "sr", for: inputId, text: t("inputLabel")}), input, attachButton(), sendBtn]);

    panel = el("section", {class: "panel", id: "ss-panel", role: "dialog", "aria-labelledby": titleId, hidden: true}, [
      el("header", {class: "head"}, [
        el("div", {class: "avatar", "aria-hidden": "true"}, [icon("chat")]),
        el("div", {class: "head-text"}, [el("h2", {id: titleId, text: title}),
          el("p", {class: "avail"}, [dot, availText])]),
        el("button", {class: "icon-btn", type: "button", "aria-label": t("close"),
          onclick: function () { setOpen(false, true); }}, [icon("down")])]),
      conn, body, sug, composer]);
    live = el("div", {class: "sr", "aria-live": "polite", "aria-atomic": "false", role: "log"});
    root.appendChild(greet);
    root.appendChild(panel);
    root.appendChild(launcher);
    root.appendChild(live);

    body.addEventListener("scroll", function () { stuck = body.scrollHeight - body.scrollTop - body.clientHeight < 40; });
    W.addEventListener("resize", function () { if (S.open && stuck) scrollDown(); });
    input.addEventListener("input", onTyping);
    input.addEventListener("keydown", function (e) {
      if (e.key !== "Enter" || e.shiftKey || e.isComposing) return;
      e.preventDefault();
      if (composer.requestSubmit) composer.requestSubmit(); else sendBtn.click();
    });
    panel.addEventListener("keydown", function (e) {
      if (e.key !== "Escape") return;
      e.stopPropagation();
      if (!sug.hidden && e.target === input) hideSuggestions();
      else setOpen(false, true);
    });
    (D.body || D.documentElement).appendChild(host);
  }

  function autosize() {
    input.style.height = "auto";
    input.style.height = Math.min(input.scrollHeight + 2, 120) + "px";
    sendBtn.disabled = !input.value.trim();
  }

  // a photo of the damaged parcel, an invoice: one file per pick, sent as a message
  function attachButton() {
    fileInput = el("input", {type: "file", accept: FILE_TYPES, hidden: true, tabindex: "-1",
      onchange: function () {
        var file = fileInput.files && fileInput.files[0];
        fileInput.value = "";
        if (file) sendFile(file);
      }});
    var btn = el("button", {class: "attach", type: "button", "aria-label": t("attach"), title: t("attach"),
      onclick: function () { fileInput.click(); }}, [icon("clip")]);
    return el("span", {class: "attach-box"}, [fileInput, btn]);
  }

  function announce(text) {
    var p = el("p", {text: text});
    live.appendChild(p);
    while (live.childNodes.length > 4) live.removeChild(live.firstChild);
  }

  function renderBadge() {
    badge.hidden = !S.unread || S.open;
    badge.textContent = S.unread > 9 ? "9+" : String(S.unread);
    launcher.setAttribute("aria-label", S.open ? t("close")
      : S.unread ? t("open") + " (" + t("unread", {n: S.unread}) + ")" : t("open"));
  }

  function setOpen(open, focus) {
    S.open = open;
    LS.set("open", open);
    panel.hidden = !open;
    root.classList.toggle("is-open", open);
    launcher.setAttribute("aria-expanded", String(open));
    if (open) {
      S.unread = 0;
      LS.set("unread", 0);
      hideGreeting();
      connect();
      loadAvailability();
      scrollDown();
      if (focus) input.focus();
    } else if (focus) {
      launcher.focus();
    }
    launcher.replaceChild(icon(open ? "down" : "chat"), launcher.firstChild);
    renderBadge();
  }

  function scrollDown() { body.scrollTop = body.scrollHeight; }
  var stuck = true;                                      // following the newest message

  // -- messages -----------------------------------------------------------------------------

  function keyOf(m) {
    var id = String(m.message_id || ""), prefix = "web:" + S.cid + ":";
    return id.indexOf(prefix) === 0 ? id.slice(prefix.length) : id;  // our own id, as the server stores it
  }

  function who(role) { return role === "shopper" ? t("you") : role === "agent" ? t("agent") : t("bot"); }

  function shown(text) { return text.charAt(0) === "/" && S.titles[text] ? S.titles[text] : text; }

  // how: "history" (loaded), "live" (pushed now), "local" (typed here, not yet stored)
  /* The conversation is in another language than the interface (the shopper wrote in English
     on a French page): rebuild the interface in that language and show the history again. */
  function followLanguage(lang) {
    if (lang === LANG || !ALL_STRINGS[lang] || !host) return;
    LANG = lang;
    STRINGS = ALL_STRINGS[lang];
    LS.set("lang", lang);
    timeFmt = new Intl.DateTimeFormat(LANG, {hour: "2-digit", minute: "2-digit"});
    dayFmt = new Intl.DateTimeFormat(LANG, {day: "numeric", month: "short", hour: "2-digit", minute: "2-digit"});
    var wasOpen = S.open, hadFocus = host.shadowRoot && host.shadowRoot.activeElement === input;
    var draft = input.value;
    host.remove();
    S.seen = {};
    S.groups = [];
    S.histCount = 0;
    S.historyLoaded = false;
    build();
    input.value = draft;
    S.queue.forEach(function (item) { renderQueued(item); });
    if (S.ws && S.connected) S.ws.send(JSON.stringify({type: "history", after: 0}));
    else if (S.polling) poll();
    if (wasOpen) setOpen(true, hadFocus);
    renderBadge();
    S.avail = null;
    S.availAt = 0;
    if (wasOpen) loadAvailability();
  }

  function addMessage(m, how) {
    var key = keyOf(m), role = m.role || "bot", text = String(m.text || "");
    if (role === "bot" && how === "live" && (m.lang === "fr" || m.lang === "en") && m.lang !== LANG) {
      setTimeout(function () { followLanguage(m.lang); }, 0);   // after this message is in
    }
    var known = S.seen[key];
    if (known) { settle(known, m); return; }
    if (role === "system" && m.author === "closed") { S.convState = "bot"; hideAgentTyping(); }
    var files = Array.isArray(m.files) ? m.files : [];
    if (!text && !(m.buttons || []).length && !files.length) return;   // internal events have no text for shoppers
    var li = el("li", {class: "msg " + ({shopper: "me", system: "sys"}[role] || role), "data-id": key});
    S.seen[key] = li;
    if (role === "system") {
      li.appendChild(el("span", {text: text || t("agentJoined")}));
      if (m.author === "agent_joined") S.convState = "agent";
    } else {
      li.appendChild(el("span", {class: "sr", text: who(role) + (LANG === "fr" ? " : " : ": ")}));
      if (text) {
        var bubble = el("div", {class: "bubble"});
        if (role === "bot" && typeof m.html === "string") {
          bubble.innerHTML = m.html;  // the ONE innerHTML: sanitised by the gateway (gateway/render.py)
        } else {
          bubble.textContent = role === "shopper" ? m.display || shown(text) : text;
        }
        li.appendChild(bubble);
      }
      if (files.length) li.appendChild(fileViews(files));
      if ((m.buttons || []).length) li.appendChild(buttons(m.buttons));
      var meta = el("div", {class: "meta"}, [role === "shopper" ? "" : who(role) + " · ",
        el("time", {datetime: new Date((m.timestamp || Date.now() / 1000) * 1000).toISOString(),
          text: when(m.timestamp)})]);
      if (role === "shopper") meta.appendChild(el("span", {class: "st"}));
      li.appendChild(meta);
    }
    if (how === "local") li.classList.add("pending");
    list.insertBefore(li, role === "shopper" && how === "local" ? null : list.querySelector(".pending"));
    if (role === "shopper") { if (text) answerGroups(text); }
    else {
      hideTyping();
      if (role === "agent") hideAgentTyping();
      if (how === "live") {
        announce(t("newFrom", {who: who(role), text: (li.querySelector(".bubble") || li).textContent.slice(0, 300)}));
        if (!S.open) { S.unread++; LS.set("unread", S.unread); renderBadge(); }
      }
    }
    if (how !== "history") scrollDown();
  }

  function settle(li, m) {
    var local = li.querySelector(".files[data-local]");
    if (local && Array.isArray(m.files) && m.files.length) local.parentNode.replaceChild(fileViews(m.files), local);
    if (m.role !== "shopper" || !li.classList.contains("pending")) return;
    li.classList.remove("pending");
    status(li, "");
  }

  // a file as the shopper sees it: the image itself, or a link with its name (never HTML from it)
  function fileViews(files) {
    var box = el("div", {class: "files"});
    files.forEach(function (f) {
      var name = String(f.name || "");
      if (f.local) {                                       // being sent: its name only
        box.setAttribute("data-local", "");
        box.appendChild(el("span", {class: "file"}, [icon("clip"), name]));
        return;
      }
      var url = apiUrl("api/chat/conversations/" + encodeURIComponent(S.cid) + "/attachments/" +
        encodeURIComponent(String(f.id || "")));
      var image = /^image\//.test(String(f.type || ""));
      box.appendChild(el("a", {class: "file" + (image ? " pic" : ""), href: url, target: "_blank",
        rel: "noopener noreferrer", "aria-label": t(image ? "imageAlt" : "fileLink", {name: name})},
      image ? [el("img", {src: url, alt: t("imageAlt", {name: name}), loading: "lazy"})] : [icon("clip"), name]));
    });
    return box;
  }

  function sendFile(file) {
    var id = "f-" + Date.now().toString(36) + "-" + Math.random().toString(36).slice(2, 10);
    addMessage({role: "shopper", text: "", message_id: id, timestamp: Date.now() / 1000,
      files: [{name: file.name, type: file.type, size: file.size, local: true}]}, "local");
    var li = S.seen[id];
    if (li) status(li, t("sending"));
    conversationId().then(function (cid) {
      var form = new FormData();
      form.append("file", file, file.name);
      form.append("message_id", id);
      form.append("lang", LANG);
      return getJSON(apiUrl("api/chat/conversations/" + encodeURIComponent(cid) + "/attachments"),
        {method: "POST", body: form});
    }).then(function (ack) {
      if (li) { li.classList.remove("pending"); status(li, ""); }
      if (ack && ack.file) settle(li, {role: "shopper", files: [ack.file]});
      if (!ack.duplicate) showTyping();
    }, function (e) {
      var why = {413: "fileTooBig", 415: "fileType", 422: "fileUnreadable", 409: "fileLimit", 429: "retry"}[e.status];
      var text = why ? t(why) : t("fileFailed");
      if (li) { li.classList.remove("pending"); li.classList.add("failed"); status(li, text); }
      announce(text);
    });
    if (!S.connected) connect();
  }

  function status(li, text) {
    var st = li.querySelector(".st");
    if (st) st.textContent = text ? "· " + text : "";
  }

  function buttons(list_) {
    var payloads = list_.map(function (b) { return String(b.payload); });
    var feedback = payloads.indexOf("/affirm") >= 0 && payloads.indexOf("/deny") >= 0;
    var group = el("div", {class: "btns" + (feedback ? " fb" : ""), role: "group",
      "aria-label": feedback ? t("helpfulQ") : t("choices")});
    var entry = {node: group, payloads: payloads, feedback: feedback, answered: false};
    list_.forEach(function (b) {
      var payload = String(b.payload), title = String(b.title || b.payload);
      S.titles[payload] = title;
      var thumb = feedback && (payload === "/affirm" || payload === "/deny");   // a third button keeps its title
      var label = thumb ? (payload === "/affirm" ? t("yes") : t("no")) : null;
      group.appendChild(el("button", {class: "qr", type: "button", "aria-label": label, title: label,
        "data-payload": payload, "aria-pressed": thumb ? "false" : null,
        onclick: function () { if (!entry.answered) sendText(payload, title); }},
      [thumb ? icon(payload === "/affirm" ? "up" : "dn") : title]));
    });
    S.groups.push(entry);
    return group;
  }

  function answerGroups(text) {
    S.groups.forEach(function (g) {
      if (g.answered) return;
      g.answered = true;
      g.node.classList.add("answered");
      if (!g.feedback) { g.node.hidden = true; return; }
      Array.prototype.forEach.call(g.node.children, function (b) {
        b.disabled = true;
        b.setAttribute("aria-pressed", String(b.getAttribute("data-payload") === text));
      });
    });
  }

  function showTyping() {
    if (S.convState !== "bot") return;
    typing.hidden = false;
    scrollDown();
    clearTimeout(S.typingTimer);
    S.typingTimer = setTimeout(hideTyping, 20000);
  }
  function hideTyping() { typing.hidden = true; clearTimeout(S.typingTimer); }

  // -- typing indicators, both ways (docs/protocol.md, `typing` frames) ---------------------------
  // The advisor's, shown while their "start" signals keep coming (they come every few seconds
  // while they type), hidden on "stop", on their message, or AGENT_TYPING_MS after the last one.
  var AGENT_TYPING_MS = 7000, TYPING_EVERY_MS = 2500, TYPING_IDLE_MS = 4000;

  function onAgentTyping(f) {
    if (f.state !== "start") { hideAgentTyping(); return; }
    var name = typeof f.name === "string" ? f.name.slice(0, 80) : "";
    agentTypingText.textContent = name ? t("agentTyping", {name: name}) : t("advisorTyping");
    if (agentTyping.hidden) { agentTyping.hidden = false; if (stuck) scrollDown(); }
    clearTimeout(S.agentTypingTimer);
    S.agentTypingTimer = setTimeout(hideAgentTyping, AGENT_TYPING_MS);
  }
  function hideAgentTyping() { agentTyping.hidden = true; clearTimeout(S.agentTypingTimer); }

  // The shopper's own: only while an advisor is involved (the bot needs no show), at most one
  // "start" every TYPING_EVERY_MS, a "stop" after TYPING_IDLE_MS without a key or when sent.
  function typingSignal(state) {
    if (!S.connected || !S.ws) return;
    try { S.ws.send(JSON.stringify({type: "typing", state: state})); } catch (e) { /* socket closing */ }
  }
  function shopperTyping() {
    if (S.convState === "bot") return;
    if (!input.value.trim()) { shopperStopped(); return; }
    if (Date.now() - S.typingSentAt >= TYPING_EVERY_MS) { S.typingSentAt = Date.now(); typingSignal("start"); }
    clearTimeout(S.typingIdle);
    S.typingIdle = setTimeout(shopperStopped, TYPING_IDLE_MS);
  }
  function shopperStopped() {
    clearTimeout(S.typingIdle);
    if (!S.typingSentAt) return;
    S.typingSentAt = 0;
    typingSignal("stop");
  }

  function clearConversation() {
    list.textContent = "";
    S.seen = {};
    S.groups = [];
    S.histCount = 0;
    S.historyLoaded = false;
    S.queue.forEach(function (item) { renderQueued(item); });
  }

  // -- sending (queued until acknowledged; the server dedupes by message_id) ------------------

  function saveQueue() { LS.set("queue", S.queue.map(function (q) { return {id: q.id, text: q.text, display: q.display, ts: q.ts}; })); }

  function renderQueued(item) {
    addMessage({role: "shopper", text: item.text, display: item.display, message_id: item.id, timestamp: item.ts}, "local");
    var li = S.seen[item.id];
    if (li && li.classList.contains("pending")) status(li, S.connected ? t("sending") : t("queued"));
  }

  function sendText(text, display) {
    text = String(text || "").trim().slice(0, MAX_CHARS);
    if (!text) return;
    shopperStopped();
    var item = {id: "m-" + Date.now().toString(36) + "-" + Math.random().toString(36).slice(2, 10),
      text: text, display: display || "", ts: Date.now() / 1000};
    S.queue.push(item);
    saveQueue();
    hideSuggestions();
    renderQueued(item);
    flush();
    if (!S.connected) connect();
  }

  function flush() {
    S.queue.forEach(function (item) {
      if (S.inflight[item.id] === S.serial) return;        // already sent on this socket
      if (S.connected && S.ws) {
        S.inflight[item.id] = S.serial;
        S.ws.send(JSON.stringify({type: "message", text: item.text, message_id: item.id, lang: LANG}));
      } else if (S.polling && S.cid) {
        S.inflight[item.id] = "http";
        postJSON(apiUrl("api/chat/conversations/" + S.cid + "/messages"), {text: item.text, message_id: item.id, lang: LANG})
          .then(function (ack) { onAck(ack); }, function (e) {
            delete S.inflight[item.id];
            if (e.status) onRefused(item.id, e.status, e.body && e.body.retry_after_s);
          });
      }
      var li = S.seen[item.id];
      if (li && li.classList.contains("pending")) status(li, S.connected || S.polling ? t("sending") : t("queued"));
    });
  }

  function onAck(ack) {
    var id = ack.message_id;
    S.queue = S.queue.filter(function (q) { return q.id !== id; });
    delete S.inflight[id];
    saveQueue();
    var li = S.seen[id];
    if (li && li.classList.contains("pending")) { li.classList.remove("pending"); status(li, ""); }
    if (!ack.duplicate) showTyping();
  }

  function onRefused(id, code, wait) {
    delete S.inflight[id];
    var li = S.seen[id];
    if (code === 429) {                                        // rate limited: same id, when the server says
      if (li) status(li, t("retry"));
      setTimeout(flush, Math.min(Math.max(+wait || 10, 1), 3600) * 1000);
      return;
    }
    S.queue = S.queue.filter(function (q) { return q.id !== id; });
    saveQueue();
    if (li) { li.classList.remove("pending"); li.classList.add("failed"); status(li, code === 413 ? t("tooLong") : t("failed")); }
  }

  // -- the WebSocket, reconnecting with exponential back-off and jitter -----------------------

  function connect() {
    S.wanted = true;
    if (S.ws) return;
    clearTimeout(S.retryTimer);
    var url = WS_URL + "?lang=" + LANG + (S.cid ? "&conversation_id=" + encodeURIComponent(S.cid) : "");
    var ws;
    try { ws = new WebSocket(url); } catch (e) { scheduleRetry(); return; }
    S.ws = ws;
    S.serial++;
    ws.onmessage = function (ev) {
      if (S.ws !== ws) return;
      var f;
      try { f = JSON.parse(ev.data); } catch (e) { return; }
      onFrame(f, ws);
    };
    ws.onclose = function () { if (S.ws === ws) dropped(); };
  }

  function dropped() {
    var ws = S.ws;
    S.ws = null;
    S.connected = false;
    if (ws) { ws.onclose = ws.onmessage = null; try { ws.close(); } catch (e) { /* already closed */ } }
    clearInterval(S.pingTimer);
    clearTimeout(S.pongTimer);
    hideTyping();
    hideAgentTyping();
    S.typingSentAt = 0;
    renderConn();
    S.queue.forEach(function (item) { var li = S.seen[item.id]; if (li) status(li, t("queued")); });
    scheduleRetry();
  }

  function scheduleRetry() {
    if (!S.wanted) return;
    var left = S.limitedUntil - Date.now();
    if (left > 0) {                                            // told to come back later: not sooner
      clearTimeout(S.retryTimer);
      S.retryTimer = setTimeout(connect, left + Math.random() * 5000);
      return;
    }
    S.attempts++;
    var cap = Math.min(30000, 500 * Math.pow(2, S.attempts));   // 1 s, 2 s, 4 s ... 30 s
    clearTimeout(S.retryTimer);
    S.retryTimer = setTimeout(connect, cap / 2 + Math.random() * cap / 2);
    if (!S.everOpened && S.attempts >= 3) startPolling();      // sockets blocked here: HTTP fallback
  }

  function renderConn() {
    var left = (S.limitedUntil - Date.now()) / 1000;
    conn.textContent = left > 0 ? t("limited", {x: waitText(left)}) : t("offline");
    conn.hidden = left > 0 ? !S.wanted : S.connected || !S.everOpened || !S.wanted;
  }

  // The gateway refused a new conversation (429, too many from this address): say so, wait.
  function limited(seconds) {
    S.limitedUntil = Date.now() + Math.min(Math.max(+seconds || 60, 1), 3600) * 1000;
    renderConn();
    clearTimeout(S.limitTimer);
    S.limitTimer = setTimeout(renderConn, S.limitedUntil - Date.now() + 100);
  }

  function onFrame(f, ws) {
    if (f.type === "welcome") {
      if (S.cid && f.conversation_id !== S.cid) clearConversation();   // saved one unknown: a new one
      setCid(f.conversation_id);
      S.connected = true;
      S.everOpened = true;
      S.attempts = 0;
      S.limitedUntil = 0;
      S.convState = f.state || "bot";
      stopPolling();
      renderConn();
      ws.send(JSON.stringify({type: "history", after: S.histCount}));
      flush();
      clearInterval(S.pingTimer);
      S.pingTimer = setInterval(function () {
        if (S.ws !== ws) return;
        ws.send(JSON.stringify({type: "ping"}));
        clearTimeout(S.pongTimer);
        S.pongTimer = setTimeout(function () { if (S.ws === ws) dropped(); }, 10000);
      }, 25000);
    } else if (f.type === "history") {
      onHistory(f);
    } else if (f.type === "resync") {   // the gateway's feed reconnected: messages may be missing
      ws.send(JSON.stringify({type: "history", after: S.histCount}));
    } else if (f.type === "message" && f.message) {
      addMessage(f.message, "live");
    } else if (f.type === "ack") {
      onAck(f);
    } else if (f.type === "typing" && f.role === "agent") {
      onAgentTyping(f);
    } else if (f.type === "error" && f.for === "typing") {
      /* a typing signal refused (over budget): the indicator is a courtesy, nothing to say */
    } else if (f.type === "error" && f.message_id) {
      onRefused(f.message_id, f.status, f.retry_after_s);
    } else if (f.type === "error" && f.status === 429) {       // no budget for a new conversation
      limited(f.retry_after_s);
    } else if (f.type === "pong") {
      clearTimeout(S.pongTimer);
    }
  }

  function onHistory(f) {
    var first = !S.historyLoaded;
    (f.messages || []).forEach(function (m) { addMessage(m, first ? "history" : "live"); });
    S.histCount = (f.after || 0) + (f.messages || []).length;
    if (first) {
      S.historyLoaded = true;
      scrollDown();
      mark("shop-support-connected");
    }
  }

  function setCid(cid) {
    if (cid === S.cid) return;
    S.cid = cid;
    LS.set("cid", cid);
  }

  // HTTP fallback, for networks where the socket never opens: post messages, poll the history.
  function startPolling() {
    if (S.polling) return;
    S.polling = setInterval(poll, 4000);
    poll();
  }
  function stopPolling() { clearInterval(S.polling); S.polling = 0; }
  function poll() {
    conversationId().then(function (cid) {
      return getJSON(apiUrl("api/chat/conversations/" + cid + "/messages?after=" + S.histCount));
    }).then(function (r) { onHistory(r); flush(); }, function (e) {
      if (e.status === 404) { setCid(""); clearConversation(); }
      if (e.status === 429 && !S.cid) { stopPolling(); limited(e.body && e.body.retry_after_s); scheduleRetry(); }
    });
  }
  function conversationId() {
    if (S.cid) return Promise.resolve(S.cid);
    return postJSON(apiUrl("api/chat/conversations"), {lang: LANG}).then(function (r) {
      setCid(r.conversation_id);
      return S.cid;
    });
  }

  // -- availability header and offline form ------------------------------------------------

  function waitText(s) {
    if (!s) return t("fewMinutes");
    var m = Math.round(s / 60);
    return m < 1 ? t("underMinute") : m < 60 ? m + " min" : Math.round(m / 60) + " h";
  }

  function loadAvailability() {
    if (Date.now() - S.availAt < 60000) return;
    S.availAt = Date.now();
    getJSON(apiUrl("api/chat/availability?lang=" + LANG)).then(function (a) {
      S.avail = a;
      dot.className = "dot " + a.status;
      availText.textContent = a.status === "human" ? t("human", {x: waitText(a.typical_wait_s)})
        : a.status === "closed" ? t("closed", {x: a.next_opening || ""}) : t("busy");
      leaveBtn.hidden = a.status !== "busy" || !ticketBox.hidden;
      if (a.status === "closed") showTicket(false);
    }, function () { S.availAt = 0; });
  }

  function field(name, label, control, optional) {
    var errId = uid("err");
    control.id = uid(name);
    control.name = name;
    control.setAttribute("aria-describedby", errId);
    if (!optional) control.setAttribute("aria-required", "true");
    var err = el("p", {class: "err", id: errId, hidden: true});
    control.addEventListener("blur", function () { if (control.value) validate(control, err); });
    control.addEventListener("input", function () { if (control.getAttribute("aria-invalid")) validate(control, err); });
    return {control: control, err: err, node: el("div", {class: "field"},
      [el("label", {for: control.id, text: label}), control, err])};
  }

  function validate(control, err, serverMessage) {
    var v = control.value.trim(), msg = serverMessage || "";
    if (!msg && control.name === "email" && !/^[^\s@]+@[^\s@]+\.[^\s@]{2,}$/.test(v)) msg = t("emailBad");
    if (!msg && control.name === "message" && !v) msg = t("msgMissing");
    err.textContent = msg;
    err.hidden = !msg;
    if (msg) control.setAttribute("aria-invalid", "true"); else control.removeAttribute("aria-invalid");
    return !msg;
  }

  function ticketDone(tk) {
    ticketBox.textContent = "";
    ticketBox.appendChild(el("div", {class: "card", role: "status"}, [el("p", {class: "done"}, [
      el("strong", {text: t("tkDone", {id: tk.ticket_id})}), t("tkPromise", {p: tk.promise})])]));
    ticketBox.hidden = false;
    leaveBtn.hidden = true;
  }

  function showTicket(focus) {
    if (S.ticket && S.ticket.cid === S.cid) { ticketDone(S.ticket); return; }
    leaveBtn.hidden = true;
    if (!ticketBox.hidden) return;
    var email = field("email", t("email"), el("input", {type: "email", autocomplete: "email", inputmode: "email"}));
    var order = field("order", t("order"), el("input", {type: "text", autocomplete: "off", maxlength: "40"}), true);
    var message = field("message", t("message"), el("textarea", {rows: "3", maxlength: String(MAX_CHARS)}));
    // a photo of the damaged item goes with the message: sent into the conversation the ticket
    // is attached to, where the agent's ticket view shows it
    var photo = field("photo", t("tkPhoto"), el("input", {type: "file", accept: FILE_TYPES}), true);
    var submit = el("button", {class: "primary", type: "submit", text: t("tkSend")});
    var formStatus = el("p", {class: "err", role: "alert"});
    var titleId = uid("tk");
    var hours = S.avail && S.avail.ticket_reply_hours;
    var form = el("form", {class: "card", novalidate: true, "aria-labelledby": titleId}, [
      el("h3", {id: titleId, text: t("tkTitle")}),
      hours ? el("p", {class: "hint", text: t("tkHint", {h: hours})}) : null,
      email.node, order.node, message.node, photo.node, submit, formStatus]);
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      formStatus.textContent = "";
      var ok = [email, message].map(function (f) { return validate(f.control, f.err); });
      if (!ok[0] || !ok[1]) { (ok[0] ? message : email).control.focus(); return; }
      submit.disabled = true;
      submit.textContent = t("tkSending");
      conversationId().then(function (cid) {
        return postJSON(apiUrl("api/chat/conversations/" + cid + "/tickets"), {email: email.control.value.trim(),
          order_number: order.control.value.trim(), message: message.control.value.trim(), lang: LANG});
      }).then(function (tk) {
        S.ticket = {cid: S.cid, ticket_id: tk.ticket_id, promise: tk.promise};
        LS.set("ticket", S.ticket);
        var picked = photo.control.files && photo.control.files[0];
        ticketDone(S.ticket);
        if (picked) sendFile(picked);
        announce(t("tkDone", {id: tk.ticket_id}) + " " + t("tkPromise", {p: tk.promise}));
      }, function (err) {
        submit.disabled = false;
        submit.textContent = t("tkSend");
        var bad = err.body && err.body.field, wait = waitText(err.body && err.body.retry_after_s);
        var f = bad === "email" ? email : bad === "message" ? message : bad === "order_number" ? order : null;
        if (f) {
          validate(f.control, f.err, f === email ? t("emailBad") : f === order ? t("orderBad", {example: err.body.example || ""}) : t("msgMissing"));
          f.control.focus();
        } else if (err.status === 429) {                       // no new conversation, or no more tickets
          formStatus.textContent = S.cid ? t("tkLimited", {x: wait}) : t("limited", {x: wait});
        } else formStatus.textContent = t("tkError");
      });
    });
    ticketBox.textContent = "";
    ticketBox.appendChild(form);
    ticketBox.hidden = false;
    if (focus) { body.scrollTop = 0; email.control.focus(); }
  }

  // -- FAQ suggestions while typing --------------------------------------------------------

  function onTyping() {
    autosize();
    shopperTyping();
    clearTimeout(S.sugTimer);
    var q = input.value.trim();
    if (q.length < 4 || q.charAt(0) === "/") { hideSuggestions(); return; }
    S.sugTimer = setTimeout(function () { suggest(q); }, 350);
  }

  function suggest(q) {
    var n = ++S.sugSeq;
    getJSON(apiUrl("api/search?k=3&lang=" + LANG + "&q=" + encodeURIComponent(q.slice(0, 1000)))).then(function (r) {
      if (n !== S.sugSeq || input.value.trim() !== q) return;
      var hits = (r.hits || []).filter(function (h) { return h.band !== "none"; }).slice(0, 3);
      if (!hits.length) { hideSuggestions(); return; }
      sug.textContent = "";
      var ul = el("ul");
      hits.forEach(function (h) {
        var answerId = uid("sug");
        var answer = el("div", {class: "sug-a", id: answerId, hidden: true});
        var q_ = el("button", {class: "sug-q", type: "button", "aria-expanded": "false", "aria-controls": answerId,
          onclick: function () {
            var open = answer.hidden;
            if (open && !answer.firstChild) answer.appendChild(markdownNodes(h.answer));
            answer.hidden = !open;
            q_.setAttribute("aria-expanded", String(open));
          }}, [el("span", {text: h.title}), icon("down")]);
        ul.appendChild(el("li", {}, [q_, answer]));
      });
      sug.appendChild(el("p", {class: "sug-h"}, [icon("book"), t("sugTitle")]));
      sug.appendChild(ul);
      if (sug.hidden) announce(t("sugFound", {n: hits.length}));
      sug.hidden = false;
    }, function () { /* suggestions are a bonus: stay quiet */ });
  }

  function hideSuggestions() { S.sugSeq++; clearTimeout(S.sugTimer); sug.hidden = true; sug.textContent = ""; }

  // -- proactive greeting ------------------------------------------------------------------

  function proactive() {
    var rules;
    try { rules = JSON.parse(OPT.proactive || "[]"); } catch (e) { return; }
    rules = Array.isArray(rules) ? rules : [rules];
    var path = location.pathname;
    var rule = rules.filter(function (r) {
      if (!r || typeof r.path !== "string") return false;
      if (r.path.charAt(0) !== "^") return path.indexOf(r.path) === 0;
      try { return new RegExp(r.path).test(path); } catch (e) { return false; }
    })[0];
    var text = rule && (rule[LANG] || rule.text || rule.fr || rule.en);
    if (!text) return;
    if (SS.get("greeted", false)) { host.setAttribute("data-proactive", "already-shown"); return; }
    host.setAttribute("data-proactive", "scheduled");
    setTimeout(function () {
      if (S.open) { host.setAttribute("data-proactive", "skipped"); return; }
      SS.set("greeted", true);
      S.greeting = String(text);
      greetText.textContent = S.greeting;
      greet.hidden = false;
      var intro = body.querySelector(".intro .bubble");
      intro.textContent = S.greeting;
      S.unread++;
      renderBadge();
      announce(S.greeting);
      host.setAttribute("data-proactive", "shown");
    }, Math.max(0, Number(rule.after) || 0) * 1000);
  }

  function hideGreeting() {
    if (greet.hidden) return;
    greet.hidden = true;
    S.unread = Math.max(0, S.unread - 1);
    renderBadge();
  }

  // -- start ---------------------------------------------------------------------------------

  function mark(name) { try { performance.mark(name); } catch (e) { /* old browsers */ } }

  function start() {
    build();
    S.queue.forEach(function (item) { renderQueued(item); });
    if (S.open) setOpen(true, false);
    else if (S.cid || S.queue.length) connect();   // a conversation to resume: badge and history
    renderBadge();
    proactive();
    W.addEventListener("offline", function () { if (S.ws) dropped(); });
    W.addEventListener("online", function () {          // back online: retry now, not after the back-off
      if (!S.wanted || S.connected) return;
      var stale = S.ws;
      S.ws = null;
      if (stale) { stale.onclose = stale.onmessage = null; try { stale.close(); } catch (e) { /* closed */ } }
      S.attempts = 0;
      connect();
    });
    D.addEventListener("visibilitychange", function () { if (!D.hidden && S.wanted && !S.ws) connect(); });
    W.addEventListener("storage", function (e) {          // another tab started the conversation
      if (e.key === KEY + "cid" && e.newValue && !S.cid) {
        S.cid = JSON.parse(e.newValue);
        if (S.ws) { S.ws.close(); }
      }
    });
    W.ShopSupport = {
      version: VERSION,
      open: function () { setOpen(true, true); },
      close: function () { setOpen(false, false); },
      toggle: function () { setOpen(!S.open, true); }
    };
    mark("shop-support-ready");
  }

  if (D.body) start(); else D.addEventListener("DOMContentLoaded", start);
})();
