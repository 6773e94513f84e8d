/* The manager's dashboard: KPI tiles, conversations per day, the contact-reason matrix, what the
   FAQ is missing, A/B tests of answers and survey comments. Everything from /api/admin/analytics
   (manager or admin token in sessionStorage); text only via textContent, charts drawn as SVG
   nodes, CSV downloaded with the token (fetch + blob). No framework, no inline code (strict CSP). */
(function () {
  "use strict";
  var KEY = "dashboard.token";
  var $ = function (id) { return document.getElementById(id); };
  var SVG = "http://www.w3.org/2000/svg";
  var ROLES = ["manager", "admin"];
  var DENIED = "This page is for managers and admins.";
  var ACTIONS = {keep_human: "Keep human", simplify: "Simplify", automate: "Automate",
                 eliminate: "Eliminate the cause", measure: "Measure first"};
  var WHY = {none: "no answer", suggest: "suggestion ignored", thumbs_down: "voted down"};

  function token() { return sessionStorage.getItem(KEY); }

  function api(path, params) {
    var query = new URLSearchParams(params || {}).toString();
    return fetch(path + (query ? "?" + query : ""), {headers: {Authorization: "Bearer " + token()}})
      .then(function (res) {
        if (res.status === 401 || res.status === 403) { signOut(res.status === 403 ? DENIED : ""); throw new Error("auth"); }
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

  function pct(v) { return v === null || v === undefined ? "—" : Math.round(v) + " %"; }
  function num(v) { return v === null || v === undefined ? "—" : String(Math.round(v * 10) / 10); }
  function secs(stats) {
    var s = stats && (stats.mean_s !== undefined ? stats.mean_s : stats.p50_le_s);
    if (s === null || s === undefined) { return "—"; }
    if (s < 90) { return Math.round(s) + " s"; }
    if (s < 5400) { return Math.round(s / 60) + " min"; }
    return Math.round(s / 360) / 10 + " h";
  }

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
      ["Conversations", num(k.volume.conversations), "in the period"],
      ["Solved by the bot", pct(k.containment.rate), "no human, no ticket"],
      ["Handed to a human", pct(k.handoff.rate), k.handoff.conversations_handed_off + " conversations"],
      ["First contact resolution", pct(k.fcr.rate), "no repeat within 7 days"],
      ["CSAT", pct(k.csat.score), k.csat.n + " ratings (4-5 of 5)"],
      ["NPS", k.nps.score === null ? "—" : String(k.nps.score), "promoters − detractors"],
      ["CES", num(k.ces.score), "effort, 1 (easy) to 7"],
      ["Ticket SLA met", pct(k.sla.rate), k.sla.missed + " missed"],
      ["Bot first response", secs(k.first_response.bot), "average"],
      ["Human first response", secs(k.first_response.human), "business hours"],
      ["Thumbs up", pct(k.thumbs.up_rate), k.thumbs.up + " up / " + k.thumbs.down + " down"],
      ["FAQ answered directly", pct(k.faq_bands.rates && k.faq_bands.rates.answer), "band answer"]
    ].forEach(function (t) {
      var li = el("li", "tile");
      li.appendChild(el("span", "label", t[0]));
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
    svg.setAttribute("aria-label", "Conversations per day: " + days.length + " days, up to " + max + " a day");
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
    label.textContent = String(max);
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

  function trend(v) { return v === null || v === undefined ? "new" : (v > 0 ? "+" : "") + Math.round(v) + " %"; }

  function matrix(rows) {
    var box = $("matrix");
    box.textContent = "";
    [["high", "low", "keep_human"], ["high", "high", "simplify"], ["low", "low", "automate"],
     ["low", "high", "eliminate"]].forEach(function (q) {
      var cell = el("div", "quadrant quadrant--" + q[2]);
      cell.setAttribute("role", "group");
      cell.setAttribute("aria-label", ACTIONS[q[2]] + ": " + q[0] + " value, " + q[1] + " irritant");
      cell.appendChild(el("h4", "", ACTIONS[q[2]]));
      cell.appendChild(el("p", "axis", q[0] + " value · " + q[1] + " irritant"));
      var list = el("ul");
      rows.filter(function (r) { return r.value === q[0] && r.irritant_level === q[1]; }).forEach(function (r) {
        list.appendChild(el("li", r.few_data ? "few" : "", r.reason + " (" + r.volume + ")"));
      });
      if (!list.children.length) { list.appendChild(el("li", "none", "—")); }
      cell.appendChild(list);
      box.appendChild(cell);
    });
    var unknown = rows.filter(function (r) { return !r.irritant_level; });
    if (unknown.length) {
      box.appendChild(el("p", "measure", "Not enough feedback yet: " + unknown.map(function (r) { return r.reason; }).join(", ")));
    }
  }

  function reasons(body) {
    matrix(body.rows);
    fill("reasons", body.rows.map(function (r) {
      return [r.reason, r.volume, trend(r.trend), pct(r.containment), pct(r.csat),
              r.irritant === null ? "—" : Math.round(r.irritant) + " %", r.value, ACTIONS[r.action]];
    }), "No conversations in this period.");
  }

  function topics(body) {
    $("unanswered-status").textContent = body.questions + " questions missed in the period.";
    fill("topics", body.topics.map(function (t) {
      var why = Object.keys(WHY).filter(function (k) { return t.why[k]; })
        .map(function (k) { return t.why[k] + " " + WHY[k]; }).join(", ");
      return [t.label, t.count, why, t.reason || "—", t.examples.slice(0, 4).join(" · ")];
    }), "Nothing missed: the FAQ answered everything.");
  }

  function variants(body) {
    var rows = [];
    body.entries.forEach(function (e) {
      var test = e.thumbs_test && e.thumbs_test.significant ? e.thumbs_test
        : (e.containment_test && e.containment_test.significant ? e.containment_test : null);
      Object.keys(e.variants).forEach(function (name, i) {
        var v = e.variants[name];
        var verdict = i ? "" : (test ? "significant (p = " + test.p_value.toFixed(3) + ")" : "not significant yet");
        rows.push([i ? "" : e.entry, name, v.shown, pct(v.up_rate) + " of " + v.votes, pct(v.containment), verdict]);
      });
    });
    fill("variants", rows, "No answer has variants.");
  }

  function verbatims(body) {
    fill("verbatims", body.verbatims.slice(0, 50).map(function (v) {
      return [v.reason === "-" ? "—" : v.reason, v.survey.toUpperCase(), v.score + " (" + v.band + ")", v.text];
    }), "No comments in this period.");
  }

  function period() { var f = filters(); return {start: f.start, end: f.end}; }

  function download(name, filtered) {
    var params = Object.assign({format: "csv"}, filtered ? filters() : period());
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
        document.body.appendChild(a);
        a.click();
        setTimeout(function () { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
      })
      .catch(function (e) { $("status").textContent = "Could not download: " + e.message; });
  }

  function loadVerbatims() {
    var params = period();
    if ($("survey").value) { params.survey = $("survey").value; }
    return api("/api/admin/analytics/verbatims", params).then(verbatims);
  }

  function refresh() {
    var f = filters();
    var p = period();
    $("status").textContent = "Loading…";
    $("unanswered-status").textContent = "Grouping the questions…";
    var main = Promise.all([api("/api/admin/analytics/kpis", f), api("/api/admin/analytics/daily", f),
                            api("/api/admin/analytics/reasons", p)])
      .then(function (r) {
        tiles(r[0]); chart(r[1].days); reasons(r[2]);
        $("status").textContent = "Figures from " + f.start + " to " + f.end + ".";
      });
    var side = Promise.all([api("/api/admin/analytics/variants", p).then(variants), loadVerbatims(),
                            api("/api/admin/analytics/unanswered", Object.assign({top: 10}, p)).then(topics)]);
    return Promise.all([main, side])
      .catch(function (e) { if (e.message !== "auth") { $("status").textContent = "Could not load: " + e.message; } });
  }

  function show(signedIn, email) {
    $("login").hidden = signedIn;
    $("board").hidden = !signedIn;
    $("who").hidden = !signedIn;
    $("who-email").textContent = email || "";
  }

  function signOut(message) {
    sessionStorage.removeItem(KEY);
    show(false);
    $("login-error").textContent = message || "";
  }

  $("login-form").addEventListener("submit", function (event) {
    event.preventDefault();
    $("login-error").textContent = "";
    fetch("/api/agent/login", {method: "POST", headers: {"Content-Type": "application/json"},
                               body: JSON.stringify({email: $("email").value, password: $("password").value})})
      .then(function (res) { return res.json().then(function (body) { return {ok: res.ok, body: body}; }); })
      .then(function (r) {
        if (!r.ok) { $("login-error").textContent = "Wrong e-mail or password."; return; }
        if (ROLES.indexOf(r.body.agent.role) < 0) { $("login-error").textContent = DENIED; return; }
        sessionStorage.setItem(KEY, r.body.token);
        show(true, r.body.agent.email);
        refresh();
      });
  });
  $("logout").addEventListener("click", function () {
    fetch("/api/agent/logout", {method: "POST", headers: {Authorization: "Bearer " + token()}});
    signOut("");
  });
  ["period", "channel", "lang"].forEach(function (id) { $(id).addEventListener("change", refresh); });
  $("survey").addEventListener("change", function () { loadVerbatims().catch(function () {}); });
  Array.prototype.forEach.call(document.querySelectorAll("button[data-csv]"), function (b) {
    b.addEventListener("click", function () { download(b.dataset.csv, b.dataset.filtered === "1"); });
  });

  if (token()) {
    api("/api/agent/me").then(function (me) { show(true, me.email); refresh(); }).catch(function () {});
  } else {
    show(false);
  }
})();
