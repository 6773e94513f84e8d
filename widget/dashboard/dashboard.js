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
  function secs(stats) {
    var s = stats && (stats.mean_s !== undefined ? stats.mean_s : stats.p50_le_s);
    if (missing(s)) { return "—"; }
    var unit = function (value, name, digits) {
      return I18N.number(value, {style: "unit", unit: name, unitDisplay: "short", maximumFractionDigits: digits || 0});
    };
    if (s < 90) { return unit(Math.round(s), "second"); }
    if (s < 5400) { return unit(Math.round(s / 60), "minute"); }
    return unit(s / 3600, "hour", 1);
  }
  function day(iso) { return I18N.date(iso + "T12:00:00", {day: "numeric", month: "long", year: "numeric"}); }

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

  function tiles(k) {
    var list = $("tiles");
    list.textContent = "";
    [
      ["conversations", num(k.volume.conversations), T("tiles.conversations_hint")],
      ["contained", pct(k.containment.rate), T("tiles.contained_hint")],
      ["handoff", pct(k.handoff.rate), I18N.tn("tiles.handoff_hint", k.handoff.conversations_handed_off)],
      ["fcr", pct(k.fcr.rate), T("tiles.fcr_hint")],
      ["csat", pct(k.csat.score), I18N.tn("tiles.csat_hint", k.csat.n)],
      ["nps", count(k.nps.score), T("tiles.nps_hint")],
      ["ces", num(k.ces.score), T("tiles.ces_hint")],
      ["sla", pct(k.sla.rate), I18N.tn("tiles.sla_hint", k.sla.missed)],
      ["bot_first", secs(k.first_response.bot), T("tiles.bot_first_hint")],
      ["human_first", secs(k.first_response.human), T("tiles.human_first_hint")],
      ["thumbs", pct(k.thumbs.up_rate), T("tiles.thumbs_hint", {up: count(k.thumbs.up), down: count(k.thumbs.down)})],
      ["faq", pct(k.faq_bands.rates && k.faq_bands.rates.answer), T("tiles.faq_hint")]
    ].forEach(function (t) {
      var li = el("li", "tile");
      li.dataset.tile = t[0];
      li.appendChild(el("span", "label", T("tiles." + t[0])));
      li.appendChild(el("span", "value", t[1]));
      li.appendChild(el("span", "hint", t[2]));
      list.appendChild(li);
    });
  }

  function chart(days) {
    var box = $("chart");
    box.textContent = "";
    var w = 1000, h = 220, pad = 28;
    var max = Math.max.apply(null, days.map(function (d) { return d.conv; }).concat([1]));
    var svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("viewBox", "0 0 " + w + " " + h);
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", T("chart.label", {days: count(days.length), max: count(max)}));
    var x = function (i) { return pad + (days.length < 2 ? 0 : i * (w - 2 * pad) / (days.length - 1)); };
    var y = function (v) { return h - pad - v * (h - 2 * pad) / max; };
    var axis = document.createElementNS(SVG, "line");
    [["x1", pad], ["y1", h - pad], ["x2", w - pad], ["y2", h - pad], ["stroke", "#8a939c"]].forEach(function (a) { axis.setAttribute(a[0], a[1]); });
    svg.appendChild(axis);
    [["conv", "#1f4e79"], ["conv_contained", "#1d6b3a"], ["conv_handoff", "#b3541e"]].forEach(function (s) {
      var line = document.createElementNS(SVG, "polyline");
      line.setAttribute("fill", "none");
      line.setAttribute("stroke", s[1]);
      line.setAttribute("stroke-width", "3");
      line.setAttribute("class", "series series--" + s[0]);
      line.setAttribute("points", days.map(function (d, i) { return x(i) + "," + y(d[s[0]] || 0); }).join(" "));
      svg.appendChild(line);
    });
    var label = document.createElementNS(SVG, "text");
    label.setAttribute("x", 4); label.setAttribute("y", pad - 8); label.setAttribute("font-size", "14");
    label.textContent = count(max);
    svg.appendChild(label);
    box.appendChild(svg);
  }

  function row(cells) {
    var tr = el("tr");
    cells.forEach(function (c, i) {
      var cell = el(i === 0 ? "th" : "td", "", c);
      if (i === 0) { cell.scope = "row"; }
      tr.appendChild(cell);
    });
    return tr;
  }

  var LOW_DATA = 10;   // answers under which a rate is shown as "too few to trust"

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

  function trend(v) {
    return missing(v) ? T("matrix.new")
      : I18N.number(v / 100, {style: "percent", maximumFractionDigits: 0, signDisplay: "exceptZero"});
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
        list.appendChild(el("li", r.few_data ? "few" : "", known("reasons", r.reason) + " (" + count(r.volume) + ")"));
      });
      if (!list.children.length) { list.appendChild(el("li", "none", "—")); }
      cell.appendChild(list);
      box.appendChild(cell);
    });
    var unknown = rows.filter(function (r) { return !r.irritant_level; });
    if (unknown.length) {
      box.appendChild(el("p", "measure", T("matrix.few_data", {reasons: unknown.map(function (r) { return known("reasons", r.reason); }).join(", ")})));
    }
  }

  /* A rate with how many answers it rests on; under 10 it is flagged as too few to trust. */
  function rated(rate, answers) {
    if (missing(rate)) return pct(rate);
    return I18N.tn(answers < LOW_DATA ? "matrix.rate_few" : "matrix.rate_n", answers || 0, {rate: pct(rate)});
  }

  function reasons(body) {
    matrix(body.rows);
    fill("reasons", body.rows.map(function (r) {
      return [known("reasons", r.reason), count(r.volume), trend(r.trend), pct(r.containment), rated(r.csat, r.csat_answers), pct(r.irritant),
              known("matrix", r.value), action(r.action)];
    }), T("matrix.empty"));
  }

  function topics(body) {
    $("unanswered-status").textContent = I18N.tn("unanswered.missed", body.questions);
    fill("topics", body.topics.map(function (t) {
      var why = WHY.filter(function (k) { return t.why[k]; })
        .map(function (k) { return T("unanswered.why_" + k, {n: count(t.why[k])}); }).join(", ");
      return [t.label, count(t.count), why, t.reason ? known("reasons", t.reason) : "—", t.examples.slice(0, 4).join(" · ")];
    }), T("unanswered.empty"));
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
        rows.push([i ? "" : e.entry, name, count(v.shown), T("ab.up_of", {rate: pct(v.up_rate), votes: count(v.votes)}),
                   pct(v.containment), verdict]);
      });
    });
    fill("variants", rows, T("ab.empty"));
  }

  function verbatims(body) {
    fill("verbatims", body.verbatims.slice(0, 50).map(function (v) {
      return [v.reason === "-" ? "—" : known("reasons", v.reason), v.survey.toUpperCase(),
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
    var saved = !token() ? Promise.resolve() : fetch("/api/agent/language", {
      method: "POST", body: JSON.stringify({lang: lang}),
      headers: {Authorization: "Bearer " + token(), "Content-Type": "application/json"}
    }).then(function (res) { if (!res.ok) { throw new Error("HTTP " + res.status); } });
    return saved.then(function () { return I18N.load(lang); }).then(function () {
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
