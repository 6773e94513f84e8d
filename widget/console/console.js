/* Agent console: vanilla JS, no build step, runs under a strict CSP (no inline code, no eval).
 *
 * Safety rule: the only HTML ever put in the page is `message.html`, the server-sanitised
 * rendering of bot texts. Everything a person typed (shoppers, agents, ticket messages,
 * summaries, search results) goes in textContent.
 *
 * Texts: none here. They come from locales/{fr,en}.yml through i18n.js (`T("key")`), in the
 * agent's language: the account's choice (top bar), else the browser's (French unless "en").
 */
(function () {
  "use strict";

  var TOKEN_KEY = "console.token";
  var NOTIFY_KEY = "console.notify";   // localStorage: "on" once the agent turned notifications on
  var TYPING_EVERY_MS = 2500;      // at most one "typing" signal this often while the agent types
  var TYPING_IDLE_MS = 4000;       // ... and a "stop" after this long without a key
  var TYPING_SHOWN_MS = 7000;      // the customer's indicator hides this long after their last signal
  var REFRESH_MS = 20000;          // fallback polling when the live feed is down or missed something
  var PING_MS = 25000;             // keeps the agent's presence alive (server TTL is 90 s)
  var LONG_WAIT_S = 120;           // a wait shown in red
  var ROLES = { shopper: true, bot: true, agent: true, system: true, note: true };
  var UNDO_S = 10;                 // a close can be undone this long (it is sent to the server after)
  var EVENTS = { claimed: true, closed: true, transferred: true, delivery_refused: true, delivery_failed: true };
  var MAIL_KEY = /^mail-[0-9a-f]{32}$/;     // a received e-mail's message: its original can be read
  var CLOSE_REASONS = ["solved", "spam", "duplicate"];
  var I18N = new window.SupportI18n("console");

  function T(key, fields) { return I18N.t(key, fields); }

  /* The text of a code (channel, trigger, ticket status...), or the code itself if it has none. */
  function known(section, code) {
    return code && I18N.texts[section + "." + code] !== undefined ? T(section + "." + code) : (code || "");
  }

  function channelText(channel) { return known("channels", channel) || "?"; }

  var $ = function (id) { return document.getElementById(id); };
  var S = {
    token: null, me: null, queue: [], seenQueue: null, mine: [], mineInfo: {}, agents: [],
    current: null, currentCid: "", count: 0, shown: {}, ticket: null, tickets: [],
    ws: null, wsRetry: 0, wsTimer: null, pingTimer: null, refreshTimer: null, tickTimer: null,
    audio: null, view: "inbox", conn: "offline", ticketData: null, kbHits: null,
    pendingClose: null, canned: null, cannedFor: "", cannedHits: [], cannedAt: -1, ticketFilter: "",
    typingSentAt: 0, typingCid: "", typingIdle: null, typingShown: null, shortcutsReturn: null,
    files: {}                      // attachment id -> promise of its blob: URL (fetched with the token)
  };

  // -- helpers ----------------------------------------------------------------------------

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }

  function show(node, visible) { node.hidden = !visible; }

  function announce(text) {
    var live = $("live");
    live.textContent = "";
    window.setTimeout(function () { live.textContent = text; }, 50);
  }

  function fmtTime(epoch) {
    var d = new Date(epoch * 1000);
    var today = new Date();
    var time = I18N.date(d, { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
    return d.toDateString() === today.toDateString() ? time : I18N.date(d) + " " + time;
  }

  function fmtDate(value) {
    return I18N.date(value, {
      weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
  }

  function fmtWait(seconds) {
    seconds = Math.max(0, Math.floor(seconds));
    var m = Math.floor(seconds / 60), s = seconds % 60;
    if (m >= 60) return Math.floor(m / 60) + " h " + (m % 60) + " min";
    return m + ":" + (s < 10 ? "0" : "") + s;
  }

  function timeEl(epoch) {
    var node = el("time", "", fmtTime(epoch));
    node.dateTime = new Date(epoch * 1000).toISOString();
    return node;
  }

  function shortId(cid) { return String(cid || "").replace(/^c-/, "").slice(0, 6); }

  /* A contact reason's name in the console's language (locales `reasons:`), else its code made readable. */
  function reasonText(reason) {
    return reason && I18N.texts["reasons." + reason] !== undefined ? T("reasons." + reason)
      : String(reason || "").replace(/[/_]/g, " ").trim();
  }

  /* Markdown FAQ answer -> plain text for the reply box (links keep their address). */
  function plainText(markdown) {
    return String(markdown || "")
      .replace(/\[([^\]]*)\]\(([^)\s]*)\)/g, function (_, label, url) {
        return /^(https?:|mailto:|tel:)/i.test(url) ? label + " (" + url + ")" : label;
      })
      .replace(/^#{1,6}\s+/gm, "")
      .replace(/\*\*([^*]+)\*\*/g, "$1").replace(/__([^_]+)__/g, "$1")
      .replace(/(^|\W)\*([^*\n]+)\*(?=\W|$)/g, "$1$2").replace(/`([^`]*)`/g, "$1")
      .replace(/\n{3,}/g, "\n\n").trim();
  }

  function errorBox(id, message) {
    var box = $(id);
    box.textContent = message || "";
    show(box, Boolean(message));
  }

  // -- API --------------------------------------------------------------------------------

  /* What the gateway refused, in the console's language: its `key` (else its `error` code) names a
     text of locales `console.errors`, filled with the answer's fields; the server's English message
     only when the console has no text for it. */
  function errorText(data, status) {
    var names = [data.key, data.error];
    for (var i = 0; i < names.length; i += 1) {
      if (names[i] && I18N.texts["errors." + names[i]] !== undefined) return T("errors." + names[i], data);
    }
    return data.message || T("request_failed", { status: status });
  }

  function api(path, options) {
    options = options || {};
    var headers = { Accept: "application/json" };
    if (S.token) headers.Authorization = "Bearer " + S.token;
    if (options.body !== undefined) headers["Content-Type"] = "application/json";
    return fetch(path, {
      method: options.method || (options.body !== undefined ? "POST" : "GET"), headers: headers,
      body: options.body !== undefined ? JSON.stringify(options.body) : undefined, cache: "no-store"
    }).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (data) {
        if (res.status === 401 && S.token && path !== "/api/agent/login") {
          signedOut("login.expired");
        }
        if (!res.ok) {
          var err = new Error(errorText(data, res.status));
          err.status = res.status;
          throw err;
        }
        return data;
      });
    });
  }

  // -- login / logout ---------------------------------------------------------------------

  function onLogin(event) {
    event.preventDefault();
    unlockAudio();
    var email = $("login-email").value.trim(), password = $("login-password").value;
    if (!email || !password) { errorBox("login-error", T("login.missing")); return; }
    errorBox("login-error", "");
    api("/api/agent/login", { body: { email: email, password: password } }).then(function (data) {
      S.token = data.token;
      sessionStorage.setItem(TOKEN_KEY, data.token);
      $("login-password").value = "";
      start();
    }).catch(function (err) {
      errorBox("login-error", err.status === 401 ? T("login.wrong") : err.message);
    });
  }

  function onLogout() {
    api("/api/agent/logout", { method: "POST" }).catch(function () { /* ended anyway */ })
      .then(function () { signedOut(""); });
  }

  /* `messageKey`: the text to show on the login form ("" for none). */
  function signedOut(messageKey) {
    S.token = null;
    sessionStorage.removeItem(TOKEN_KEY);
    forgetFiles();
    stopLive();
    S.seenQueue = null; S.currentCid = ""; S.current = null; S.ticket = null; S.ticketData = null;
    S.mineInfo = {}; S.queue = []; S.mine = [];
    closeShortcuts(false);
    show($("app"), false);
    I18N.ensure().then(function () {
      show($("login-view"), true);
      document.title = T("title");
      errorBox("login-error", messageKey ? T(messageKey) : "");
      $("login-email").focus();
    });
  }

  /* The account's language if it chose one, else the one shown (the browser's before login). */
  function useAccountLanguage(me) {
    var lang = me.lang || I18N.lang || I18N.browserLang();
    return lang === I18N.lang ? Promise.resolve() : I18N.load(lang);
  }

  function start() {
    api("/api/agent/me").then(function (me) {
      S.me = me;
      return useAccountLanguage(me).then(function () { return me; });
    }).then(function (me) {
      $("language").value = I18N.lang;
      $("me-name").textContent = me.name || me.email;
      show($("canned-manage"), me.role === "admin");
      S.conn = "offline";
      renderConnection();
      setPresenceUi(me.presence === "away" ? "away" : "online");
      if (me.presence === "offline") setPresence("online");
      show($("login-view"), false);
      show($("app"), true);
      renderShopHours(me);
      renderNotify();
      connect();
      refreshAll();
      loadAgents();
      S.refreshTimer = window.setInterval(refreshAll, REFRESH_MS);
      S.tickTimer = window.setInterval(tick, 1000);
      updateBadges();
      $("main").focus();
    }).catch(function () {                  // api() already signed out on 401
      I18N.ensure().then(function () { if (!S.token) show($("login-view"), true); });
    });
  }

  function stopLive() {
    [S.refreshTimer, S.tickTimer, S.pingTimer].forEach(function (t) { if (t) window.clearInterval(t); });
    if (S.wsTimer) window.clearTimeout(S.wsTimer);
    S.refreshTimer = S.tickTimer = S.pingTimer = S.wsTimer = null;
    if (S.ws) { S.ws.onclose = null; S.ws.close(); S.ws = null; }
    setConnection(false);
  }

  // -- presence ---------------------------------------------------------------------------

  function setPresenceUi(status) {
    $("presence").value = status;
    $("presence-dot").classList.toggle("is-away", status === "away");
  }

  function setPresence(status) {
    return api("/api/agent/presence", { body: { status: status } }).then(function () {
      setPresenceUi(status);
      announce(T(status === "away" ? "presence.now_away" : "presence.now_online"));
    }).catch(function (err) { announceError(err.message); });
  }

  // -- language ------------------------------------------------------------------------------

  /* Saved on the account (it follows the agent to any browser), then shown at once. */
  function setLanguage(lang) {
    return api("/api/agent/language", { body: { lang: lang } }).then(function (data) {
      return I18N.load(data.lang).then(function () {
        if (S.me) S.me.lang = data.lang;
        rerender();
        announce(T("language.changed"));
      });
    }).catch(function (err) {
      $("language").value = I18N.lang;
      announceError(T("language.not_saved", { error: err.message }));
    });
  }

  /* Everything the script wrote, again in the language now shown (what the agent typed stays). */
  function rerender() {
    $("language").value = I18N.lang;
    renderConnection();
    renderQueue([]);
    renderMine();
    renderTickets();
    if (S.current) renderConversation(S.current);
    if (S.ticketData) renderTicket(S.ticketData);
    if (S.kbHits) renderKb(S.kbHits); else $("kb-status").textContent = "";
    renderNotify();
    updateBadges();
  }

  function announceError(message) {
    var box = $("alert");
    box.textContent = "";
    window.setTimeout(function () { box.textContent = message; }, 50);
  }

  // -- live feed ----------------------------------------------------------------------------

  function setConnection(on) {
    S.conn = on ? "live" : "reconnecting";
    renderConnection();
  }

  function renderConnection() {
    var c = $("connection");
    c.textContent = T("connection." + S.conn);
    c.className = "conn " + (S.conn === "live" ? "conn--on" : "conn--off");
  }

  function connect() {
    if (!S.token) return;
    var url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws/agent";
    var ws = new WebSocket(url);
    S.ws = ws;
    ws.onopen = function () { ws.send(JSON.stringify({ type: "auth", token: S.token })); };
    ws.onmessage = function (event) {
      var data;
      try { data = JSON.parse(event.data); } catch (e) { return; }
      onEvent(data);
    };
    ws.onclose = function (event) {
      if (S.ws !== ws) return;
      S.ws = null;
      setConnection(false);
      if (S.pingTimer) { window.clearInterval(S.pingTimer); S.pingTimer = null; }
      if (event.code === 4401) {            // the token was refused
        api("/api/agent/me").catch(function () {});
      }
      if (!S.token) return;
      var delay = Math.min(30000, 1000 * Math.pow(2, S.wsRetry)) * (0.75 + Math.random() * 0.5);
      S.wsRetry += 1;
      S.wsTimer = window.setTimeout(connect, delay);
    };
  }

  function onEvent(data) {
    switch (data.type) {
      case "ready":
        S.wsRetry = 0;
        setConnection(true);
        S.pingTimer = window.setInterval(function () {
          if (S.ws && S.ws.readyState === 1) S.ws.send(JSON.stringify({ type: "ping" }));
        }, PING_MS);
        refreshAll();                       // anything missed while disconnected
        break;
      case "queued":
      case "claimed":
      case "closed":
      case "transferred":
        refreshQueue();
        refreshMine();
        if (data.conversation_id === S.currentCid) loadConversation(S.currentCid, { keepScroll: true });
        break;
      case "message":
        onMessageEvent(data);
        break;
      case "note":
        if (data.conversation_id === S.currentCid) loadConversation(S.currentCid);
        break;
      case "typing":
        onTypingEvent(data);
        break;
      default:                              // includes refused typing signals (`for: "typing"`): a courtesy
        break;
    }
  }

  function onMessageEvent(data) {
    var msg = data.message || {};
    var cid = data.conversation_id;
    var mine = msg.role === "shopper" && S.me && data.agent === S.me.email;
    if (cid === S.currentCid) {
      fetchNewMessages();
      if (msg.role === "shopper") {
        hideCustomerTyping();
        announce(T("conversation.shopper_says", { text: msg.text }));
      }
      if (mine && pageHidden()) {           // seen when the agent comes back to the tab
        S.mineInfo[cid] = Object.assign(S.mineInfo[cid] || {}, { unread: true });
        updateBadges();
      }
    } else if (mine) {
      S.mineInfo[cid] = Object.assign(S.mineInfo[cid] || {}, { unread: true });
      renderMine();
      updateBadges();
      announce(T("mine.new_message"));
      beep();
    }
    if (mine) notifyDesktop(T("notify.new_message"), T("conversation.name", { id: shortId(cid) }), cid);
  }

  // -- typing indicators, both ways (gateway/typing_signals.py) -------------------------------

  /* The customer of the open conversation types: "The customer is typing…" while their signals
     keep coming (every few seconds), gone on "stop", on their message or TYPING_SHOWN_MS after. */
  function onTypingEvent(data) {
    if (data.role !== "shopper" || data.conversation_id !== S.currentCid) return;
    if (data.state !== "start") { hideCustomerTyping(); return; }
    var note = $("typing-note");
    note.textContent = T("conversation.customer_typing");
    show(note, true);
    if (S.typingShown) window.clearTimeout(S.typingShown);
    S.typingShown = window.setTimeout(hideCustomerTyping, TYPING_SHOWN_MS);
  }

  function hideCustomerTyping() {
    if (S.typingShown) window.clearTimeout(S.typingShown);
    S.typingShown = null;
    show($("typing-note"), false);
  }

  function typingSignal(cid, state) {
    if (!S.ws || S.ws.readyState !== 1 || !cid) return;
    S.ws.send(JSON.stringify({ type: "typing", conversation_id: cid, state: state }));
  }

  /* The agent types a reply: the customer sees "<name> is typing…" (only in a conversation the
     agent may answer: the reply box is shown for those only). */
  function onReplyTyping() {
    var cid = S.currentCid;
    if (!cid || $("reply-form").hidden) return;
    // an internal note or a "/" command for the canned replies is not a reply being written
    var text = $("reply-text").value.trim();
    if (!text || replyMode() === "note" || /^\/\S*$/.test(text)) { agentStoppedTyping(); return; }
    if (S.typingCid !== cid || Date.now() - S.typingSentAt >= TYPING_EVERY_MS) {
      if (S.typingCid && S.typingCid !== cid) agentStoppedTyping();
      S.typingCid = cid;
      S.typingSentAt = Date.now();
      typingSignal(cid, "start");
    }
    if (S.typingIdle) window.clearTimeout(S.typingIdle);
    S.typingIdle = window.setTimeout(agentStoppedTyping, TYPING_IDLE_MS);
  }

  function agentStoppedTyping() {
    if (S.typingIdle) window.clearTimeout(S.typingIdle);
    S.typingIdle = null;
    if (!S.typingCid) return;
    typingSignal(S.typingCid, "stop");
    S.typingCid = "";
    S.typingSentAt = 0;
  }

  // -- desktop notifications and the tab's badge ----------------------------------------------

  function pageHidden() { return document.visibilityState === "hidden"; }

  function notificationsSupported() { return typeof window.Notification === "function"; }

  function notificationsOn() {
    var on = false;
    try { on = window.localStorage.getItem(NOTIFY_KEY) === "on"; } catch (e) { on = false; }
    return on && notificationsSupported() && window.Notification.permission === "granted";
  }

  function renderNotify() {
    var button = $("notify-toggle");
    show(button, notificationsSupported());
    if (!notificationsSupported()) return;
    button.setAttribute("aria-pressed", String(notificationsOn()));
    button.title = T(window.Notification.permission === "denied" ? "notify.blocked" : "notify.hint");
  }

  function rememberNotify(on) {
    try { window.localStorage.setItem(NOTIFY_KEY, on ? "on" : "off"); } catch (e) { /* private mode */ }
    renderNotify();
    announce(T(on ? "notify.enabled" : "notify.disabled"));
  }

  /* From the button only (a user gesture): the browser's permission is asked at most once,
     when it has not been decided; afterwards the toggle only changes our own preference. */
  function toggleNotify() {
    if (!notificationsSupported()) return;
    if (notificationsOn()) { rememberNotify(false); return; }
    var permission = window.Notification.permission;
    if (permission === "granted") { rememberNotify(true); return; }
    if (permission === "denied") { renderNotify(); announceError(T("notify.blocked")); return; }
    var asked = window.Notification.requestPermission();
    Promise.resolve(asked).then(function (answer) {
      if (answer === "granted") rememberNotify(true);
      else { renderNotify(); announceError(T("notify.blocked")); }
    }).catch(function () { renderNotify(); });
  }

  /* A notification while the tab is in the background; clicking it opens the conversation.
     It names the conversation, never what the customer wrote (screens are seen by others). */
  function notifyDesktop(title, body, cid) {
    if (!pageHidden() || !notificationsOn()) return;
    try {
      var note = new window.Notification(title, { body: body, tag: cid, lang: I18N.lang });
      note.onclick = function () {
        window.focus();
        note.close();
        openConversation(cid);
      };
    } catch (e) { /* the browser refused (e.g. needs a service worker): the badge remains */ }
  }

  /* Conversations that need the agent: everyone waiting, and their own with unseen messages. */
  function attentionCount() {
    var unseen = S.mine.filter(function (cid) { return S.mineInfo[cid] && S.mineInfo[cid].unread; }).length;
    return S.queue.length + unseen;
  }

  function onVisible() {
    if (pageHidden() || !S.currentCid || !S.mineInfo[S.currentCid] || !S.mineInfo[S.currentCid].unread) return;
    S.mineInfo[S.currentCid].unread = false;     // the open conversation is seen again
    renderMine();
    updateBadges();
  }

  // -- notifications -------------------------------------------------------------------------

  function unlockAudio() {
    var Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) return;
    try {
      if (!S.audio) S.audio = new Ctx();
      if (S.audio.state === "suspended") S.audio.resume();
    } catch (e) { S.audio = null; }
  }

  function beep() {
    if (!S.audio) return;
    try {
      var ctx = S.audio, t = ctx.currentTime;
      [0, 0.18].forEach(function (offset, i) {
        var osc = ctx.createOscillator(), gain = ctx.createGain();
        osc.type = "sine";
        osc.frequency.value = i ? 1175 : 880;
        gain.gain.setValueAtTime(0.0001, t + offset);
        gain.gain.exponentialRampToValueAtTime(0.15, t + offset + 0.02);
        gain.gain.exponentialRampToValueAtTime(0.0001, t + offset + 0.16);
        osc.connect(gain).connect(ctx.destination);
        osc.start(t + offset);
        osc.stop(t + offset + 0.17);
      });
    } catch (e) { /* no sound: the badge and the announcement remain */ }
  }

  function updateBadges() {
    var n = S.queue.length;
    var badge = $("queue-badge");
    badge.textContent = String(n);
    show(badge, n > 0);
    badge.setAttribute("aria-label", T("tabs.waiting", { n: I18N.number(n) }));
    $("queue-count").textContent = String(n);
    var overdue = S.tickets.filter(function (tk) { return tk.overdue; }).length;
    var tb = $("tickets-badge");
    tb.textContent = String(S.tickets.length);
    tb.className = "badge" + (overdue ? "" : " badge--muted");
    tb.setAttribute("aria-label", overdue ? I18N.tn("tabs.open_overdue", S.tickets.length, { overdue: overdue })
      : I18N.tn("tabs.open", S.tickets.length));
    show(tb, S.tickets.length > 0);
    var attention = attentionCount();
    document.title = (attention ? "(" + attention + ") " : "") + T("title");
  }

  // -- queue --------------------------------------------------------------------------------

  function refreshAll() {
    if (!S.token) return;
    refreshQueue();
    refreshMine();
    refreshTickets();
    if (S.currentCid) fetchNewMessages();
  }

  function refreshQueue() {
    return api("/api/agent/queue").then(function (data) {
      var queue = data.queue || [];
      var fresh = [];
      if (S.seenQueue) {
        queue.forEach(function (q) { if (!S.seenQueue[q.conversation_id]) fresh.push(q); });
      }
      S.seenQueue = {};
      queue.forEach(function (q) { S.seenQueue[q.conversation_id] = true; });
      S.queue = queue;
      renderQueue(fresh);
      updateBadges();
      if (fresh.length) {
        notifyDesktop(T("notify.new_conversation"), fresh.length === 1
          ? T("notify.new_conversation_body", { reason: reasonText(fresh[0].reason) || T("queue.a_customer"),
                                                lang: (fresh[0].lang || "?").toUpperCase() })
          : T("queue.new_many", { n: I18N.number(fresh.length) }), fresh.length === 1 ? fresh[0].conversation_id : "");
        beep();
        announce(fresh.length === 1
          ? T("queue.new_one", { reason: reasonText(fresh[0].reason) || T("queue.a_customer"),
                                 lang: (fresh[0].lang || "").toUpperCase() })
          : T("queue.new_many", { n: I18N.number(fresh.length) }));
      }
    }).catch(function () {});
  }

  function queueCard(item, isNew) {
    var cid = item.conversation_id;
    var li = el("li", "card" + (isNew ? " is-new" : "") + (cid === S.currentCid ? " is-current" : ""));
    li.dataset.cid = cid;
    var top = el("div", "card__top");
    var lang = el("span", "tag tag--lang", (item.lang || "?").toUpperCase());
    lang.title = T("queue.language");
    top.appendChild(lang);
    top.appendChild(el("span", "tag", channelText(item.channel)));
    if (item.reason) top.appendChild(el("span", "tag tag--reason", reasonText(item.reason)));
    if (item.trigger && item.trigger !== "asked") top.appendChild(el("span", "tag", known("triggers", item.trigger)));
    if (item.files > 0) top.appendChild(el("span", "tag tag--files", T("queue.files", { n: I18N.number(item.files) })));
    li.appendChild(top);
    var open = el("button", "card__open", T("conversation.name", { id: shortId(cid) }));
    open.type = "button";
    open.addEventListener("click", function () { openConversation(cid); });
    li.appendChild(open);
    if (item.subject) li.appendChild(el("p", "card__subject", T("queue.subject", { subject: item.subject })));
    li.appendChild(el("p", "card__summary", item.summary || T("queue.no_summary")));
    var foot = el("div", "card__foot");
    var wait = el("span", "wait");
    wait.dataset.since = String(item.queued_at || 0);
    foot.appendChild(wait);
    var claimBtn = el("button", "btn btn--primary btn--small", T("queue.take"));
    claimBtn.type = "button";
    claimBtn.setAttribute("aria-label", T("queue.take_label", { id: shortId(cid) }));
    claimBtn.addEventListener("click", function () { claim(cid); });
    foot.appendChild(claimBtn);
    li.appendChild(foot);
    return li;
  }

  function renderQueue(fresh) {
    var list = $("queue");
    var freshIds = {};
    (fresh || []).forEach(function (q) { freshIds[q.conversation_id] = true; });
    var keepFocus = document.activeElement && list.contains(document.activeElement)
      ? document.activeElement.closest("[data-cid]") : null;
    var focusCid = keepFocus ? keepFocus.dataset.cid : "";
    clear(list);
    S.queue.forEach(function (item) { list.appendChild(queueCard(item, freshIds[item.conversation_id])); });
    show($("queue-empty"), S.queue.length === 0);
    $("claim-next").disabled = S.queue.length === 0;
    tick();
    if (focusCid) {
      var again = list.querySelector('[data-cid="' + CSS.escape(focusCid) + '"] .card__open');
      if (again) again.focus();
    }
  }

  function tick() {
    var now = Date.now() / 1000;
    document.querySelectorAll(".wait[data-since]").forEach(function (node) {
      var since = parseFloat(node.dataset.since);
      if (!since) { node.textContent = ""; return; }
      var s = now - since;
      node.textContent = T("queue.waiting", { wait: fmtWait(s) });
      node.classList.toggle("is-long", s >= LONG_WAIT_S);
    });
    document.querySelectorAll("[data-due]").forEach(function (node) {
      var due = Date.parse(node.dataset.due);
      var late = !isNaN(due) && due < Date.now();
      node.classList.toggle("is-overdue", late);
    });
  }

  function claim(cid) {
    var path = cid ? "/api/agent/conversations/" + encodeURIComponent(cid) + "/claim" : "/api/agent/queue/claim";
    return api(path, { method: "POST" }).then(function (data) {
      announce(T("conversation.claimed"));
      refreshQueue();
      refreshMine();
      return openConversation(data.conversation_id);
    }).catch(function (err) {
      announceError(err.message);
      refreshQueue();
    });
  }

  // -- my conversations -----------------------------------------------------------------------

  function renderShopHours(me) {
    var shop = me.shop || { open: true }, exception = shop.exception || null;
    var manager = Boolean(shop.can_open);
    show($("closed-banner"), !shop.open);
    if (!shop.open) $("closed-banner").textContent = T("hours.closed_banner", { next: shop.next_opening });
    show($("opened-banner"), Boolean(shop.open && exception));
    if (shop.open && exception) {
      $("opened-banner").textContent = T("opening.opened", { until: minutes(exception.end), by: exception.by });
    }
    var form = $("open-now-form");
    if (!shop.open && manager && form.hidden) {
      var until = $("open-until");
      if (!until.value) until.value = "19:00";
    }
    show(form, !shop.open && manager);
    show($("open-now-back"), Boolean(shop.open && exception && manager));
    show($("hours-bar"), !shop.open || Boolean(exception && shop.open));
  }

  function minutes(total) {
    var h = Math.floor(total / 60), m = total % 60;
    return I18N.date(new Date(2000, 0, 1, h, m), { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
  }

  function openNow(event) {
    event.preventDefault();
    errorBox("opening-error", "");
    api("/api/agent/hours/open-now", { body: { until: $("open-until").value } })
      .then(refreshMine)
      .catch(function (err) { errorBox("opening-error", T("opening.failed", { error: err.message })); });
  }

  function backToCalendar() {
    errorBox("opening-error", "");
    api("/api/agent/hours/open-now", { method: "DELETE" })
      .then(refreshMine)
      .catch(function (err) { errorBox("opening-error", T("opening.failed", { error: err.message })); });
  }

  function refreshMine() {
    return api("/api/agent/me?lang=" + I18N.lang).then(function (me) {
      S.me = me;
      renderShopHours(me);
      S.mine = me.conversations || [];
      return Promise.all(S.mine.map(function (cid) {
        if (S.mineInfo[cid] && S.mineInfo[cid].conv) return null;
        return api("/api/agent/conversations/" + encodeURIComponent(cid) + "?after=1000000").then(function (d) {
          S.mineInfo[cid] = Object.assign(S.mineInfo[cid] || {}, { conv: d.conversation, handoff: d.handoff });
        }).catch(function () {});
      }));
    }).then(renderMine).catch(function () {});
  }

  function renderMine() {
    var list = $("mine");
    clear(list);
    // a conversation closed here is gone from the list at once (the close is sent after the undo delay)
    var shown = S.mine.filter(function (cid) { return !(S.pendingClose && S.pendingClose.cid === cid); });
    shown.forEach(function (cid) {
      var info = S.mineInfo[cid] || {};
      var conv = info.conv || {}, handoff = info.handoff || {};
      var li = el("li", "card" + (cid === S.currentCid ? " is-current" : ""));
      li.dataset.cid = cid;
      var top = el("div", "card__top");
      top.appendChild(el("span", "tag tag--lang", (conv.lang || handoff.lang || "?").toUpperCase()));
      top.appendChild(el("span", "tag", channelText(conv.channel)));
      if (info.unread) top.appendChild(el("span", "badge", T("mine.unread")));
      li.appendChild(top);
      var open = el("button", "card__open", T("conversation.name", { id: shortId(cid) }));
      open.type = "button";
      open.addEventListener("click", function () { openConversation(cid); });
      li.appendChild(open);
      if (handoff.summary) li.appendChild(el("p", "card__summary", handoff.summary));
      list.appendChild(li);
    });
    $("mine-count").textContent = String(shown.length);
    show($("mine-empty"), shown.length === 0);
    updateBadges();
  }

  // -- conversation view --------------------------------------------------------------------

  /* `options.focusReply` false: keep the focus where it is (moving through the lists). */
  function openConversation(cid, options) {
    var focusReply = !options || options.focusReply !== false;
    if (cid !== S.currentCid) closeCanned();   // the same one again (a refresh) keeps an open menu
    switchView("inbox");
    if (S.typingCid && S.typingCid !== cid) agentStoppedTyping();
    if (cid !== S.currentCid) hideCustomerTyping();
    S.currentCid = cid;
    if (S.mineInfo[cid]) S.mineInfo[cid].unread = false;
    $("kb-q").value = "";
    clear($("kb-results"));
    $("kb-status").textContent = "";
    S.kbHits = null;
    errorBox("reply-error", "");
    show($("transfer-form"), false);
    $("conv-transfer-toggle").setAttribute("aria-expanded", "false");
    show($("close-form"), false);
    $("conv-close").setAttribute("aria-expanded", "false");
    var replyRadio = $("reply-form").querySelector("input[name=reply-mode][value=reply]");
    if (!replyRadio.checked) { replyRadio.checked = true; onReplyMode(); }   // a public reply by default
    markCurrent();
    updateBadges();
    return loadConversation(cid).then(function () {
      var box = $("reply-text");
      if (focusReply && !box.closest("form").hidden) box.focus();
    });
  }

  function markCurrent() {
    document.querySelectorAll("#queue .card, #mine .card").forEach(function (card) {
      card.classList.toggle("is-current", card.dataset.cid === S.currentCid);
    });
  }

  function loadConversation(cid) {
    return api("/api/agent/conversations/" + encodeURIComponent(cid)).then(function (data) {
      if (cid !== S.currentCid) return;
      S.current = data;
      S.count = (data.messages || []).length;
      renderConversation(data);
      renderMine();
    }).catch(function (err) {
      if (cid !== S.currentCid) return;
      announceError(T("conversation.open_failed", { error: err.message }));
    });
  }

  var fetching = false, fetchAgain = false;

  function fetchNewMessages() {
    var cid = S.currentCid;
    if (!cid) return;
    if (fetching) { fetchAgain = true; return; }   // one at a time: `after` must not race
    fetching = true;
    var after = S.count;
    api("/api/agent/conversations/" + encodeURIComponent(cid) + "?after=" + after).then(function (data) {
      if (cid !== S.currentCid) return;
      var list = $("transcript");
      var nearBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 80;
      (data.messages || []).forEach(function (m) {
        if (!S.shown[m.message_id]) list.appendChild(messageItem(m));
        S.shown[m.message_id] = true;
      });
      S.count = Math.max(S.count, after + (data.messages || []).length);
      if (S.current) {
        S.current.conversation = data.conversation;
        S.current.handoff = data.handoff;
        S.current.messages = (S.current.messages || []).concat(data.messages || []);
      }
      if (nearBottom) list.scrollTop = list.scrollHeight;
    }).catch(function () {}).then(function () {
      fetching = false;
      if (fetchAgain) { fetchAgain = false; fetchNewMessages(); }
    });
  }

  function holderOf(data) { return (data.conversation || {}).agent || ""; }

  function renderConversation(data) {
    var conv = data.conversation || {}, handoff = data.handoff || {};
    show($("conv-empty"), false);
    show($("conv"), true);
    $("conv-title").textContent = T("conversation.name", { id: shortId(conv.id) });
    var sub = [known("channels", conv.channel), (conv.lang || handoff.lang || "").toUpperCase(),
      reasonText(handoff.reason || conv.reason)].filter(Boolean).join(" · ");
    $("conv-sub").textContent = sub;
    $("conv-subject").textContent = conv.subject ? T("queue.subject", { subject: conv.subject }) : "";
    show($("conv-subject"), Boolean(conv.subject));
    var mine = S.me && holderOf(data) === S.me.email;
    var admin = S.me && S.me.role === "admin" && holderOf(data);
    var queued = conv.state === "queued";
    show($("conv-claim"), queued);
    show($("conv-reopen"), conv.state === "bot" && Boolean(conv.closed_at));
    show($("conv-transfer-toggle"), Boolean(mine || admin));
    show($("conv-close"), Boolean(mine || admin));
    show($("reply-form"), Boolean(mine || admin));
    if (!(mine || admin)) { show($("transfer-form"), false); show($("close-form"), false); }
    var note = $("readonly-note");
    if (mine || admin) {
      show(note, false);
    } else {
      note.textContent = queued ? T("conversation.waiting_note")
        : conv.state === "agent" ? T("conversation.held_note", { agent: holderOf(data) }) : T("conversation.bot_note");
      show(note, true);
    }
    var list = $("transcript");
    clear(list);
    S.shown = {};
    withNotes(data.messages || [], data.notes || []).forEach(function (m) {
      if (m.message_id) S.shown[m.message_id] = true;
      list.appendChild(messageItem(m));
    });
    list.scrollTop = list.scrollHeight;
    renderCustomer(data);
  }

  /* Internal notes between the messages, by time: shown to agents only, and unmistakable. */
  function withNotes(messages, notes) {
    var out = messages.slice();
    notes.forEach(function (n) {
      out.push({ role: "note", author: n.agent, text: n.body, timestamp: n.at, message_id: "note-" + n.at });
    });
    return out.sort(function (a, b) { return (a.timestamp || 0) - (b.timestamp || 0); });
  }

  function messageItem(m) {
    var role = ROLES[m.role] ? m.role : "system";
    var li = el("li", "msg msg--" + role);
    li.dataset.role = role;
    var meta = el("div", "msg__meta");
    meta.appendChild(el("span", "role", T("roles." + role)));
    if (role === "note") {
      meta.appendChild(el("span", "msg__who", m.author || ""));
    } else if (role !== "system") {
      var who = role === "agent" ? (m.author || T("message.agent")) : T(role === "bot" ? "message.bot" : "message.customer");
      meta.appendChild(el("span", "msg__who", who));
    }
    meta.appendChild(timeEl(m.timestamp || 0));
    li.appendChild(meta);
    var body = el("div", "msg__body");
    if (role === "bot" && typeof m.html === "string") {
      body.innerHTML = m.html;          // sanitised by the server (gateway/render.py)
    } else if (role === "system") {
      body.textContent = describeEvent(m);
    } else {
      body.textContent = m.text || "";
    }
    if (m.text || role !== "shopper" || !(m.files || []).length) li.appendChild(body);
    if (Array.isArray(m.files) && m.files.length) li.appendChild(fileList(m.files));
    if (role === "shopper" && MAIL_KEY.test(m.message_id || "")) {
      var original = el("button", "link-btn msg__original", T("mail.original"));
      original.type = "button";
      original.setAttribute("aria-haspopup", "dialog");
      original.addEventListener("click", function () { openOriginal(S.currentCid, m.message_id, original); });
      li.appendChild(original);
    }
    if (m.buttons && m.buttons.length) {
      var chips = el("div", "chips");
      chips.setAttribute("aria-label", T("message.buttons"));
      m.buttons.forEach(function (b) { chips.appendChild(el("span", "chip", b.title)); });
      li.appendChild(chips);
    }
    if (m.attachments && m.attachments.length) {
      m.attachments.forEach(function (url) {
        var p = el("p", "hint", T("message.attachment", { url: url }));   // shown as text, never as a live link
        li.appendChild(p);
      });
    }
    return li;
  }

  /* Shoppers' files: fetched with the agent's token (an <img src> cannot send it, and a token in
     a URL would leak to logs and history), shown from blob: URLs; names only as text. */
  function fileList(files) {
    var box = el("div", "msg__files");
    files.forEach(function (f) {
      var name = String(f.name || ""), image = /^image\//.test(String(f.type || ""));
      var link = el("a", "file" + (image ? " file--image" : ""));
      link.rel = "noopener";
      link.target = "_blank";
      link.setAttribute("aria-label", T(image ? "message.image" : "message.file", { name: name }));
      var img = null;
      if (image) {
        img = el("img", "file__thumb");
        img.alt = T("message.image", { name: name });
        link.appendChild(img);
      } else {
        link.appendChild(el("span", "file__name", name));
        link.download = name;
      }
      var note = el("span", "file__status", T("message.file_loading"));
      link.appendChild(note);
      fileUrl(String(f.id || "")).then(function (url) {
        link.href = url;
        if (img) img.src = url;
        note.remove();
      }).catch(function () { note.textContent = T("message.file_missing"); });
      box.appendChild(link);
    });
    return box;
  }

  function fileUrl(id) {
    if (!S.files[id]) {
      S.files[id] = fetch("/api/agent/attachments/" + encodeURIComponent(id), {
        headers: { Authorization: "Bearer " + S.token }, cache: "no-store"
      }).then(function (res) {
        if (!res.ok) throw new Error("HTTP " + res.status);
        return res.blob();
      }).then(function (blob) { return URL.createObjectURL(blob); });
      S.files[id].catch(function () { delete S.files[id]; });
    }
    return S.files[id];
  }

  function forgetFiles() {
    Object.keys(S.files).forEach(function (id) {
      S.files[id].then(function (url) { URL.revokeObjectURL(url); }, function () {});
    });
    S.files = {};
  }

  function describeEvent(m) {
    if (m.author === "agent_joined") return m.text || T("events.agent_joined");
    if (m.author === "mail_attachments_dropped") return T("events.mail_attachments_dropped", { files: droppedFiles(m.text) });
    var fields = {};
    try { fields = JSON.parse(m.text || "{}") || {}; } catch (e) { fields = { note: m.text }; }
    if (typeof fields !== "object") fields = { note: String(m.text) };
    if (EVENTS[m.author]) {
      var values = { agent: "?", by: "?", to: "?", note: m.text || "" };   // the events' placeholders only
      Object.keys(values).forEach(function (k) {
        if (Object.prototype.hasOwnProperty.call(fields, k) && fields[k] !== undefined) values[k] = String(fields[k]);
      });
      if (m.author === "transferred" && values.to === "queue") values.to = T("events.to_queue");
      return T("events." + m.author, values);
    }
    var extra = Object.keys(fields).map(function (k) { return k + ": " + fields[k]; }).join(", ");
    return (m.author || "event").replace(/_/g, " ") + (extra ? " (" + extra + ")" : "");
  }

  function fact(dl, label, value) {
    if (value === undefined || value === null || value === "") return;
    dl.appendChild(el("dt", "", label));
    var dd = el("dd");
    if (value instanceof Node) dd.appendChild(value); else dd.textContent = String(value);
    dl.appendChild(dd);
  }

  function renderCustomer(data) {
    var conv = data.conversation || {}, handoff = data.handoff || {};
    show($("side-empty"), false);
    show($("side"), true);
    var dl = $("details");
    clear(dl);
    var who = data.customer || {};
    fact(dl, T("profile.emails"), (who.emails || []).join(", ") || T("profile.no_email"));
    fact(dl, T("fields.channel"), known("channels", conv.channel));
    if ((who.channels || []).length > 1) {
      fact(dl, T("profile.channels"), who.channels.map(function (c) { return known("channels", c); }).join(", "));
    }
    fact(dl, T("fields.language"), (conv.lang || handoff.lang || "").toUpperCase() || T("customer.unknown_lang"));
    fact(dl, T("fields.reason"), reasonText(handoff.reason || conv.reason) || T("customer.no_reason"));
    fact(dl, T("fields.summary"), handoff.summary);
    fact(dl, T("fields.trigger"), known("triggers", handoff.trigger));
    fact(dl, T("fields.state"), { bot: T("customer.state_bot"), queued: T("customer.state_queued"),
      agent: T("customer.state_agent", { agent: conv.agent || T("customer.an_agent") }) }[conv.state] || conv.state);
    if (handoff.queued_at) fact(dl, T("fields.queued"), fmtTime(parseFloat(handoff.queued_at)));
    if (conv.created_at) fact(dl, T("fields.started"), fmtTime(parseFloat(conv.created_at)));
    fact(dl, T("fields.customer_id"), conv.sender);

    if (S.firstNameFor !== S.currentCid) {          // not while the agent is typing one
      S.firstNameFor = S.currentCid;
      $("first-name").value = conv.first_name || "";
      $("first-name-status").textContent = "";
    }

    var past = $("past");
    clear(past);
    var earlier = data.past || (data.past_conversations || []).map(function (cid) { return { id: cid }; });
    earlier.forEach(function (c) { past.appendChild(conversationLink(c)); });
    show($("past-empty"), !earlier.length);

    var tickets = $("customer-tickets");
    clear(tickets);
    (data.tickets || []).forEach(function (tk) {
      var li = el("li");
      tickets.appendChild(ticketLink(tk, li));
    });
    show($("customer-tickets-empty"), !(data.tickets || []).length);

    // the cards of the numbers the shopper typed, fetched once per conversation and numbers
    // (the details refresh often; each lookup counts against the account's budget)
    var numbers = data.order_numbers || [], key = S.currentCid + "|" + numbers.join(",");
    if (S.orderCardsFor !== key) {
      S.orderCardsFor = key;
      clear($("order-cards"));
      $("order-status").textContent = "";
      lookUpOrders(numbers);
    }
  }

  function onReply(event) {
    event.preventDefault();
    var box = $("reply-text"), text = box.value.trim(), cid = S.currentCid;
    if (!text || !cid) return;
    errorBox("reply-error", "");
    if (replyMode() === "note") { addNote(cid, text); return; }
    var button = $("reply-form").querySelector("button[type=submit]");
    button.disabled = true;
    agentStoppedTyping();
    api("/api/agent/conversations/" + encodeURIComponent(cid) + "/messages", { body: { text: text } })
      .then(function () {
        box.value = "";
        fetchNewMessages();
      }).catch(function (err) {
        errorBox("reply-error", T("conversation.not_sent", { error: err.message }));
      }).then(function () { button.disabled = false; box.focus(); });
  }

  function onReplyKey(event) {
    if (onCannedKey(event)) return;
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      $("reply-form").requestSubmit();
    }
  }

  /* Closing asks why (solved, spam, duplicate), then waits UNDO_S seconds before telling the
     server: undone in time, nothing happened, and the shopper never saw a close taken back. */
  function toggleCloseForm() {
    var form = $("close-form"), open = form.hidden;
    show(form, open);
    $("conv-close").setAttribute("aria-expanded", String(open));
    if (open) {                                  // "solved" unless the agent says otherwise, every time
      var solved = form.querySelector("input[name=close-reason][value=solved]");
      solved.checked = true;
      solved.focus();
    }
  }

  function closeConversation(event) {
    if (event) event.preventDefault();
    var cid = S.currentCid;
    if (!cid) return;
    var picked = $("close-form").querySelector("input[name=close-reason]:checked");
    var reason = picked && CLOSE_REASONS.indexOf(picked.value) >= 0 ? picked.value : "solved";
    flushClose();                               // one pending close at a time
    show($("close-form"), false);
    $("conv-close").setAttribute("aria-expanded", "false");
    var pending = { cid: cid, reason: reason, left: UNDO_S, timer: null };
    S.pendingClose = pending;
    pending.timer = window.setInterval(function () {
      pending.left -= 1;
      if (pending.left <= 0) flushClose(); else renderUndo();
    }, 1000);
    renderUndo();
    leaveConversation();
    $("undo-close").focus();
  }

  function renderUndo() {
    var p = S.pendingClose;
    show($("undo-bar"), Boolean(p));
    if (p) $("undo-text").textContent = T("close.pending", { id: shortId(p.cid), s: I18N.number(p.left) });
  }

  function undoClose() {
    var p = S.pendingClose;
    if (!p) return;
    window.clearInterval(p.timer);
    S.pendingClose = null;
    renderUndo();
    announce(T("close.undone"));
    openConversation(p.cid);
  }

  /* Sends the pending close now (time is up, another close, or the page is going away). */
  function flushClose(leaving) {
    var p = S.pendingClose;
    if (!p) return;
    window.clearInterval(p.timer);
    S.pendingClose = null;
    renderUndo();
    var path = "/api/agent/conversations/" + encodeURIComponent(p.cid) + "/close";
    if (leaving) {                              // fetch keepalive outlives the page
      fetch(path, { method: "POST", keepalive: true, headers: { "Content-Type": "application/json",
        Authorization: "Bearer " + S.token }, body: JSON.stringify({ reason: p.reason }) });
      return;
    }
    api(path, { body: { reason: p.reason } }).then(function () {
      announce(T("conversation.closed"));
      delete S.mineInfo[p.cid];
      refreshQueue();
      refreshMine();
    }).catch(function (err) { announceError(T("conversation.not_closed", { error: err.message })); });
  }

  function reopenConversation() {
    var cid = S.currentCid;
    if (!cid) return;
    api("/api/agent/conversations/" + encodeURIComponent(cid) + "/reopen", { method: "POST" }).then(function () {
      announce(T("close.reopened"));
      refreshMine();
      return loadConversation(cid);
    }).catch(function (err) { announceError(T("close.not_reopened", { error: err.message })); });
  }

  // -- received e-mails: what was not kept, and the whole original --------------------------

  /* "facture.zip (archive refusée), photo.heic (type non accepté)": names and reasons as text. */
  function droppedFiles(json) {
    var list = [];
    try { list = JSON.parse(json || "[]"); } catch (e) { list = []; }
    if (!Array.isArray(list)) list = [];
    return list.map(function (d) {
      return T("mail.dropped_file", { name: String((d || {}).name || "?"),
                                      reason: known("mail.dropped", String((d || {}).reason || "")) || "?" });
    }).join(", ");
  }

  function openOriginal(cid, key, opener) {
    var dialog = $("mail-dialog");
    S.mailOpener = opener;
    S.mailKey = { cid: cid, key: key };
    $("mail-status").textContent = T("mail.loading");
    clear($("mail-headers"));
    $("mail-text").textContent = "";
    clear($("mail-files"));
    if (!dialog.open) dialog.showModal();
    api("/api/agent/conversations/" + encodeURIComponent(cid) + "/mails/" + encodeURIComponent(key))
      .then(function (mail) {
        if (!S.mailKey || S.mailKey.key !== key) return;
        var dl = $("mail-headers");
        var from = mail.from || {};
        fact(dl, T("mail.from"), from.name ? from.name + " <" + from.address + ">" : from.address);
        fact(dl, T("mail.to"), (mail.to || []).join(", "));
        if ((mail.cc || []).length) fact(dl, T("mail.cc"), mail.cc.join(", "));
        if (mail.date) fact(dl, T("mail.date"), fmtDate(new Date(mail.date)));
        fact(dl, T("mail.subject"), mail.subject || T("mail.no_subject"));
        $("mail-text").textContent = mail.text || "";                  // text only, never markup
        var files = $("mail-files");
        (mail.attachments || []).forEach(function (a) {
          files.appendChild(el("li", "", T("mail.file", { name: a.name, kb: I18N.number(Math.max(1, Math.round((a.size || 0) / 1024))) })));
        });
        (mail.dropped || []).forEach(function (d) {
          files.appendChild(el("li", "", T("mail.dropped_file", { name: d.name, reason: known("mail.dropped", d.reason) })));
        });
        $("mail-status").textContent = mail.truncated ? T("mail.truncated") : "";
      }).catch(function (err) { $("mail-status").textContent = T("mail.not_loaded", { error: err.message }); });
  }

  /* The .eml as received, fetched with the token and saved by the browser (never displayed). */
  function downloadOriginal() {
    var at = S.mailKey;
    if (!at) return;
    fetch("/api/agent/conversations/" + encodeURIComponent(at.cid) + "/mails/" + encodeURIComponent(at.key) + "/raw",
          { headers: { Authorization: "Bearer " + S.token }, cache: "no-store" }).then(function (res) {
      if (!res.ok) throw new Error(T("request_failed", { status: res.status }));
      return res.blob();
    }).then(function (blob) {
      var url = URL.createObjectURL(blob), a = document.createElement("a");
      a.href = url;
      a.download = at.key + ".eml";
      document.body.appendChild(a);
      a.click();
      a.remove();
      window.setTimeout(function () { URL.revokeObjectURL(url); }, 10000);
    }).catch(function (err) { $("mail-status").textContent = T("mail.not_loaded", { error: err.message }); });
  }

  function closeOriginal() {
    $("mail-dialog").close();
  }

  // -- internal notes and canned replies ------------------------------------------------------

  function replyMode() {
    var picked = $("reply-form").querySelector("input[name=reply-mode]:checked");
    return picked ? picked.value : "reply";
  }

  function onReplyMode() {
    var note = replyMode() === "note";
    $("reply-form").classList.toggle("reply--note", note);
    $("reply-text").setAttribute("placeholder", T(note ? "notes.placeholder" : "conversation.reply_placeholder"));
    $("reply-form").querySelector("button[type=submit]").textContent = T(note ? "notes.add" : "conversation.send");
    $("reply-hint").firstElementChild.textContent = T(note ? "notes.hint" : "conversation.reply_hint");
  }

  function addNote(cid, text) {
    var box = $("reply-text");
    return api("/api/agent/conversations/" + encodeURIComponent(cid) + "/notes", { body: { text: text } })
      .then(function () {
        box.value = "";
        announce(T("notes.saved"));
        return loadConversation(cid);
      }).catch(function (err) { errorBox("reply-error", T("notes.not_saved", { error: err.message })); });
  }

  /* One request per conversation however fast the agent types "/suiv" (each key asked again). */
  function loadCanned() {
    var cid = S.currentCid;
    if (S.canned && S.cannedFor === cid) return Promise.resolve(S.canned);
    if (S.cannedLoading && S.cannedLoadingFor === cid) return S.cannedLoading;
    S.cannedLoadingFor = cid;
    S.cannedLoading = api("/api/agent/canned?conversation=" + encodeURIComponent(cid)).then(function (data) {
      S.canned = data.canned || [];
      S.cannedFor = cid;
      S.cannedLoading = null;
      return S.canned;
    }, function (err) { S.cannedLoading = null; throw err; });
    return S.cannedLoading;
  }

  /* "/" at the start of the reply box opens the canned replies; the word after it filters them. */
  function onReplyInput() {
    var box = $("reply-text"), value = box.value;
    var m = /^\/(\S*)$/.exec(value);
    if (!m || replyMode() !== "reply") { closeCanned(); return; }
    var word = m[1].toLowerCase();
    loadCanned().then(function (all) {
      if (box.value !== value) return;             // typed on meanwhile: that key's call renders
      var lang = ((S.current || {}).conversation || {}).lang;
      var hits = all.filter(function (r) {
        return r.shortcut.indexOf(word) === 0 || r.title.toLowerCase().indexOf(word) >= 0;
      }).sort(function (a, b) { return (a.lang === lang ? 0 : 1) - (b.lang === lang ? 0 : 1); });
      renderCanned(hits.slice(0, 8));
    }).catch(function () { if (box.value === value) closeCanned(); });
  }

  function renderCanned(hits) {
    var menu = $("canned-menu");
    clear(menu);
    S.cannedHits = hits;
    S.cannedAt = hits.length ? 0 : -1;
    if (!hits.length) {
      menu.appendChild(el("li", "canned-menu__none", T("canned.none")));
    }
    hits.forEach(function (r, i) {
      var li = el("li", "canned-menu__item");
      li.id = "canned-" + i;
      li.setAttribute("role", "option");
      li.appendChild(el("strong", "", "/" + r.shortcut));
      li.appendChild(document.createTextNode(" " + r.title + " "));
      li.appendChild(el("span", "tag tag--lang", r.lang.toUpperCase()));
      li.appendChild(el("span", "canned-menu__text", r.text || r.body));
      li.addEventListener("mousedown", function (e) { e.preventDefault(); pickCanned(i); });
      menu.appendChild(li);
    });
    show(menu, true);
    markCanned();
  }

  function markCanned() {
    var items = $("canned-menu").querySelectorAll(".canned-menu__item");
    items.forEach(function (li, i) { li.setAttribute("aria-selected", String(i === S.cannedAt)); });
    if (S.cannedAt >= 0) $("reply-text").setAttribute("aria-activedescendant", "canned-" + S.cannedAt);
    else $("reply-text").removeAttribute("aria-activedescendant");
  }

  function closeCanned() {
    show($("canned-menu"), false);
    S.cannedHits = [];
    S.cannedAt = -1;
    $("reply-text").removeAttribute("aria-activedescendant");
  }

  function pickCanned(i) {
    var r = S.cannedHits[i];
    if (!r) return;
    var box = $("reply-text");
    box.value = r.text || r.body;
    closeCanned();
    box.focus();
    box.setSelectionRange(box.value.length, box.value.length);
    announce(T("canned.inserted", { title: r.title }));
  }

  /* Arrow keys move in the open menu, Enter or Tab inserts, Escape closes it. */
  function onCannedKey(event) {
    if ($("canned-menu").hidden) return false;
    var n = S.cannedHits.length;
    if (event.key === "ArrowDown" && n) { S.cannedAt = (S.cannedAt + 1) % n; markCanned(); }
    else if (event.key === "ArrowUp" && n) { S.cannedAt = (S.cannedAt - 1 + n) % n; markCanned(); }
    else if ((event.key === "Enter" || event.key === "Tab") && S.cannedAt >= 0) pickCanned(S.cannedAt);
    else if (event.key === "Escape") closeCanned();
    else return false;
    event.preventDefault();
    event.stopPropagation();
    return true;
  }

  function saveFirstName(event) {
    event.preventDefault();
    var cid = S.currentCid;
    if (!cid) return;
    api("/api/agent/conversations/" + encodeURIComponent(cid) + "/customer",
        { body: { first_name: $("first-name").value.trim() } }).then(function () {
      $("first-name-status").textContent = T("profile.first_name_saved");
      S.canned = null;                           // re-rendered with the name next time
    }).catch(function (err) { $("first-name-status").textContent = err.message; });
  }

  // -- canned replies: the admins' editor --------------------------------------------------------

  function openCannedEditor() {
    var dialog = $("canned-dialog");
    fillCannedForm(null);
    listCannedForAdmin();
    if (!dialog.open) dialog.showModal();
  }

  function listCannedForAdmin() {
    return api("/api/agent/canned").then(function (data) {
      var list = $("canned-admin-list");
      clear(list);
      (data.canned || []).forEach(function (r) {
        var li = el("li", "canned-admin__item");
        var edit = el("button", "link-btn", "/" + r.shortcut + " · " + r.lang.toUpperCase() + " · " + r.title);
        edit.type = "button";
        edit.addEventListener("click", function () { fillCannedForm(r); });
        var del = el("button", "btn btn--small", T("canned.delete"));
        del.type = "button";
        del.setAttribute("aria-label", T("canned.delete") + " /" + r.shortcut + " " + r.lang.toUpperCase());
        del.addEventListener("click", function () {
          api("/api/agent/canned/" + encodeURIComponent(r.id), { method: "DELETE" }).then(function () {
            announce(T("canned.deleted"));
            S.canned = null;
            listCannedForAdmin();
          }).catch(function (err) { errorBox("canned-error", T("canned.failed", { error: err.message })); });
        });
        li.appendChild(edit);
        li.appendChild(del);
        list.appendChild(li);
      });
    }).catch(function (err) { errorBox("canned-error", T("canned.failed", { error: err.message })); });
  }

  function fillCannedForm(r) {
    $("canned-id").value = r ? r.id : "";
    $("canned-shortcut").value = r ? r.shortcut : "";
    $("canned-lang").value = r ? r.lang : I18N.lang;
    $("canned-title").value = r ? r.title : "";
    $("canned-body").value = r ? r.body : "";
    errorBox("canned-error", "");
    $("canned-shortcut").focus();
  }

  function saveCanned(event) {
    event.preventDefault();
    var id = $("canned-id").value;
    var body = { shortcut: $("canned-shortcut").value.trim(), lang: $("canned-lang").value,
                 title: $("canned-title").value.trim(), body: $("canned-body").value.trim() };
    api("/api/agent/canned" + (id ? "/" + encodeURIComponent(id) : ""), { method: id ? "PUT" : "POST", body: body })
      .then(function (data) {
        announce(T("canned.saved"));
        S.canned = null;
        fillCannedForm(data.canned);
        listCannedForAdmin();
      }).catch(function (err) { errorBox("canned-error", T("canned.failed", { error: err.message })); });
  }

  // -- search: conversations and tickets, closed ones included -----------------------------------

  function onDeskSearch(event) {
    event.preventDefault();
    var q = $("desk-q").value.trim();
    var panel = $("search-results");
    show(panel, true);
    clear($("search-conversations"));
    clear($("search-tickets"));
    if (q.length < 2) { $("search-status").textContent = T("search.too_short"); return; }
    $("search-status").textContent = T("search.searching");
    api("/api/agent/search?q=" + encodeURIComponent(q)).then(function (data) {
      var convs = data.conversations || [], tks = data.tickets || [];
      convs.forEach(function (c) { $("search-conversations").appendChild(conversationLink(c, true)); });
      tks.forEach(function (t) { $("search-tickets").appendChild(ticketLink(t, null, true)); });
      var n = convs.length + tks.length;
      $("search-status").textContent = n ? I18N.tn("search.found", n) : T("search.none", { q: q });
    }).catch(function (err) { $("search-status").textContent = T("search.failed", { error: err.message }); });
  }

  function closeSearch() {
    show($("search-results"), false);
    $("desk-q").focus();
  }

  function conversationState(c) {
    if (c.state === "bot" && c.closed_at) {
      return T("search.state_closed", { reason: known("close_reasons", c.close_reason || "solved") });
    }
    return { bot: T("customer.state_bot"), queued: T("customer.state_queued"),
      agent: T("customer.state_agent", { agent: c.agent || T("customer.an_agent") }) }[c.state] || c.state || "";
  }

  function conversationLink(c, fromSearch) {
    var li = el("li");
    var b = el("button", "link-btn", T("conversation.name", { id: shortId(c.id) }));
    b.type = "button";
    b.addEventListener("click", function () { if (fromSearch) show($("search-results"), false); openConversation(c.id); });
    li.appendChild(b);
    if (c.channel || c.state) {
      var when = c.created_at ? fmtTime(parseFloat(c.created_at)) : "";
      li.appendChild(el("span", "hint", " " + T("search.hit_conversation", {
        channel: known("channels", c.channel), state: conversationState(c), date: when })));
    }
    if (c.snippet) li.appendChild(el("p", "snippet", c.snippet));
    return li;
  }

  function ticketLink(tk, li, fromSearch) {
    li = li || el("li");
    var label = tk.id + " · " + known("ticket_status", tk.status) + (tk.email ? " · " + tk.email : "");
    var b = el("button", "link-btn", label);
    b.type = "button";
    b.addEventListener("click", function () { if (fromSearch) show($("search-results"), false); openTicket(tk.id); });
    li.appendChild(b);
    if (tk.snippet) li.appendChild(el("p", "snippet", tk.snippet));
    return li;
  }

  function leaveConversation() {
    agentStoppedTyping();
    hideCustomerTyping();
    S.currentCid = "";
    S.current = null;
    show($("conv"), false);
    show($("conv-empty"), true);
    show($("side"), false);
    show($("side-empty"), true);
    refreshQueue();
    refreshMine();
    $("main").focus();
  }

  // -- transfer -------------------------------------------------------------------------------

  function loadAgents() {
    return api("/api/agent/agents").then(function (data) {
      S.agents = data.agents || [];
      var list = $("agent-list");
      clear(list);
      S.agents.forEach(function (a) {
        if (S.me && a.email === S.me.email) return;
        var opt = document.createElement("option");
        opt.value = a.email;
        opt.label = T("transfer.colleague", { name: a.name || a.email, presence: known("presence", a.presence),
                                              active: I18N.number(a.active) });
        list.appendChild(opt);
      });
    }).catch(function () {});
  }

  function toggleTransfer() {
    var form = $("transfer-form");
    var open = form.hidden;
    show(form, open);
    $("conv-transfer-toggle").setAttribute("aria-expanded", String(open));
    errorBox("transfer-error", "");
    if (open) { loadAgents(); $("transfer-to").focus(); }
  }

  function transfer(to) {
    var cid = S.currentCid;
    if (!cid) return;
    api("/api/agent/conversations/" + encodeURIComponent(cid) + "/transfer", { body: { to: to } })
      .then(function (data) {
        announce(data.to === "queue" ? T("transfer.done_queue") : T("transfer.done_agent", { agent: data.to }));
        $("transfer-to").value = "";
        show($("transfer-form"), false);
        delete S.mineInfo[cid];
        leaveConversation();
      }).catch(function (err) { errorBox("transfer-error", err.message); });
  }

  // -- knowledge base -------------------------------------------------------------------------

  function onKbSearch(event) {
    event.preventDefault();
    var q = $("kb-q").value.trim();
    var results = $("kb-results");
    S.kbHits = null;
    if (!q) { clear(results); $("kb-status").textContent = ""; return; }
    var conv = (S.current || {}).conversation || {};
    var url = "/api/search?k=3&q=" + encodeURIComponent(q) + (conv.lang === "fr" || conv.lang === "en"
      ? "&lang=" + conv.lang : "");
    $("kb-status").textContent = T("kb.searching");
    api(url).then(function (data) {
      renderKb((data.hits || []).slice(0, 3));
    }).catch(function (err) { $("kb-status").textContent = T("kb.failed", { error: err.message }); });
  }

  // -- a ticket's contact reason: chosen from its text, corrected by the agent (counted) ------------

  function reasonOptions() {
    if (S.reasons && S.reasons.lang === I18N.lang) return Promise.resolve(S.reasons.list);
    return api("/api/agent/reasons?lang=" + I18N.lang).then(function (data) {
      S.reasons = { lang: I18N.lang, list: data.reasons || [] };
      return S.reasons.list;
    });
  }

  function renderTicketReason(t) {
    var select = $("ticket-reason");
    $("ticket-reason-status").textContent = "";
    reasonOptions().then(function (list) {
      clear(select);
      var listed = list.some(function (r) { return r.code === t.reason; });
      if (!listed) select.appendChild(el("option", "", reasonText(t.reason) || "—"));
      list.forEach(function (r) {
        var opt = el("option", "", r.label);
        opt.value = r.code;
        opt.selected = r.code === t.reason;
        select.appendChild(opt);
      });
    }).catch(function () {});
  }

  function onTicketReason() {
    var tid = S.ticket && S.ticket.id, reason = $("ticket-reason").value;
    if (!tid || !reason) return;
    api("/api/agent/tickets/" + encodeURIComponent(tid) + "/reason", { body: { reason: reason } })
      .then(function () { $("ticket-reason-status").textContent = T("tickets.reason_saved"); })
      .catch(function (err) { $("ticket-reason-status").textContent = T("tickets.reason_failed", { error: err.message }); });
  }

  // -- orders: the cards of the numbers the shopper typed, and a lookup box ---------------------

  function onOrderSearch(event) {
    event.preventDefault();
    var q = $("order-q").value.trim();
    clear($("order-cards"));
    $("order-status").textContent = "";
    lookUpOrders(q ? [q] : []);   // stays until another conversation opens
  }

  function lookUpOrders(numbers) {
    var seq = S.orderSeq = (S.orderSeq || 0) + 1;   // a newer lookup makes the older answers stale
    if (!numbers.length) return;
    $("order-status").textContent = T("orders.searching");
    var cards = $("order-cards"), pending = numbers.length, found = 0;
    numbers.forEach(function (number) {
      api("/api/agent/orders/" + encodeURIComponent(number) + "?lang=" + I18N.lang).then(function (data) {
        if (seq !== S.orderSeq) return;
        (data.orders || []).forEach(function (o) { cards.appendChild(orderCard(o)); found += 1; });
      }).catch(function (err) {
        if (seq !== S.orderSeq) return;
        var key = { 404: "orders.none", 422: "orders.invalid", 429: "orders.limited", 503: "orders.unavailable" }[err.status];
        $("order-status").textContent = key ? T(key, { number: number, error: err.message })
          : T("orders.failed", { error: err.message });
      }).then(function () {
        pending -= 1;
        if (seq === S.orderSeq && !pending && found) $("order-status").textContent = I18N.tn("orders.found", found);
      });
    });
  }

  function orderCard(o) {
    var li = el("li", "kb__hit");
    li.appendChild(el("p", "kb__title", T("orders.card_title", { number: o.number })));
    var dl = el("dl", "facts");
    fact(dl, T("orders.status"), o.status_label + (o.late ? " · " + T("orders.late") : ""));
    fact(dl, T("orders.carrier"), o.carrier);
    fact(dl, T("orders.eta"), o.eta);
    fact(dl, T("orders.email"), o.email);
    if (o.tracking_url && /^https:\/\//.test(o.tracking_url)) {
      var a = el("a", "", T("orders.track"));
      a.href = o.tracking_url;
      a.target = "_blank";
      a.rel = "noopener noreferrer";
      fact(dl, T("orders.tracking"), a);
    }
    li.appendChild(dl);
    return li;
  }

  function renderKb(hits) {
    var results = $("kb-results");
    S.kbHits = hits;
    clear(results);
    hits.forEach(function (hit) {
      var li = el("li", "kb__hit");
      li.appendChild(el("p", "kb__title", hit.title));
      var text = plainText(hit.answer);
      li.appendChild(el("p", "kb__text", text));
      var insert = el("button", "btn btn--small", T("kb.insert"));
      insert.type = "button";
      insert.setAttribute("aria-label", T("kb.insert_label", { title: hit.title }));
      insert.addEventListener("click", function () { insertReply(text); });
      li.appendChild(insert);
      results.appendChild(li);
    });
    $("kb-status").textContent = hits.length ? I18N.tn("kb.found", hits.length) : T("kb.none");
  }

  function insertReply(text) {
    var box = $("reply-text");
    if (box.closest("form").hidden) return;
    box.value = box.value.trim() ? box.value.replace(/\s*$/, "") + "\n\n" + text : text;
    box.focus();
    box.setSelectionRange(box.value.length, box.value.length);
    announce(T("kb.inserted"));
  }

  // -- tickets --------------------------------------------------------------------------------

  function refreshTickets() {
    var filter = S.ticketFilter ? "?assignee=" + encodeURIComponent(S.ticketFilter) : "";
    return api("/api/agent/tickets" + filter).then(function (data) {
      S.tickets = data.tickets || [];
      renderTickets();
      updateBadges();
    }).catch(function () {});
  }

  function renderTickets() {
    var list = $("tickets");
    clear(list);
    S.tickets.forEach(function (tk) {
      var li = el("li", "card" + (tk.overdue ? " is-overdue" : "") + (S.ticket && S.ticket.id === tk.id ? " is-current" : ""));
      li.dataset.tid = tk.id;
      var top = el("div", "card__top");
      top.appendChild(el("span", "tag tag--lang", (tk.lang || "?").toUpperCase()));
      top.appendChild(el("span", "tag", channelText(tk.channel)));
      if (tk.status === "pending") top.appendChild(el("span", "tag tag--pending", known("ticket_status", "pending")));
      if (tk.assignee) top.appendChild(el("span", "tag", T("assign.to", { agent: agentName(tk.assignee) })));
      if (tk.overdue) top.appendChild(el("span", "tag tag--overdue", T("tickets.overdue")));
      li.appendChild(top);
      var open = el("button", "card__open", tk.id + " · " + (tk.email || ""));
      open.type = "button";
      open.addEventListener("click", function () { openTicket(tk.id); });
      li.appendChild(open);
      li.appendChild(el("p", "card__summary", tk.message));
      var due = el("span", "wait due" + (tk.overdue ? " is-overdue" : ""), T("tickets.due", { date: fmtDate(tk.due) }));
      if (tk.due) due.dataset.due = tk.due;
      li.appendChild(due);
      list.appendChild(li);
    });
    $("tickets-count").textContent = String(S.tickets.length);
    show($("tickets-empty"), S.tickets.length === 0);
  }

  function openTicket(tid) {
    switchView("tickets");
    return api("/api/agent/tickets/" + encodeURIComponent(tid)).then(function (data) {
      S.ticket = data.ticket;
      renderTicket(data);
      renderTickets();
    }).catch(function (err) { announceError(T("tickets.open_failed", { error: err.message })); });
  }

  function renderTicket(data) {
    var t = data.ticket || {};
    S.ticketData = data;
    show($("ticket-empty"), false);
    show($("ticket"), true);
    $("ticket-title").textContent = T("tickets.name", { id: t.id });
    var sub = $("ticket-sub");
    clear(sub);
    sub.appendChild(document.createTextNode((t.email || "") + " · "));
    var due = el("span", "due" + (t.overdue ? " is-overdue" : ""),
                 T(t.overdue ? "tickets.overdue_since" : "tickets.due", { date: fmtDate(t.due) }));
    sub.appendChild(due);
    $("ticket-message").textContent = t.message || "";
    var replies = $("ticket-replies");
    clear(replies);
    (data.replies || []).forEach(function (r) {
      replies.appendChild(messageItem({ role: r.note ? "note" : "agent", author: r.agent, text: r.body, timestamp: r.at }));
    });
    show($("ticket-replies-empty"), !(data.replies || []).length);
    var tr = $("ticket-transcript");
    clear(tr);
    (data.transcript || []).forEach(function (m) { tr.appendChild(messageItem(m)); });
    show($("ticket-transcript-empty"), !(data.transcript || []).length);
    var solved = t.status === "solved";
    errorBox("ticket-note-error", "");
    renderAssignment(t);
    show($("ticket-solve"), !solved);
    show($("ticket-reply-form"), !solved);
    $("ticket-reply-hint").textContent = t.email ? T("tickets.sent_to", { email: t.email }) : T("tickets.sent_to_customer");
    errorBox("ticket-reply-error", "");
    // no SMTP: said before anyone writes a reply that cannot leave (the box is disabled)
    var canEmail = data.can_email !== false;
    $("ticket-reply-text").disabled = !canEmail;
    $("ticket-reply-form").querySelector("button[type=submit]").disabled = !canEmail;
    show($("ticket-no-email"), !canEmail);

    show($("ticket-side-empty"), false);
    show($("ticket-side"), true);
    var dl = $("ticket-details");
    clear(dl);
    fact(dl, T("fields.status"), known("ticket_status", t.status));
    fact(dl, T("fields.email"), t.email);
    fact(dl, T("fields.order"), t.order_number);
    fact(dl, T("fields.language"), (t.lang || "").toUpperCase());
    fact(dl, T("fields.reason"), reasonText(t.reason));
    fact(dl, T("fields.channel"), known("channels", t.channel));
    fact(dl, T("fields.source"), known("ticket_sources", t.source));
    if (t.created_at) fact(dl, T("fields.opened"), fmtTime(parseFloat(t.created_at)));
    fact(dl, T("fields.due"), fmtDate(t.due));
    renderTicketReason(t);
    if (t.conversation_id) {
      var b = el("button", "link-btn", T("conversation.name", { id: shortId(t.conversation_id) }));
      b.type = "button";
      b.addEventListener("click", function () { openConversation(t.conversation_id); });
      fact(dl, T("fields.chat"), b);
    }
  }

  function agentName(email) {
    var a = (S.agents || []).filter(function (x) { return x.email === email; })[0];
    return a && a.name ? a.name : email;
  }

  function renderAssignment(t) {
    $("ticket-status").value = t.status || "open";
    $("ticket-assign-status").textContent = "";
    var select = $("ticket-assignee");
    var fill = function () {
      clear(select);
      var none = el("option", "", T("assign.nobody"));
      none.value = "";
      select.appendChild(none);
      (S.agents || []).forEach(function (a) {
        var opt = el("option", "", S.me && a.email === S.me.email ? T("assign.me") + " (" + (a.name || a.email) + ")"
          : (a.name || a.email));
        opt.value = a.email;
        select.appendChild(opt);
      });
      if (t.assignee && !(S.agents || []).some(function (a) { return a.email === t.assignee; })) {
        var gone = el("option", "", t.assignee);
        gone.value = t.assignee;
        select.appendChild(gone);
      }
      select.value = t.assignee || "";
    };
    fill();
    loadAgents().then(function () { if (S.ticket && S.ticket.id === t.id) fill(); });
  }

  function onAssign() {
    var tid = S.ticket && S.ticket.id;
    if (!tid) return;
    api("/api/agent/tickets/" + encodeURIComponent(tid) + "/assign", { body: { to: $("ticket-assignee").value } })
      .then(function (data) {
        S.ticket = data.ticket;
        $("ticket-assign-status").textContent = T("assign.saved");
        refreshTickets();
      }).catch(function (err) { $("ticket-assign-status").textContent = T("assign.failed", { error: err.message }); });
  }

  function onTicketStatus() {
    var tid = S.ticket && S.ticket.id;
    if (!tid) return;
    api("/api/agent/tickets/" + encodeURIComponent(tid) + "/status", { body: { status: $("ticket-status").value } })
      .then(function () {
        $("ticket-assign-status").textContent = T("assign.status_saved");
        openTicket(tid);
        refreshTickets();
      }).catch(function (err) { $("ticket-assign-status").textContent = T("assign.failed", { error: err.message }); });
  }

  function onTicketNote(event) {
    event.preventDefault();
    var tid = S.ticket && S.ticket.id, box = $("ticket-note-text"), text = box.value.trim();
    if (!tid || !text) return;
    errorBox("ticket-note-error", "");
    api("/api/agent/tickets/" + encodeURIComponent(tid) + "/notes", { body: { text: text } }).then(function () {
      box.value = "";
      announce(T("notes.saved"));
      openTicket(tid);
    }).catch(function (err) { errorBox("ticket-note-error", T("notes.not_saved", { error: err.message })); });
  }

  function onTicketReply(event) {
    event.preventDefault();
    var tid = S.ticket && S.ticket.id, box = $("ticket-reply-text"), text = box.value.trim();
    if (!tid || !text) return;
    errorBox("ticket-reply-error", "");
    api("/api/agent/tickets/" + encodeURIComponent(tid) + "/reply", { body: { text: text } }).then(function () {
      box.value = "";
      announce(T("tickets.sent"));
      openTicket(tid);
      refreshTickets();
    }).catch(function (err) { errorBox("ticket-reply-error", T("tickets.not_sent", { error: err.message })); });
  }

  function solveTicket() {
    var tid = S.ticket && S.ticket.id;
    if (!tid) return;
    api("/api/agent/tickets/" + encodeURIComponent(tid) + "/solve", { method: "POST" }).then(function () {
      announce(T("tickets.solved", { id: tid }));
      S.ticket = null;
      S.ticketData = null;
      show($("ticket"), false);
      show($("ticket-empty"), true);
      show($("ticket-side"), false);
      show($("ticket-side-empty"), true);
      refreshTickets();
    }).catch(function (err) { announceError(T("tickets.not_solved", { error: err.message })); });
  }

  // -- keyboard shortcuts and their help (the list is in index.html, its texts in the locales) ----

  var FOCUSABLE = "button:not([disabled]), [href], input:not([disabled]), select:not([disabled]), " +
    "textarea:not([disabled]), [tabindex]:not([tabindex='-1'])";

  function inField(target) {
    return Boolean(target && target.closest && target.closest("input, textarea, select, [contenteditable]"));
  }

  /* The letter of a key whatever the layout's Alt produces (macOS turns Alt+N into "˜"). */
  function letterOf(event) {
    var key = String(event.key || "");
    if (/^[a-z]$/i.test(key)) return key.toLowerCase();
    var code = /^Key([A-Z])$/.exec(event.code || "");
    return code ? code[1].toLowerCase() : "";
  }

  function openShortcuts() {
    var overlay = $("shortcuts");
    if (!overlay.hidden) return;
    S.shortcutsReturn = document.activeElement;
    show(overlay, true);
    $("app").inert = true;                  // with aria-modal: the console behind is out of reach
    $("shortcuts-close").focus();
  }

  /* `giveFocusBack`: to whatever had it when the list opened (if it is still there). */
  function closeShortcuts(giveFocusBack) {
    var overlay = $("shortcuts");
    if (overlay.hidden) return;
    show(overlay, false);
    $("app").inert = false;
    var back = S.shortcutsReturn;
    S.shortcutsReturn = null;
    if (giveFocusBack === false) return;
    if (back && back.focus && document.contains(back) && back !== document.body) back.focus();
    else $("main").focus();
  }

  function onShortcutsKey(event) {
    if (event.key === "Escape") { event.preventDefault(); closeShortcuts(); return; }
    if (event.key !== "Tab") return;
    var items = Array.prototype.slice.call($("shortcuts").querySelectorAll(FOCUSABLE));
    if (!items.length) { event.preventDefault(); return; }
    var first = items[0], last = items[items.length - 1];
    if (event.shiftKey && (document.activeElement === first || !$("shortcuts").contains(document.activeElement))) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && (document.activeElement === last || !$("shortcuts").contains(document.activeElement))) {
      event.preventDefault();
      first.focus();
    }
  }

  /* Alt+↓ / Alt+↑ (J / K outside a field): the next or previous card of the two lists. */
  function moveConversation(step) {
    var cards = Array.prototype.slice.call(document.querySelectorAll("#queue .card, #mine .card"));
    var cids = cards.map(function (card) { return card.dataset.cid; });
    if (!cids.length) return;
    var at = cids.indexOf(S.currentCid);
    var next = at < 0 ? (step > 0 ? 0 : cids.length - 1) : Math.min(cids.length - 1, Math.max(0, at + step));
    var cid = cids[next], before = document.activeElement;
    openConversation(cid, { focusReply: false }).then(function () {
      var now = document.activeElement;      // the agent moved on meanwhile (Alt+R...): leave it there
      if (cid !== S.currentCid || (now !== before && now !== document.body && now !== $("main"))) return;
      var open = document.querySelector('#queue [data-cid="' + CSS.escape(cid) + '"] .card__open, ' +
                                        '#mine [data-cid="' + CSS.escape(cid) + '"] .card__open');
      if (open) open.focus();
    });
  }

  function clickIfShown(id) {
    var button = $(id);
    if (button && !button.hidden && !button.disabled && button.offsetParent !== null) { button.click(); return true; }
    return false;
  }

  function onShortcut(event) {
    if ($("app").hidden) return;
    if (!$("shortcuts").hidden) { onShortcutsKey(event); return; }
    if (event.ctrlKey || event.metaKey || event.isComposing) return;
    var typing = inField(event.target), letter = letterOf(event);
    if (event.key === "?" && !typing && !event.altKey) { event.preventDefault(); openShortcuts(); return; }
    if (event.altKey) {
      var done = true;
      if (event.key === "ArrowDown") moveConversation(1);
      else if (event.key === "ArrowUp") moveConversation(-1);
      else if (!event.shiftKey && letter === "n") {
        if (S.view !== "inbox") switchView("inbox");
        if (!clickIfShown("claim-next")) announce(T("queue.empty"));
      } else if (!event.shiftKey && letter === "r") {
        var box = $("reply-text");
        if (S.view === "inbox" && !box.closest("form").hidden && S.currentCid) box.focus(); else done = false;
      } else if (event.shiftKey && letter === "t") done = clickIfShown("conv-transfer-toggle");
      else if (event.shiftKey && letter === "c") done = clickIfShown("conv-close");   // the close button's own flow
      else done = false;
      if (done) event.preventDefault();
      return;
    }
    if (typing || event.shiftKey) return;
    if (letter === "j" && event.key.toLowerCase() === "j") { event.preventDefault(); moveConversation(1); }
    else if (letter === "k" && event.key.toLowerCase() === "k") { event.preventDefault(); moveConversation(-1); }
  }

  // -- views ----------------------------------------------------------------------------------

  function switchView(view) {
    S.view = view;
    show($("inbox-view"), view === "inbox");
    show($("tickets-view"), view === "tickets");
    if (view === "inbox") {
      $("tab-inbox").setAttribute("aria-current", "page");
      $("tab-tickets").removeAttribute("aria-current");
    } else {
      $("tab-tickets").setAttribute("aria-current", "page");
      $("tab-inbox").removeAttribute("aria-current");
      refreshTickets();
    }
  }

  // -- wiring ---------------------------------------------------------------------------------

  document.addEventListener("DOMContentLoaded", function () {
    $("login-form").addEventListener("submit", onLogin);
    $("logout").addEventListener("click", onLogout);
    $("presence").addEventListener("change", function (e) { unlockAudio(); setPresence(e.target.value); });
    $("language").addEventListener("change", function (e) { setLanguage(e.target.value); });
    $("claim-next").addEventListener("click", function () { unlockAudio(); claim(""); });
    $("conv-claim").addEventListener("click", function () { claim(S.currentCid); });
    $("conv-close").addEventListener("click", toggleCloseForm);
    $("close-form").addEventListener("submit", closeConversation);
    $("close-cancel").addEventListener("click", function () { toggleCloseForm(); $("conv-close").focus(); });
    $("close-form").addEventListener("keydown", function (e) {
      if (e.key === "Escape") { toggleCloseForm(); $("conv-close").focus(); }
    });
    $("undo-close").addEventListener("click", undoClose);
    $("conv-reopen").addEventListener("click", reopenConversation);
    window.addEventListener("pagehide", function () { flushClose(true); });
    $("reply-form").querySelectorAll("input[name=reply-mode]").forEach(function (r) {
      r.addEventListener("change", onReplyMode);
    });
    $("reply-text").addEventListener("input", onReplyInput);
    $("reply-text").addEventListener("blur", function () {   // a click in the menu, or focus back: stays open
      window.setTimeout(function () { if (document.activeElement !== $("reply-text")) closeCanned(); }, 150);
    });
    $("canned-manage").addEventListener("click", openCannedEditor);
    $("canned-dialog-close").addEventListener("click", function () { $("canned-dialog").close(); });
    $("mail-dialog-close").addEventListener("click", closeOriginal);
    $("mail-download").addEventListener("click", downloadOriginal);
    $("mail-dialog").addEventListener("close", function () {
      S.mailKey = null;
      if (S.mailOpener && document.body.contains(S.mailOpener)) S.mailOpener.focus();
    });
    $("canned-form").addEventListener("submit", saveCanned);
    $("canned-new").addEventListener("click", function () { fillCannedForm(null); });
    $("first-name-form").addEventListener("submit", saveFirstName);
    $("desk-search").addEventListener("submit", onDeskSearch);
    $("search-close").addEventListener("click", closeSearch);
    $("search-results").addEventListener("keydown", function (e) { if (e.key === "Escape") closeSearch(); });
    $("open-now-form").addEventListener("submit", openNow);
    $("open-now-back").addEventListener("click", backToCalendar);
    $("tickets-filter").addEventListener("change", function (e) { S.ticketFilter = e.target.value; refreshTickets(); });
    $("ticket-assignee").addEventListener("change", onAssign);
    $("ticket-status").addEventListener("change", onTicketStatus);
    $("ticket-assign-form").addEventListener("submit", function (e) { e.preventDefault(); });
    $("ticket-note-form").addEventListener("submit", onTicketNote);
    $("conv-transfer-toggle").addEventListener("click", toggleTransfer);
    $("transfer-form").addEventListener("submit", function (e) {
      e.preventDefault();
      var to = $("transfer-to").value.trim();
      if (!to) { errorBox("transfer-error", T("transfer.missing")); return; }
      transfer(to);
    });
    $("transfer-queue").addEventListener("click", function () { transfer(""); });
    $("transfer-form").addEventListener("keydown", function (e) {
      if (e.key === "Escape") { toggleTransfer(); $("conv-transfer-toggle").focus(); }
    });
    $("reply-form").addEventListener("submit", onReply);
    $("reply-text").addEventListener("keydown", onReplyKey);
    $("reply-text").addEventListener("input", onReplyTyping);
    $("notify-toggle").addEventListener("click", toggleNotify);
    $("shortcuts-open").addEventListener("click", openShortcuts);
    $("shortcuts-close").addEventListener("click", function () { closeShortcuts(); });
    $("shortcuts").addEventListener("click", function (e) { if (e.target === $("shortcuts")) closeShortcuts(); });
    document.addEventListener("keydown", onShortcut);
    document.addEventListener("visibilitychange", onVisible);
    window.addEventListener("focus", onVisible);
    $("kb-form").addEventListener("submit", onKbSearch);
    $("order-form").addEventListener("submit", onOrderSearch);
    $("ticket-reason").addEventListener("change", onTicketReason);
    $("ticket-reason-form").addEventListener("submit", function (e) { e.preventDefault(); });
    $("tab-inbox").addEventListener("click", function () { switchView("inbox"); });
    $("tab-tickets").addEventListener("click", function () { switchView("tickets"); });
    $("tickets-refresh").addEventListener("click", refreshTickets);
    $("ticket-reply-form").addEventListener("submit", onTicketReply);
    $("ticket-solve").addEventListener("click", solveTicket);
    document.addEventListener("click", unlockAudio, { once: true });

    S.token = sessionStorage.getItem(TOKEN_KEY);
    if (S.token) {
      start();                               // the account's language, once /me answers
    } else {
      I18N.load(I18N.browserLang()).then(function () {
        document.title = T("title");
        show($("login-view"), true);
      });
    }
  });
})();
