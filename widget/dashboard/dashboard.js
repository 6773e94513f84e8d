/* The manager's dashboard: KPI tiles, conversations per day, the contact-reason matrix, what the
   FAQ is missing, A/B tests of answers and survey comments. Everything from /api/admin/analytics
   (manager or admin token in sessionStorage); text only via textContent, charts drawn as SVG
   nodes, CSV downloaded with the token (fetch + blob). No framework, no inline code (strict CSP).
   Texts: none here; they come from locales/{fr,en}.yml through /static/console/i18n.js (`T()`),
   in the account's language, else the browser's (French unless "en"); numbers and dates are
   formatted for it (Intl, fr-FR / en-GB). */
(function () {
  "use strict";
  var KEY = "dashboard.token";
  var $ = function (id) { return document.getElementById(id); };
  var SVG = "http://www.w3.org/2000/svg";
  var ROLES = ["manager", "admin"];
  var ACTIONS = ["keep_human", "simplify", "automate", "eliminate", "measure"];
  var WHY = ["none", "suggest", "thumbs_down"];
  var I18N = new window.SupportI18n("dashboard");
  var last = {};      // the last answers, drawn again when the language changes

  function T(key, fields) { return I18N.t(key, fields); }

  /* The text of a code (action, band, level), or the code itself if it has none. */
  function known(section, code) {
    return code && I18N.texts[section + "." + code] !== undefined ? T(section + "." + code) : String(code || "—");
  }

  /* A contact reason by its name in the taxonomy (locales `reasons:`), never its code: a leaf
     the texts do not know is named by its category, else "other reason"; none is "—". */
  function reasonName(code) {
    if (!code || code === "-") { return "—"; }
    var category = String(code).split("/")[0];
    if (I18N.texts["reasons." + code] !== undefined) { return I18N.texts["reasons." + code]; }
    if (I18N.texts["reasons." + category] !== undefined) { return I18N.texts["reasons." + category]; }
    return T("reason_other");
  }

  function token() { return sessionStorage.getItem(KEY); }

  function api(path, params) {
    var query = new URLSearchParams(params || {}).toString();
    return fetch(path + (query ? "?" + query : ""), {headers: {Authorization: "Bearer " + token()}})
      .then(function (res) {
        if (res.status === 401 || res.status === 403) { signOut(res.status === 403 ? "login.denied" : ""); throw new Error("auth"); }
        if (!res.ok) { throw new Error("HTTP " + res.status); }
        return res.json();
      });
  }

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }

  function missing(v) { return v === null || v === undefined; }
  function count(v) { return missing(v) ? "—" : I18N.number(v); }
  function pct(v) { return missing(v) ? "—" : I18N.number(v / 100, {style: "percent", maximumFractionDigits: 0}); }
  function num(v) { return missing(v) ? "—" : I18N.number(v, {maximumFractionDigits: 1}); }
  /* A duration in seconds, in the unit a person reads it in. */
  function secs(s) {
    if (missing(s)) { return "—"; }
    var unit = function (value, name, digits) {
      return I18N.number(value, {style: "unit", unit: name, unitDisplay: "short", maximumFractionDigits: digits || 0});
    };
    if (s < 90) { return unit(Math.round(s), "second"); }
    if (s < 5400) { return unit(Math.round(s / 60), "minute"); }
    return unit(s / 3600, "hour", 1);
  }
  function day(iso) { return I18N.date(iso + "T12:00:00", {day: "numeric", month: "long", year: "numeric"}); }
  function shortDay(iso) { return I18N.date(iso + "T12:00:00", {day: "numeric", month: "short"}); }

  function filters() {
    var days = parseInt($("period").value, 10);
    var end = new Date();
    var start = new Date(end.getTime() - (days - 1) * 86400000);
    var iso = function (d) { return d.toISOString().slice(0, 10); };
    var f = {start: iso(start), end: iso(end)};
    if ($("channel").value) { f.channel = $("channel").value; }
    if ($("lang").value) { f.lang = $("lang").value; }
    return f;
  }

  /* One tile: label, value (its raw API number in data-raw), explanation, and for a rate resting
     on answers their count and, under 10 (the API's low_data), a "too few answers" mark. */
  function tile(name, label, value, raw, hint, answers) {
    var li = el("li", "tile");
    li.dataset.tile = name;
    li.appendChild(el("span", "label", label));
    var v = el("span", "value", value);
    v.dataset.raw = missing(raw) ? "" : String(raw);
    li.appendChild(v);
    li.appendChild(el("span", "hint", hint));
    if (answers) {
      li.appendChild(el("span", "count", answers.text));
      if (answers.low) {
        li.classList.add("tile--low");
        li.appendChild(el("span", "low", T("tiles.low_data")));
      }
    }
    return li;
  }

  function counted(key, block) { return {text: I18N.tn(key, block.n || 0), low: !!block.low_data}; }

  /* A response time tile: the median as the value, the p90 in the explanation (never a mean). */
  function timeTile(name, label, stats, hintKey, countKey) {
    var hint = T(hintKey, {p90: secs(stats && stats.p90_s)});
    return tile(name, label, secs(stats && stats.median_s), stats && stats.median_s, hint,
                stats ? {text: I18N.tn(countKey, stats.n), low: false} : null);
  }

  function tiles(k) {
    var list = $("tiles");
    list.textContent = "";
    var frt = k.first_response;
    [
      tile("conversations", T("tiles.conversations"), num(k.volume.conversations), k.volume.conversations,
           T("tiles.conversations_hint")),
      tile("bot_resolution", T("tiles.bot_resolution"), pct(k.bot_resolution.rate), k.bot_resolution.rate,
           T("tiles.bot_resolution_hint")),
      tile("contained", T("tiles.contained"), pct(k.containment.rate), k.containment.rate, T("tiles.contained_hint")),
      tile("handoff", T("tiles.handoff"), pct(k.handoff.rate), k.handoff.rate,
           I18N.tn("tiles.handoff_hint", k.handoff.conversations_handed_off),
           {text: I18N.tn("tiles.reopened", k.volume.handoffs_reopened || 0), low: false}),   // closed too soon
      tile("fcr", T("tiles.fcr"), pct(k.fcr.rate), k.fcr.rate, T("tiles.fcr_hint"), counted("tiles.contacts", k.fcr)),
      tile("csat", T("tiles.csat"), pct(k.csat.score), k.csat.score, T("tiles.csat_hint"), counted("tiles.answers", k.csat)),
      tile("nps", T("tiles.nps"), count(k.nps.score), k.nps.score, T("tiles.nps_hint"), counted("tiles.answers", k.nps)),
      tile("ces", T("tiles.ces"), num(k.ces.score), k.ces.score, T("tiles.ces_hint"), counted("tiles.answers", k.ces)),
      tile("sla", T("tiles.sla"), pct(k.sla.rate), k.sla.rate, I18N.tn("tiles.sla_hint", k.sla.missed)),
      timeTile("bot_first", T("tiles.bot_first"), frt.bot, "tiles.bot_first_hint", "tiles.conversations_n"),
      timeTile("chat_first", T("tiles.chat_first"), frt.human_chat, "tiles.chat_first_hint", "tiles.chats"),
      timeTile("ticket_first", T("tiles.ticket_first"), frt.human_ticket, "tiles.ticket_first_hint", "tiles.tickets"),
      tile("thumbs", T("tiles.thumbs"), pct(k.thumbs.up_rate), k.thumbs.up_rate,
           T("tiles.thumbs_hint", {up: count(k.thumbs.up), down: count(k.thumbs.down)}), counted("tiles.votes", k.thumbs)),
      tile("faq", T("tiles.faq"), pct(k.faq_bands.rates && k.faq_bands.rates.answer),
           k.faq_bands.rates && k.faq_bands.rates.answer, T("tiles.faq_hint"))
    ].forEach(function (li) { list.appendChild(li); });
  }

  function svg(tag, attrs, parent) {
    var node = document.createElementNS(SVG, tag);
    Object.keys(attrs || {}).forEach(function (a) { node.setAttribute(a, attrs[a]); });
    if (parent) { parent.appendChild(node); }
    return node;
  }

  /* A round step for about four y-axis intervals: 1, 2 or 5 times a power of ten. */
  function niceStep(max) {
    var raw = Math.max(1, max / 4), power = Math.pow(10, Math.floor(Math.log10(raw)));
    var step = [1, 2, 5, 10].map(function (m) { return m * power; }).filter(function (v) { return v >= raw; })[0];
    return Math.max(1, Math.round(step));
  }

  var SERIES = [["conv", "#1f4e79"], ["conv_bot_resolved", "#1d6b3a"], ["conv_handoff", "#b3541e"]];

  /* Conversations per day, drawn as SVG nodes: dated x axis (the manager's language, Intl), y axis
     with values, and every day a point that says its figures: a tooltip on hover and on focus,
     the same words as its accessible name; one tab stop, arrow keys move from day to day. */
  function chart(days) {
    var box = $("chart");
    box.textContent = "";
    if (!days.length) { return; }
    var w = 1000, h = 270, left = 56, right = 20, top = 34, bottom = 40;
    var peak = Math.max.apply(null, days.map(function (d) { return d.conv || 0; }).concat([1]));
    var step = niceStep(peak), max = Math.ceil(peak / step) * step;
    var x = function (i) { return left + (days.length < 2 ? (w - left - right) / 2 : i * (w - left - right) / (days.length - 1)); };
    var y = function (v) { return h - bottom - v * (h - top - bottom) / max; };
    var root = svg("svg", {viewBox: "0 0 " + w + " " + h, role: "group"});
    root.setAttribute("aria-label", T("chart.label", {start: day(days[0].day), end: day(days[days.length - 1].day),
                                                      max: count(peak)}));
    for (var v = 0; v <= max; v += step) {                       // y axis: grid lines and values
      svg("line", {x1: left, x2: w - right, y1: y(v), y2: y(v), stroke: v ? "#e3e7eb" : "#8a939c", "aria-hidden": "true"}, root);
      var label = svg("text", {x: left - 8, y: y(v) + 5, "text-anchor": "end", "font-size": "14", fill: "#4d5660",
                               "class": "tick tick--y", "aria-hidden": "true"}, root);
      label.textContent = count(v);
    }
    var yName = svg("text", {x: 4, y: 14, "text-anchor": "start", "font-size": "13", fill: "#4d5660",
                             "aria-hidden": "true"}, root);
    yName.textContent = T("chart.y_axis");
    var every = Math.max(1, Math.ceil(days.length / 8));         // x axis: about eight dates, the last day always
    days.forEach(function (d, i) {
      if ((days.length - 1 - i) % every) { return; }
      var anchor = days.length > 1 && i === 0 ? "start" : (i === days.length - 1 && days.length > 1 ? "end" : "middle");
      var t = svg("text", {x: x(i), y: h - bottom + 22, "text-anchor": anchor, "font-size": "14", fill: "#4d5660",
                           "class": "tick tick--x", "aria-hidden": "true"}, root);
      t.textContent = shortDay(d.day);
    });
    SERIES.forEach(function (s) {
      svg("polyline", {fill: "none", stroke: s[1], "stroke-width": "3", "class": "series series--" + s[0], "aria-hidden": "true",
                       points: days.map(function (d, i) { return x(i) + "," + y(d[s[0]] || 0); }).join(" ")}, root);
    });
    var tip = el("div", "tip");
    tip.setAttribute("aria-hidden", "true");                      // the point's own name says it
    tip.hidden = true;
    var slot = (w - left - right) / Math.max(1, days.length - 1);
    var points = days.map(function (d, i) {
      var text = T("chart.point", {date: day(d.day), all: count(d.conv || 0), bot: count(d.conv_bot_resolved || 0),
                                   handoff: count(d.conv_handoff || 0)});
      var g = svg("g", {"class": "point", role: "img", tabindex: i === days.length - 1 ? "0" : "-1", "aria-label": text}, root);
      g.dataset.day = d.day;
      svg("title", {}, g).textContent = text;
      svg("rect", {x: x(i) - slot / 2, y: top, width: slot, height: h - top - bottom, "class": "hit"}, g);
      SERIES.forEach(function (s) { svg("circle", {cx: x(i), cy: y(d[s[0]] || 0), r: 4, fill: s[1], "class": "dot"}, g); });
      var show = function () {
        tip.textContent = text;
        tip.hidden = false;
        tip.style.left = Math.min(80, Math.max(0, (x(i) / w) * 100 - 10)) + "%";
      };
      g.addEventListener("mouseenter", show);
      g.addEventListener("focus", show);
      g.addEventListener("mouseleave", function () { if (document.activeElement !== g) { tip.hidden = true; } });
      g.addEventListener("blur", function () { tip.hidden = true; });
      return g;
    });
    root.addEventListener("keydown", function (e) {
      var at = points.indexOf(document.activeElement);
      if (at < 0) { return; }
      var to = {ArrowLeft: at - 1, ArrowRight: at + 1, Home: 0, End: points.length - 1}[e.key];
      if (to === undefined) { return; }
      e.preventDefault();
      to = Math.max(0, Math.min(points.length - 1, to));
      points[at].setAttribute("tabindex", "-1");
      points[to].setAttribute("tabindex", "0");
      points[to].focus();
    });
    box.appendChild(root);
    box.appendChild(tip);
  }

  function row(cells) {
    var tr = el("tr");
    cells.forEach(function (c, i) {
      var cell = el(i === 0 ? "th" : "td", "", c instanceof Node ? null : c);
      if (c instanceof Node) { cell.appendChild(c); }
      if (i === 0) { cell.scope = "row"; }
      tr.appendChild(cell);
    });
    return tr;
  }

  function fill(id, rows, empty) {
    var body = $(id);
    body.textContent = "";
    if (!rows.length) {
      var tr = el("tr");
      var td = el("td", "empty", empty);
      td.colSpan = body.parentNode.querySelectorAll("thead th").length;
      tr.appendChild(td);
      body.appendChild(tr);
    }
    rows.forEach(function (cells) { body.appendChild(row(cells)); });
  }

  /* Against the previous period: "new" only for a reason absent from a period that has data;
     nothing when there is nothing to compare with. */
  function trend(r) {
    if (r.new) { return T("matrix.new"); }
    return missing(r.trend) ? "—"
      : I18N.number(r.trend / 100, {style: "percent", maximumFractionDigits: 0, signDisplay: "exceptZero"});
  }

  function action(code) { return ACTIONS.indexOf(code) >= 0 ? T("actions." + code) : String(code || "—"); }

  function matrix(rows) {
    var box = $("matrix");
    box.textContent = "";
    [["high", "low", "keep_human"], ["high", "high", "simplify"], ["low", "low", "automate"],
     ["low", "high", "eliminate"]].forEach(function (q) {
      var levels = {action: action(q[2]), value: T("matrix." + q[0]), irritant: T("matrix." + q[1])};
      var cell = el("div", "quadrant quadrant--" + q[2]);
      cell.setAttribute("role", "group");
      cell.setAttribute("aria-label", T("matrix.quadrant", levels));
      cell.appendChild(el("h4", "", levels.action));
      cell.appendChild(el("p", "axis", T("matrix.axis", levels)));
      var list = el("ul");
      rows.filter(function (r) { return r.value === q[0] && r.irritant_level === q[1]; }).forEach(function (r) {
        list.appendChild(el("li", r.few_data ? "few" : "", reasonName(r.reason) + " (" + count(r.volume) + ")"));
      });
      if (!list.children.length) { list.appendChild(el("li", "none", "—")); }
      cell.appendChild(list);
      box.appendChild(cell);
    });
    var unknown = rows.filter(function (r) { return !r.irritant_level; });
    if (unknown.length) {
      box.appendChild(el("p", "measure", T("matrix.few_data", {reasons: unknown.map(function (r) { return reasonName(r.reason); }).join(", ")})));
    }
  }

  /* A rate with how many answers it rests on; flagged as too few when the API says low_data. */
  function rated(rate, answers, low) {
    if (missing(rate)) return pct(rate);
    return I18N.tn(low ? "matrix.rate_few" : "matrix.rate_n", answers || 0, {rate: pct(rate)});
  }

  function reasons(body) {
    matrix(body.rows);
    fill("reasons", body.rows.map(function (r) {
      return [reasonName(r.reason), count(r.volume), trend(r), pct(r.bot_resolution),
              rated(r.csat, r.csat_answers, r.csat_low_data), pct(r.irritant), known("matrix", r.value), action(r.action)];
    }), T("matrix.empty"));
    var previous = body.previous;
    var note = $("trend-note");
    note.hidden = !(previous && !previous.conversations);
    note.textContent = note.hidden ? "" : T("matrix.no_previous", {start: day(previous.start), end: day(previous.end)});
  }

  function topics(body) {
    $("unanswered-status").textContent = I18N.tn("unanswered.missed", body.questions);
    fill("topics", body.topics.map(function (t) {
      var why = WHY.filter(function (k) { return t.why[k]; })
        .map(function (k) { return T("unanswered.why_" + k, {n: count(t.why[k])}); }).join(", ");
      return [t.label, count(t.count), why, reasonName(t.reason), t.examples.slice(0, 4).join(" · "), studioLink(t)];
    }), T("unanswered.empty"));
  }

  /* The FAQ studio's new entry, prefilled from the topic: its language, reason and up to six of
     the shoppers' own questions (URL-encoded: they are the shoppers' words). */
  function studioLink(t) {
    var params = new URLSearchParams();
    params.set("lang", t.lang === "en" ? "en" : "fr");
    if (t.reason && t.reason !== "-") { params.set("reason", t.reason); }
    (t.examples || []).slice(0, 6).forEach(function (q) { params.append("q", q); });
    var a = el("a", "studio-link", T("unanswered.create"));
    a.href = "/studio?" + params.toString();
    return a;
  }

  function variants(body) {
    var rows = [];
    body.entries.forEach(function (e) {
      var test = e.thumbs_test && e.thumbs_test.significant ? e.thumbs_test
        : (e.containment_test && e.containment_test.significant ? e.containment_test : null);
      Object.keys(e.variants).forEach(function (name, i) {
        var v = e.variants[name];
        var p = test ? I18N.number(test.p_value, {minimumFractionDigits: 3, maximumFractionDigits: 3}) : "";
        var verdict = i ? "" : (test ? T("ab.significant", {p: p}) : T("ab.not_yet"));
        rows.push([i ? "" : e.entry, name, count(v.shown),
                   T(v.low_data ? "ab.up_of_few" : "ab.up_of", {rate: pct(v.up_rate), votes: count(v.votes)}),
                   pct(v.containment), verdict]);
      });
    });
    fill("variants", rows, T("ab.empty"));
  }

  function verbatims(body) {
    fill("verbatims", body.verbatims.slice(0, 50).map(function (v) {
      return [reasonName(v.reason), known("verbatims", v.survey),
              T("verbatims.score_band", {score: count(v.score), band: known("bands", v.band)}), v.text];
    }), T("verbatims.empty"));
  }

  /* Everything from the last answers, in the language now shown. */
  function render() {
    if (last.kpis) { tiles(last.kpis); }
    if (last.daily) { chart(last.daily.days); }
    if (last.reasons) { reasons(last.reasons); }
    if (last.variants) { variants(last.variants); }
    if (last.verbatims) { verbatims(last.verbatims); }
    if (last.topics) { topics(last.topics); }
    if (last.period) { $("status").textContent = T("status.figures", {start: day(last.period.start), end: day(last.period.end)}); }
  }

  function period() { var f = filters(); return {start: f.start, end: f.end}; }

  function download(name, filtered) {
    var params = Object.assign({format: "csv", dialect: I18N.lang === "en" ? "plain" : "excel-fr"},
                               filtered ? filters() : period());   // French Excel: ";", "12,5", a BOM
    if (name === "verbatims" && $("survey").value) { params.survey = $("survey").value; }
    fetch("/api/admin/analytics/" + name + "?" + new URLSearchParams(params), {headers: {Authorization: "Bearer " + token()}})
      .then(function (res) {
        if (!res.ok) { throw new Error("HTTP " + res.status); }
        var disposition = res.headers.get("Content-Disposition") || "";
        var match = /filename="([^"]+)"/.exec(disposition);
        return res.blob().then(function (blob) { return {blob: blob, name: match ? match[1] : name + ".csv"}; });
      })
      .then(function (file) {
        var a = document.createElement("a");
        a.href = URL.createObjectURL(file.blob);
        a.download = file.name;
        a.textContent = file.name;
        a.hidden = true;                  // a link for the click only: never shown, never read out
        document.body.appendChild(a);
        a.click();
        setTimeout(function () { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
      })
      .catch(function (e) { $("status").textContent = T("status.download_failed", {error: e.message}); });
  }

  function loadVerbatims() {
    var params = period();
    if ($("survey").value) { params.survey = $("survey").value; }
    return api("/api/admin/analytics/verbatims", params).then(function (body) { last.verbatims = body; verbatims(body); });
  }

  function refresh() {
    var f = filters();
    var p = period();
    last.period = null;
    $("status").textContent = T("status.loading");
    $("unanswered-status").textContent = T("unanswered.grouping");
    var main = Promise.all([api("/api/admin/analytics/kpis", f), api("/api/admin/analytics/daily", f),
                            api("/api/admin/analytics/reasons", p)])
      .then(function (r) {
        last.kpis = r[0]; last.daily = r[1]; last.reasons = r[2];
        tiles(r[0]); chart(r[1].days); reasons(r[2]);
        last.period = {start: f.start, end: f.end};
        $("status").textContent = T("status.figures", {start: day(f.start), end: day(f.end)});
      });
    var side = Promise.all([
      api("/api/admin/analytics/variants", p).then(function (body) { last.variants = body; variants(body); }),
      loadVerbatims(),
      api("/api/admin/analytics/unanswered", Object.assign({top: 10}, p)).then(function (body) { last.topics = body; topics(body); })
    ]);
    return Promise.all([main, side])
      .catch(function (e) { if (e.message !== "auth") { $("status").textContent = T("status.load_failed", {error: e.message}); } });
  }

  function show(signedIn, email) {
    $("login").hidden = signedIn;
    $("board").hidden = !signedIn;
    $("who-signed-in").hidden = !signedIn;
    $("who-email").textContent = email || "";
  }

  /* `messageKey`: the text to show on the login form ("" for none). */
  function signOut(messageKey) {
    sessionStorage.removeItem(KEY);
    last = {};
    show(false);
    I18N.ensure().then(function () { $("login-error").textContent = messageKey ? T(messageKey) : ""; });
  }

  /* Signed in: the account's language if it chose one, else the one shown, then the figures. */
  function enter() {
    return api("/api/agent/me").then(function (me) {
      var lang = me.lang || I18N.lang || I18N.browserLang();
      return (lang === I18N.lang ? Promise.resolve() : I18N.load(lang)).then(function () {
        $("ui-lang").value = I18N.lang;
        show(true, me.email);
        refresh();
      });
    });
  }

  /* Signed in, the choice is saved on the account (console and dashboard share it); before, it
     only changes this page. */
  function setLanguage(lang) {
    return I18N.choose(lang, token()).then(function () {
      $("ui-lang").value = I18N.lang;
      render();
    }).catch(function (e) {
      $("ui-lang").value = I18N.lang;
      $("status").textContent = T("language.not_saved", {error: e.message});
    });
  }

  $("login-form").addEventListener("submit", function (event) {
    event.preventDefault();
    $("login-error").textContent = "";
    fetch("/api/agent/login", {method: "POST", headers: {"Content-Type": "application/json"},
                               body: JSON.stringify({email: $("email").value, password: $("password").value})})
      .then(function (res) { return res.json().then(function (body) { return {ok: res.ok, body: body}; }); })
      .then(function (r) {
        if (!r.ok) { $("login-error").textContent = T("login.wrong"); return; }
        if (ROLES.indexOf(r.body.agent.role) < 0) { $("login-error").textContent = T("login.denied"); return; }
        sessionStorage.setItem(KEY, r.body.token);
        enter().catch(function () {});
      });
  });
  $("logout").addEventListener("click", function () {
    fetch("/api/agent/logout", {method: "POST", headers: {Authorization: "Bearer " + token()}});
    signOut("");
  });
  $("ui-lang").addEventListener("change", function (e) { setLanguage(e.target.value); });
  ["period", "channel", "lang"].forEach(function (id) { $(id).addEventListener("change", refresh); });
  $("survey").addEventListener("change", function () { loadVerbatims().catch(function () {}); });
  Array.prototype.forEach.call(document.querySelectorAll("button[data-csv]"), function (b) {
    b.addEventListener("click", function () { download(b.dataset.csv, b.dataset.filtered === "1"); });
  });

  if (token()) {
    enter().catch(function () { I18N.ensure().then(function () { $("ui-lang").value = I18N.lang; }); });
  } else {
    show(false);
    I18N.load(I18N.browserLang()).then(function () { $("ui-lang").value = I18N.lang; });
  }
})();
