/* The FAQ studio (issue 22): editors and admins list the FAQ's entries, edit one (or write a new
   one), see the answer as shoppers will (live preview), its problems next to the field they
   concern, try a question against the draft, measure its impact, publish, and go back to an
   earlier version. Everything from /api/editor/... (token in sessionStorage, like the dashboard).
   Texts: none here; they come from locales/{fr,en}.yml (`studio:`) through /static/console/i18n.js.
   Everything people wrote goes in with textContent; the one HTML sink is the preview, HTML the
   gateway rendered and sanitised with the widget's own renderer. No inline code (strict CSP). */
(function () {
  "use strict";
  var KEY = "studio.token";
  var ROLES = ["editor", "admin"];
  var FIELDS = ["id", "lang", "reason", "title", "questions", "answer", "tags", "variants"];
  var BANDS = ["answer", "suggest", "none"];
  var CHECK_MS = 500, PREVIEW_MS = 300;
  var $ = function (id) { return document.getElementById(id); };
  var I18N = new window.SupportI18n("studio");
  var entries = [];                               // GET /api/editor/entries
  var taxonomy = [];                              // ... its `reasons`: the taxonomy's leaves
  var current = {entryId: null, version: ""};     // the entry being edited (null: a new one)
  var last = {};                                  // the last answers, drawn again in another language
  var timers = {};
  var seq = {check: 0};
  var variants = window.StudioVariants({T: T, list: $("variants"), add: $("add-variant"),
                                        preview: previewInto, changed: function () { changed(); }});
  var guard = window.StudioGuard({dialog: $("discard"), cancel: $("discard-keep"),
                                  confirm: $("discard-confirm"), draft: draft,
                                  open: function () { return !$("editor").hidden; }});

  function T(key, fields) { return I18N.t(key, fields); }

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }

  /* A contact reason's name (locales `reasons:`), else its category's, else its code. */
  function reasonName(code) {
    if (!code) { return "—"; }
    if (I18N.texts["reasons." + code] !== undefined) { return I18N.texts["reasons." + code]; }
    var category = String(code).split("/")[0];
    if (I18N.texts["reasons." + category] !== undefined) { return I18N.texts["reasons." + category]; }
    return String(code);
  }

  function band(code) { return BANDS.indexOf(code) >= 0 ? T("bands." + code) : String(code || "—"); }
  function pct(v) { return typeof v === "number" ? I18N.number(v, {style: "percent", maximumFractionDigits: 1}) : "—"; }
  function when(at) { return I18N.date(at * 1000, {dateStyle: "medium", timeStyle: "short"}); }

  function token() { return sessionStorage.getItem(KEY); }

  /* A call to the API: resolves {status, body} for every answer but 401/403 (signed out). */
  function api(method, path, body) {
    var init = {method: method, headers: {Authorization: "Bearer " + token(), Accept: "application/json"}};
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return fetch(path, init).then(function (res) {
      if (res.status === 401 || res.status === 403) {
        signOut(res.status === 403 ? "login.denied" : "login.expired");
        throw new Error("auth");
      }
      return res.json().catch(function () { return {}; }).then(function (json) {
        return {status: res.status, body: json};
      });
    });
  }

  function failed(status) { return T("errors.failed", {status: status}); }

  function status(id, text) { $(id).textContent = text || ""; }

  /* -- the list of entries ------------------------------------------------------------------- */

  function fillSelect(select, values, label) {
    var chosen = select.value;
    while (select.options.length > 1) { select.remove(1); }
    values.forEach(function (v) {
      var option = el("option", "", label(v));
      option.value = v;
      select.appendChild(option);
    });
    select.value = values.indexOf(chosen) >= 0 ? chosen : "";
  }

  function unique(values) {
    return values.filter(function (v, i) { return v && values.indexOf(v) === i; }).sort();
  }

  function reasonsKnown() { return unique(entries.map(function (e) { return e.reason; })); }

  /* The taxonomy's reasons (what an entry may take) and those the entries use. */
  function reasonsAllowed() { return unique(taxonomy.concat(reasonsKnown())); }

  /* Health filters: answers voted down (a third of the votes, or any question voted down),
     suggestions offered and never clicked, a question shared with another entry. */
  var HEALTH = {
    downvoted: function (e) { var h = e.health || {}; return (h.down_rate || 0) >= 0.3 || (h.thumbs_down || 0) > 0; },
    ignored: function (e) { return ((e.health || {}).suggest || 0) > 0; },
    conflict: function (e) { return Boolean(e.conflict); }
  };

  function renderFilters() {
    fillSelect($("f-reason"), reasonsKnown(), function (code) { return T("list.reason_option", {name: reasonName(code), code: code}); });
    fillSelect($("f-tag"), unique([].concat.apply([], entries.map(function (e) { return e.tags || []; }))),
               function (tag) { return tag; });
    var list = $("reason-codes");
    list.textContent = "";
    reasonsAllowed().forEach(function (code) {
      var option = el("option");
      option.value = code;
      option.label = reasonName(code);
      list.appendChild(option);
    });
  }

  function renderList() {
    var lang = $("f-lang").value, reason = $("f-reason").value, tag = $("f-tag").value;
    var untranslated = $("f-untranslated").checked, health = HEALTH[$("f-health").value];
    var shown = entries.filter(function (e) {
      return (!lang || e.lang === lang) && (!reason || e.reason === reason)
        && (!tag || (e.tags || []).indexOf(tag) >= 0) && (!untranslated || !e.translated)
        && (!health || health(e));
    });
    var list = $("entries");
    list.textContent = "";
    shown.forEach(function (e) {
      var li = el("li");
      var button = el("button", "entry");
      button.type = "button";
      button.dataset.id = e.id;
      button.appendChild(el("span", "entry-title", e.title || e.id));
      var meta = [e.id, T("langs." + (e.lang === "en" ? "en" : "fr")), reasonName(e.reason)];
      if (!e.translated) { meta.push(T("list.no_translation")); }
      if (e.health && typeof e.health.down_rate === "number") { meta.push(T("list.down_rate", {rate: pct(e.health.down_rate)})); }
      if (e.conflict) { meta.push(T("list.conflict")); }
      button.appendChild(el("span", "entry-meta", meta.join(" · ")));
      if (e.id === current.entryId) { button.setAttribute("aria-current", "true"); }
      button.addEventListener("click", function () {
        guard.ask().then(function (ok) { if (ok) { openEntry(e.id); } });
      });
      li.appendChild(button);
      list.appendChild(li);
    });
    $("list-count").textContent = I18N.tn("list.count", shown.length, {total: I18N.number(entries.length)});
  }

  function loadEntries() {
    return api("GET", "/api/editor/entries").then(function (r) {
      if (r.status !== 200) { status("status", failed(r.status)); return; }
      entries = r.body.entries || [];
      taxonomy = r.body.reasons || [];
      renderFilters();
      renderList();
    });
  }

  /* -- the form ------------------------------------------------------------------------------ */

  function renumber() {
    var rows = $("questions").children;
    Array.prototype.forEach.call(rows, function (li, i) {
      li.querySelector("input").setAttribute("aria-label", T("form.question_n", {n: i + 1}));
      var remove = li.querySelector("button");
      remove.textContent = T("form.remove_question");
      remove.setAttribute("aria-label", T("form.remove_question_n", {n: i + 1}));
      remove.disabled = rows.length < 2;
    });
  }

  function addQuestion(value, focus) {
    var li = el("li");
    var input = el("input");
    input.type = "text";
    input.autocomplete = "off";
    input.maxLength = 200;
    input.value = value || "";
    input.setAttribute("aria-describedby", "issues-questions");
    var remove = el("button", "secondary");
    remove.type = "button";
    remove.addEventListener("click", function () {
      var next = li.nextElementSibling || li.previousElementSibling;
      li.remove();
      renumber();
      if (next) { next.querySelector("input").focus(); }
      changed();
    });
    li.appendChild(input);
    li.appendChild(remove);
    $("questions").appendChild(li);
    renumber();
    if (focus) { input.focus(); }
  }

  function draft() {
    var questions = Array.prototype.map.call($("questions").querySelectorAll("input"), function (i) { return i.value; });
    return {
      id: $("e-id").value.trim(), lang: $("e-lang").value, reason: $("e-reason").value.trim(),
      title: $("e-title").value, answer: $("e-answer").value,
      questions: questions.filter(function (q) { return q.trim(); }),
      tags: $("e-tags").value.split(",").map(function (t) { return t.trim(); }).filter(Boolean),
      variants: variants.value()
    };
  }

  function fillForm(d) {
    $("e-id").value = d.id || "";
    $("e-lang").value = d.lang === "en" ? "en" : "fr";
    $("e-reason").value = d.reason || "";
    $("e-title").value = d.title || "";
    $("e-answer").value = d.answer || "";
    $("e-tags").value = (d.tags || []).join(", ");
    $("questions").textContent = "";
    (d.questions && d.questions.length ? d.questions : [""]).forEach(function (q) { addQuestion(q); });
    variants.fill(d.variants);
    reasonHint();
  }

  function reasonHint() {
    var code = $("e-reason").value.trim();
    $("hint-reason").textContent = code && I18N.texts["reasons." + code] !== undefined
      ? T("form.reason_is", {name: reasonName(code)}) : T("form.reason_hint");
  }

  function editorTitle() {
    $("editor-title").textContent = current.entryId ? T("editor.edit", {id: current.entryId}) : T("editor.new");
  }

  function reset() {
    last.try = last.impact = last.versions = last.version = null;
    showIssues([]);
    $("preview").textContent = "";
    $("impact").hidden = true;
    $("conflict").hidden = true;
    $("try-results").hidden = true;
    $("version-title").hidden = true;
    $("version-text").hidden = true;
    $("versions").textContent = "";
    ["publish-status", "try-status", "history-status", "check-status"].forEach(function (id) { status(id, ""); });
  }

  function openForm(d, opened) {
    reset();
    current = {entryId: opened ? opened.entry_id : null, version: opened ? opened.version : ""};
    fillForm(d);
    guard.mark();
    $("e-id").readOnly = !!current.entryId;
    $("hint-id").textContent = T(current.entryId ? "form.id_fixed" : "form.id_hint");
    $("editor-path").textContent = opened ? T("editor.path", {path: opened.path}) : "";
    $("history").hidden = !current.entryId;
    $("editor").hidden = false;
    editorTitle();
    renderList();
    $("editor-title").focus();
    preview();
    if (current.entryId) { loadVersions(); check(); }   // an existing entry's warnings show at once
  }

  function openEntry(id) {
    status("status", T("status.opening"));
    return api("GET", "/api/editor/entries/" + encodeURIComponent(id)).then(function (r) {
      if (r.status !== 200) { status("status", failed(r.status)); return; }
      status("status", "");
      openForm(r.body.draft, r.body);
    }).catch(function () {});
  }

  function newEntry(d) {
    openForm(d || {lang: $("f-lang").value || I18N.lang, questions: [""]}, null);
    $("e-id").focus();
  }

  /* -- checking and previewing ----------------------------------------------------------------- */

  function field(name) {
    if (name === "questions") { return Array.prototype.slice.call($("questions").querySelectorAll("input")); }
    if (name === "variants") { return variants.inputs(); }
    var node = $("e-" + name);
    return node ? [node] : [];
  }

  /* A problem in the page's language: locales `check.<code>` with its params (a field named by its
     label), else the gateway's English message (a code this page does not know). */
  function issueText(issue) {
    var key = "check." + issue.code;
    if (!issue.code || I18N.texts[key] === undefined) { return issue.message; }
    var params = {};
    Object.keys(issue.params || {}).forEach(function (name) { params[name] = String(issue.params[name]); });
    if (params.field && FIELDS.indexOf(params.field) >= 0) { params.field = T("form." + params.field); }
    return T(key, params);
  }

  function showIssues(issues) {
    var invalid = {};
    last.issues = issues;
    FIELDS.concat(["other"]).forEach(function (name) { $("issues-" + name).textContent = ""; });
    issues.forEach(function (issue) {
      var name = FIELDS.indexOf(issue.field) >= 0 ? issue.field : "other";
      var error = issue.severity === "error";
      var p = el("p", "issue issue--" + (error ? "error" : "warning"),
                 T(error ? "issues.error" : "issues.warning", {message: issueText(issue)}));
      if (error) { p.setAttribute("role", "alert"); invalid[name] = true; }
      $("issues-" + name).appendChild(p);
    });
    FIELDS.forEach(function (name) {
      field(name).forEach(function (node) {
        if (invalid[name]) { node.setAttribute("aria-invalid", "true"); } else { node.removeAttribute("aria-invalid"); }
      });
    });
  }

  function check() {
    var mine = ++seq.check;
    status("check-status", T("check.running"));
    api("POST", "/api/editor/check", {draft: draft(), entry_id: current.entryId}).then(function (r) {
      if (mine !== seq.check) { return; }
      if (r.status !== 200) { status("check-status", failed(r.status)); return; }
      showIssues(r.body.issues || []);
      status("check-status", r.body.ok ? T("check.ok") : T("check.errors"));
    }).catch(function () {});
  }

  /* Markdown drawn as shoppers will see it, into `node` (the answer's preview or a variant's);
     `key` orders the answers of one preview (the last asked wins). */
  function previewInto(node, text, key) {
    var mine = seq[key] = (seq[key] || 0) + 1;
    api("POST", "/api/editor/preview", {answer: text}).then(function (r) {
      if (mine !== seq[key] || r.status !== 200) { return; }
      // the gateway's renderer and sanitiser (the widget's): the page's only HTML from the server
      node.innerHTML = r.body.html;
    }).catch(function () {});
  }

  function preview() { previewInto($("preview"), $("e-answer").value, "preview"); }

  function later(name, fn, ms) {
    clearTimeout(timers[name]);
    timers[name] = setTimeout(fn, ms);
  }

  function changed(event) {
    if (event && event.target === $("e-answer")) { later("preview", preview, PREVIEW_MS); }
    if (event && event.target === $("e-reason")) { reasonHint(); }
    later("check", check, CHECK_MS);
  }

  /* -- try it ------------------------------------------------------------------------------------ */

  function resultTable(table, result, draftId) {
    table.querySelector(".band").textContent = T("try.band", {band: band(result.band),
                                                              score: I18N.number(result.score || 0, {maximumFractionDigits: 3})});
    var body = table.querySelector("tbody");
    body.textContent = "";
    (result.top || []).forEach(function (hit, i) {
      var tr = el("tr", hit.id === draftId ? "mine" : "");
      var th = el("th", "", I18N.number(i + 1));
      th.scope = "row";
      tr.appendChild(th);
      var cell = el("td");
      cell.appendChild(el("span", "", hit.title || hit.id));
      cell.appendChild(el("span", "entry-meta", hit.id + (hit.id === draftId ? " · " + T("try.this_entry") : "")));
      tr.appendChild(cell);
      tr.appendChild(el("td", "", I18N.number(hit.score, {maximumFractionDigits: 3})));
      body.appendChild(tr);
    });
    if (!(result.top || []).length) {
      var empty = el("tr");
      var td = el("td", "empty", T("try.nothing"));
      td.colSpan = 3;
      empty.appendChild(td);
      body.appendChild(empty);
    }
  }

  function showTry(result) {
    var id = draft().id;
    resultTable($("try-draft"), result.draft, id);
    resultTable($("try-live"), result.live, id);
    $("try-results").hidden = false;
  }

  function tryIt(event) {
    event.preventDefault();
    var question = $("try-question").value.trim();
    if (!question) { status("try-status", T("try.empty")); $("try-question").focus(); return; }
    status("try-status", T("try.running"));
    api("POST", "/api/editor/try", {draft: draft(), entry_id: current.entryId, question: question}).then(function (r) {
      if (r.status === 422 && r.body.issues) { showIssues(r.body.issues); status("try-status", T("check.errors")); return; }
      if (r.status === 429) { status("try-status", T("errors.busy")); return; }
      if (r.status !== 200) { status("try-status", failed(r.status)); return; }
      last.try = r.body;
      showTry(r.body);
      status("try-status", T("try.done"));
    }).catch(function () {});
  }

  /* -- impact -------------------------------------------------------------------------------- */

  function entryLabel(side) {
    if (!side || !side.id) { return band(side && side.band); }
    var found = entries.filter(function (e) { return e.id === side.id; })[0];
    var name = found && found.title ? found.title + " (" + side.id + ")" : side.id;
    return T("impact.answer", {entry: name, band: band(side.band)});
  }

  function showImpact(impact, worse) {
    last.impact = {impact: impact, worse: worse};
    $("impact").hidden = false;
    $("impact-worse").hidden = !worse;
    $("impact-worse").textContent = worse ? T("impact.worse") : "";
    $("publish-anyway").hidden = !worse;
    $("impact-summary").textContent = T("impact.summary", {
      asked: I18N.number(impact.asked || 0),
      top1_before: pct(impact.before && impact.before.top1), top1_after: pct(impact.after && impact.after.top1),
      direct_before: pct(impact.before && impact.before.direct), direct_after: pct(impact.after && impact.after.direct)
    });
    var body = $("impact-rows");
    body.textContent = "";
    (impact.changed || []).forEach(function (c) {
      var tr = el("tr");
      var th = el("th", "", c.question);
      th.scope = "row";
      tr.appendChild(th);
      tr.appendChild(el("td", "", T(c.source === "real" ? "impact.source_real" : "impact.source_eval")));
      tr.appendChild(el("td", "", entryLabel(c.before)));
      tr.appendChild(el("td", "", entryLabel(c.after)));
      body.appendChild(tr);
    });
    if (!(impact.changed || []).length) {
      var tr = el("tr");
      var td = el("td", "empty", T("impact.unchanged"));
      td.colSpan = 4;
      tr.appendChild(td);
      body.appendChild(tr);
    }
  }

  function measure() {
    status("publish-status", T("impact.running"));
    api("POST", "/api/editor/impact", {draft: draft(), entry_id: current.entryId}).then(function (r) {
      if (r.status === 422 && r.body.issues) { showIssues(r.body.issues); status("publish-status", T("check.errors")); return; }
      if (r.status === 429) { status("publish-status", T("errors.busy")); return; }
      if (r.status !== 200) { status("publish-status", failed(r.status)); return; }
      status("publish-status", "");
      showImpact(r.body, r.body.worse);
      $("impact-title").focus();
    }).catch(function () {});
  }

  /* -- publishing ---------------------------------------------------------------------------- */

  function draftText(d) {
    var line = function (key, value) { return T("conflict.field", {name: T(key), value: value}); };
    return [line("form.id", d.id), line("form.reason", d.reason), line("form.title", d.title || ""),
            line("form.questions", "")].concat((d.questions || []).map(function (q) { return "  - " + q; }))
      .concat([line("form.tags", (d.tags || []).join(", ")), "", d.answer || ""])
      .concat(Object.keys(d.variants || {}).reduce(function (lines, name) {   // A/B answers, each named
        return lines.concat(["", T("conflict.variant", {name: name}), d.variants[name]]);
      }, [])).join("\n");
  }

  function showConflict(body) {
    $("conflict").hidden = false;
    $("conflict-text").textContent = body.current ? draftText(body.current) : "";
    $("conflict-title").focus();
  }

  function publish(confirm) {
    var d = draft();
    var body = {draft: d, version: current.version, confirm: !!confirm, message: $("e-message").value.trim()};
    var existing = current.entryId;
    status("publish-status", T("publish.running"));
    $("publish").disabled = true;
    var call = existing ? api("PUT", "/api/editor/entries/" + encodeURIComponent(existing), body)
      : api("POST", "/api/editor/entries", body);
    return call.then(function (r) {
      $("publish").disabled = false;
      if (r.status === 200 || r.status === 201) {
        current = {entryId: r.body.entry_id, version: r.body.version};
        guard.mark(d);
        $("conflict").hidden = true;
        $("publish-anyway").hidden = true;
        $("impact-worse").hidden = true;
        $("e-id").readOnly = true;
        $("e-message").value = "";
        $("hint-id").textContent = T("form.id_fixed");
        $("editor-path").textContent = T("editor.path", {path: r.body.path});
        if (r.body.impact) { showImpact(r.body.impact, false); }
        editorTitle();
        $("history").hidden = false;
        status("publish-status", r.body.history_version ? T("publish.done", {id: r.body.entry_id}) : T("publish.unchanged"));
        loadVersions();
        return loadEntries();
      }
      if (r.status === 409 && r.body.error === "worse") {
        status("publish-status", T("publish.worse"));
        showImpact(r.body.impact || {}, true);
        $("impact-title").focus();
        return null;
      }
      if (r.status === 409) {
        status("publish-status", r.body.current ? T("publish.conflict") : T("publish.exists"));
        if (r.body.current) { showConflict(r.body); }
        return null;
      }
      if (r.status === 422) {
        if (r.body.issues) { showIssues(r.body.issues); }
        status("publish-status", T("publish.invalid"));
        return null;
      }
      status("publish-status", r.status === 429 ? T("errors.busy") : failed(r.status));
      return null;
    }).catch(function () { $("publish").disabled = false; });
  }

  /* -- history ------------------------------------------------------------------------------- */

  function versionRow(v) {
    var tr = el("tr");
    var th = el("th", "", when(v.at));
    th.scope = "row";
    tr.appendChild(th);
    tr.appendChild(el("td", "", v.author || "—"));
    tr.appendChild(el("td", "", v.message || "—"));
    var actions = el("td", "row-actions");
    var view = el("button", "secondary", T("history.view"));
    view.type = "button";
    view.setAttribute("aria-label", T("history.view_n", {date: when(v.at)}));
    view.addEventListener("click", function () { viewVersion(v); });
    var restore = el("button", "secondary", T("history.restore"));
    restore.type = "button";
    restore.setAttribute("aria-label", T("history.restore_n", {date: when(v.at)}));
    restore.addEventListener("click", function () { restoreVersion(v); });
    actions.appendChild(view);
    actions.appendChild(restore);
    tr.appendChild(actions);
    return tr;
  }

  function showVersions(list) {
    var body = $("versions");
    body.textContent = "";
    list.forEach(function (v) { body.appendChild(versionRow(v)); });
    if (!list.length) {
      var tr = el("tr");
      var td = el("td", "empty", T("history.empty"));
      td.colSpan = 4;
      tr.appendChild(td);
      body.appendChild(tr);
    }
  }

  function versionsPath(rest) {
    return "/api/editor/entries/" + encodeURIComponent(current.entryId) + "/versions" + (rest || "");
  }

  function loadVersions() {
    if (!current.entryId) { return Promise.resolve(); }
    status("history-status", T("history.loading"));
    return api("GET", versionsPath()).then(function (r) {
      if (r.status !== 200) { status("history-status", failed(r.status)); return; }
      last.versions = r.body.versions || [];
      showVersions(last.versions);
      status("history-status", I18N.tn("history.count", last.versions.length));
    }).catch(function () {});
  }

  function showVersion() {
    var v = last.version;
    $("version-title").hidden = $("version-text").hidden = !v;
    if (!v) { return; }
    $("version-title").textContent = T("history.version_of", {date: when(v.at)});
    $("version-text").textContent = v.text;
  }

  function viewVersion(v) {
    api("GET", versionsPath("/" + encodeURIComponent(v.id))).then(function (r) {
      if (r.status !== 200) { status("history-status", failed(r.status)); return; }
      last.version = {at: v.at, text: r.body.text};
      showVersion();
    }).catch(function () {});
  }

  function restoreVersion(v) {
    status("history-status", T("history.restoring"));
    api("POST", versionsPath("/" + encodeURIComponent(v.id) + "/restore"), {version: current.version}).then(function (r) {
      if (r.status === 200) {
        current.version = r.body.version;
        fillForm(r.body.draft);
        guard.mark();
        preview();
        showIssues([]);
        status("history-status", T("history.restored", {date: when(v.at)}));
        status("publish-status", T("history.restored", {date: when(v.at)}));
        loadEntries();
        return loadVersions().then(function () { status("history-status", T("history.restored", {date: when(v.at)})); });
      }
      if (r.status === 409) { status("history-status", T("publish.conflict")); showConflict(r.body); return null; }
      status("history-status", failed(r.status));
      return null;
    }).catch(function () {});
  }

  /* -- signing in, language, start --------------------------------------------------------------- */

  function show(signedIn, email) {
    $("login").hidden = signedIn;
    $("studio").hidden = !signedIn;
    $("who-signed-in").hidden = !signedIn;
    $("who-email").textContent = email || "";
  }

  function signOut(messageKey) {
    sessionStorage.removeItem(KEY);
    entries = [];
    current = {entryId: null, version: ""};
    $("editor").hidden = true;
    show(false);
    I18N.ensure().then(function () { $("login-error").textContent = messageKey ? T(messageKey) : ""; });
  }

  /* A new entry prefilled from a missing-FAQ topic: /studio?lang=fr&reason=...&q=...&q=... */
  function prefill() {
    var params = new URLSearchParams(location.search);
    if (!params.getAll("q").length && !params.get("reason")) { return null; }
    var query = new URLSearchParams();
    query.set("lang", params.get("lang") === "en" ? "en" : "fr");
    if (params.get("reason")) { query.set("reason", params.get("reason")); }
    params.getAll("q").slice(0, 6).forEach(function (q) { query.append("q", q); });
    return api("GET", "/api/editor/topics/draft?" + query.toString()).then(function (r) {
      if (r.status !== 200) { status("status", failed(r.status)); return; }
      newEntry(r.body.draft);
      status("status", T("status.prefilled"));
    });
  }

  function enter() {
    return api("GET", "/api/agent/me").then(function (r) {
      if (r.status !== 200) { throw new Error("HTTP " + r.status); }
      var me = r.body;
      var lang = me.lang || I18N.lang || I18N.browserLang();
      return (lang === I18N.lang ? Promise.resolve() : I18N.load(lang)).then(function () {
        $("ui-lang").value = I18N.lang;
        show(true, me.email);
        return loadEntries();
      }).then(prefill);
    });
  }

  /* Everything drawn from data, again in the language now shown. */
  function render() {
    renderFilters();
    renderList();
    if ($("editor").hidden) { return; }
    editorTitle();
    renumber();
    reasonHint();
    variants.renumber();
    $("hint-id").textContent = T(current.entryId ? "form.id_fixed" : "form.id_hint");
    showIssues(last.issues || []);
    if (last.try) { showTry(last.try); }
    if (last.impact) { showImpact(last.impact.impact, last.impact.worse); }
    if (last.versions) { showVersions(last.versions); }
    showVersion();
  }

  function setLanguage(lang) {
    return I18N.choose(lang, token()).then(function () {
      $("ui-lang").value = I18N.lang;
      render();
    }).catch(function (e) {
      $("ui-lang").value = I18N.lang;
      status("status", T("language.not_saved", {error: e.message}));
    });
  }

  $("login-form").addEventListener("submit", function (event) {
    event.preventDefault();
    $("login-error").textContent = "";
    if (!$("email").value || !$("password").value) { $("login-error").textContent = T("login.missing"); return; }
    fetch("/api/agent/login", {method: "POST", headers: {"Content-Type": "application/json"},
                               body: JSON.stringify({email: $("email").value, password: $("password").value})})
      .then(function (res) { return res.json().then(function (body) { return {ok: res.ok, body: body}; }); })
      .then(function (r) {
        if (!r.ok) { $("login-error").textContent = T("login.wrong"); return; }
        if (ROLES.indexOf(r.body.agent.role) < 0) { $("login-error").textContent = T("login.denied"); return; }
        sessionStorage.setItem(KEY, r.body.token);
        enter().catch(function () {});
      })
      .catch(function () { $("login-error").textContent = T("login.wrong"); });
  });
  $("logout").addEventListener("click", function () {
    guard.ask().then(function (ok) {
      if (!ok) { return; }
      fetch("/api/agent/logout", {method: "POST", headers: {Authorization: "Bearer " + token()}});
      signOut("");
    });
  });
  $("ui-lang").addEventListener("change", function (e) { setLanguage(e.target.value); });
  ["f-lang", "f-reason", "f-tag", "f-health", "f-untranslated"].forEach(function (id) { $(id).addEventListener("change", renderList); });
  $("filters").addEventListener("submit", function (e) { e.preventDefault(); });
  $("new-entry").addEventListener("click", function () {
    guard.ask().then(function (ok) { if (ok) { newEntry(); } });
  });
  $("add-question").addEventListener("click", function () { addQuestion("", true); });
  $("entry-form").addEventListener("input", changed);
  $("entry-form").addEventListener("change", changed);
  $("entry-form").addEventListener("submit", function (e) { e.preventDefault(); publish(false); });
  $("impact-button").addEventListener("click", measure);
  $("publish-anyway").addEventListener("click", function () { publish(true); });
  $("conflict-reload").addEventListener("click", function () { if (current.entryId) { openEntry(current.entryId); } });
  $("try-form").addEventListener("submit", tryIt);
  $("history-load").addEventListener("click", loadVersions);

  if (token()) {
    enter().catch(function () { I18N.ensure().then(function () { $("ui-lang").value = I18N.lang; }); });
  } else {
    show(false);
    I18N.load(I18N.browserLang()).then(function () { $("ui-lang").value = I18N.lang; });
  }
})();
