/* The manager's dashboard: KPI tiles, conversations per day, contact reasons. Everything from
   /api/admin/analytics (admin token in sessionStorage); text only via textContent, the chart
   drawn as SVG nodes. No framework, no inline code (the page has a strict CSP). */
(function () {
  "use strict";
  var KEY = "dashboard.token";
  var $ = function (id) { return document.getElementById(id); };
  var SVG = "http://www.w3.org/2000/svg";

  function token() { return sessionStorage.getItem(KEY); }

  function api(path, params) {
    var query = new URLSearchParams(params || {}).toString();
    return fetch(path + (query ? "?" + query : ""), {headers: {Authorization: "Bearer " + token()}})
      .then(function (res) {
        if (res.status === 401 || res.status === 403) { signOut(res.status === 403 ? "This page is for admins." : ""); throw new Error("auth"); }
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

  function reasons(values) {
    var body = $("reasons");
    body.textContent = "";
    var total = Object.keys(values).reduce(function (s, k) { return s + values[k]; }, 0) || 1;
    Object.keys(values).forEach(function (reason) {
      var tr = el("tr");
      tr.appendChild(el("td", "", reason));
      var count = el("td");
      var bar = el("span", "bar");
      bar.style.width = Math.max(2, Math.round(160 * values[reason] / total)) + "px";
      count.appendChild(bar);
      count.appendChild(document.createTextNode(String(Math.round(values[reason]))));
      tr.appendChild(count);
      tr.appendChild(el("td", "", Math.round(100 * values[reason] / total) + " %"));
      body.appendChild(tr);
    });
  }

  function refresh() {
    var f = filters();
    $("status").textContent = "Loading…";
    $("csv-kpis").href = "/api/admin/analytics/kpis?" + new URLSearchParams(Object.assign({format: "csv"}, f));
    $("csv-daily").href = "/api/admin/analytics/daily?" + new URLSearchParams(Object.assign({format: "csv"}, f));
    return Promise.all([api("/api/admin/analytics/kpis", f), api("/api/admin/analytics/daily", f),
                        api("/api/admin/analytics/breakdown", {dim: "reason", start: f.start, end: f.end})])
      .then(function (r) {
        tiles(r[0]); chart(r[1].days); reasons(r[2].values);
        $("status").textContent = "Figures from " + f.start + " to " + f.end + ".";
      })
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
        if (r.body.agent.role !== "admin") { $("login-error").textContent = "This page is for admins."; return; }
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

  if (token()) {
    api("/api/agent/me").then(function (me) { show(true, me.email); refresh(); }).catch(function () {});
  } else {
    show(false);
  }
})();
