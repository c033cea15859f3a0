// The resident's ticket page. The QR code on the ticket opens <base>/t/<token>; this script
// reads the token from the path, opens the hall's websocket (<base>/ws, wss when the page is
// https), authenticates as "resident", subscribes to its own ticket and the public notices,
// and shows the ticket live. It reconnects with exponential backoff and jitter; the resident
// stream answers every subscribe with a fresh snapshot, so nothing is missed across a drop.
// Plain JavaScript, no external resources.
"use strict";

(function () {
  var PROTOCOL_VERSION = 1;
  var BACKOFF_MIN_MS = 1000;
  var BACKOFF_MAX_MS = 30000;

  var TEXT = {
    zh: {
      title: "我的排队号",
      hall: "一口受理",
      switch_lang: "English",
      switch_label: "Switch to English",
      loading: "正在查询您的排队号…",
      your_number: "您的号码",
      priority: function (ticket) {
        var label = ticket.priority_label_zh || ticket.priority;
        return /优先$/.test(label) ? label : label + "优先";
      },
      ahead_label: "前面还有",
      wait_label: "预计等候",
      ahead: function (n) { return n + " 人"; },
      wait: function (min) { return "约 " + min + " 分钟"; },
      wait_soon: "马上就到",
      wait_unknown: "暂无法估算",
      state_waiting: "排队中",
      state_called: "正在叫您的号",
      state_serving: "正在办理",
      state_done: "已办结",
      state_no_show: "已过号",
      state_cancelled: "已取消",
      call: function (c) { return "请到 " + c + " 号窗口"; },
      call_hint: "请带好证件材料，尽快前往",
      recall_hint: function (n) { return "第 " + (n + 1) + " 次叫号，请尽快前往"; },
      serving_at: function (c) { return "正在 " + c + " 号窗口办理"; },
      advice_waiting: "请留在大厅内，\n叫号时本页会提醒您。",
      advice_done: "业务已办结，感谢您的耐心等候。",
      advice_no_show: "您的号已过号。如仍需办理，请到服务台咨询或重新取号。",
      advice_cancelled: "此号已取消。如需办理，请重新取号。",
      expired: "二维码已过期，请重新取号",
      expired_hint: "号票只在取号当天有效。",
      invalid: "二维码无效，请重新取号",
      invalid_hint: "请扫描号票上的二维码打开本页。",
      gone: "此号已失效，请重新取号",
      gone_hint: "号票只在取号当天有效。",
      conn_live: "已连接 · 实时更新",
      conn_connecting: "正在连接…",
      conn_offline: "网络中断，正在重新连接…",
    },
    en: {
      title: "My ticket",
      hall: "Community service hall",
      switch_lang: "中文",
      switch_label: "切换到中文",
      loading: "Looking up your ticket…",
      your_number: "Your number",
      priority: function (ticket) {
        return "Priority: " + (ticket.priority_label_en || ticket.priority);
      },
      ahead_label: "People ahead",
      wait_label: "Estimated wait",
      ahead: function (n) { return String(n); },
      wait: function (min) { return "about " + min + " min"; },
      wait_soon: "Any moment",
      wait_unknown: "Not known yet",
      state_waiting: "Waiting",
      state_called: "You are being called",
      state_serving: "Being served",
      state_done: "Completed",
      state_no_show: "Missed",
      state_cancelled: "Cancelled",
      call: function (c) { return "Please go to window " + c; },
      call_hint: "Bring your documents and go now",
      recall_hint: function (n) { return "Call no. " + (n + 1) + " — please go now"; },
      serving_at: function (c) { return "Being served at window " + c; },
      advice_waiting: "Please stay in the hall; this page will tell you when you are called.",
      advice_done: "Your business is done. Thank you for waiting.",
      advice_no_show: "Your number was missed. Ask at the service desk or take a new ticket.",
      advice_cancelled: "This ticket was cancelled. Please take a new ticket if you still need to.",
      expired: "This code has expired. Please take a new ticket.",
      expired_hint: "A ticket is valid only on the day it was taken.",
      invalid: "This code is not valid. Please take a new ticket.",
      invalid_hint: "Open this page by scanning the QR code on your ticket.",
      gone: "This ticket is no longer valid. Please take a new ticket.",
      gone_hint: "A ticket is valid only on the day it was taken.",
      conn_live: "Connected · live",
      conn_connecting: "Connecting…",
      conn_offline: "Offline — reconnecting…",
    },
  };

  var view = {
    lang: initialLang(),
    hall: null, // {zh, en}
    ticket: null, // the server's ticket view
    gone: false, // the resident stream says the ticket no longer exists
    failure: null, // "expired" | "invalid": final, no reconnect
    conn: "connecting",
    notices: {}, // id -> {text_zh, text_en}
  };
  var socket = null;
  var attempts = 0;
  var sessions = 0; // welcomes received: 1 on the first connection, +1 per reconnection
  var retryTimer = null;
  var publicSeq = null;
  var lastAlert = null; // "<counter>/<recalls>" of the call we last vibrated for

  function $(id) { return document.getElementById(id); }

  function initialLang() {
    var asked = new URLSearchParams(location.search).get("lang");
    if (asked === "en" || asked === "zh") return asked;
    try {
      var stored = localStorage.getItem("yikou.lang");
      if (stored === "en" || stored === "zh") return stored;
    } catch (e) { /* storage disabled: keep the default */ }
    return "zh";
  }

  function tokenFromPath() {
    var match = location.pathname.match(/\/t\/([^/]+)\/?$/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  function socketUrl() {
    var base = location.pathname.replace(/\/t\/[^/]*\/?$/, "");
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    return scheme + location.host + base + "/ws";
  }

  // --- rendering ---------------------------------------------------------------------------

  function minutes(seconds) {
    return Math.max(1, Math.round(seconds / 60));
  }

  function setText(id, text) {
    var el = $(id);
    if (el.textContent !== text) el.textContent = text;
  }

  function render() {
    var t = TEXT[view.lang];
    document.documentElement.lang = view.lang === "zh" ? "zh-CN" : "en";
    document.querySelectorAll("[data-i18n]").forEach(function (el) {
      el.textContent = t[el.getAttribute("data-i18n")];
    });
    setText("lang", t.switch_lang);
    $("lang").setAttribute("aria-label", t.switch_label);
    $("lang").lang = view.lang === "zh" ? "en" : "zh-CN";
    setText("hall", view.hall ? view.hall[view.lang] : t.hall);
    setText("conn", view.failure ? "" : t["conn_" + view.conn]);
    $("conn").setAttribute("data-state", view.conn);

    var failure = view.failure || (view.gone ? "gone" : null);
    $("error").hidden = !failure;
    if (failure) {
      setText("error-text", t[failure]);
      setText("error-hint", t[failure + "_hint"]);
    }
    var ticket = failure ? null : view.ticket;
    $("loading").hidden = Boolean(ticket || failure);
    $("ticket").hidden = !ticket;
    if (ticket) renderTicket(ticket, t);
    renderNotices();
    document.title = titleFor(ticket, t);
  }

  function renderTicket(ticket, t) {
    var state = ticket.state;
    var card = $("ticket");
    card.className = "card state-" + state +
      (state === "done" ? " done" : "") +
      (state === "no_show" || state === "cancelled" ? " over" : "");
    card.setAttribute("data-state", state);
    setText("service", view.lang === "zh" ? ticket.service_name_zh : ticket.service_name_en);
    setText("number", ticket.number);
    // The class the hall granted (not what the kiosk asked for), shown only when it is not
    // the ordinary one: "老年人优先" / "Priority: Elderly".
    var priority = ticket.priority && ticket.priority !== "normal";
    $("priority").hidden = !priority;
    if (priority) setText("priority", t.priority(ticket));
    setText("state", state === "serving" && ticket.counter != null
      ? t.serving_at(ticket.counter) : t["state_" + state] || state);

    var called = state === "called" && ticket.counter != null;
    $("call").hidden = !called;
    if (called) {
      setText("call-text", t.call(ticket.counter));
      setText("call-hint", ticket.recalls > 0 ? t.recall_hint(ticket.recalls) : t.call_hint);
    }

    var waiting = state === "waiting";
    $("waiting").hidden = !waiting;
    if (waiting) {
      setText("ahead", ticket.ahead == null ? "—" : t.ahead(ticket.ahead));
      var s = ticket.estimated_wait_s;
      setText("wait", s == null ? t.wait_unknown : s < 60 ? t.wait_soon : t.wait(minutes(s)));
    }
    var advice = { waiting: t.advice_waiting, done: t.advice_done,
      no_show: t.advice_no_show, cancelled: t.advice_cancelled }[state];
    setText("advice", advice || "");
  }

  function renderNotices() {
    var list = $("notices");
    var ids = Object.keys(view.notices);
    list.hidden = ids.length === 0 || Boolean(view.failure);
    list.textContent = "";
    ids.forEach(function (id) {
      var notice = view.notices[id];
      var item = document.createElement("li");
      item.textContent = view.lang === "en" && notice.text_en ? notice.text_en : notice.text_zh;
      list.appendChild(item);
    });
  }

  function titleFor(ticket, t) {
    if (ticket && ticket.state === "called" && ticket.counter != null) {
      return ticket.number + " · " + t.call(ticket.counter);
    }
    return ticket ? ticket.number + " · " + t.title : t.title;
  }

  function alertIfCalled(ticket) {
    if (!ticket || ticket.state !== "called") return;
    var key = ticket.counter + "/" + ticket.recalls;
    if (key === lastAlert) return;
    lastAlert = key;
    if (navigator.vibrate) {
      try { navigator.vibrate([400, 200, 400, 200, 400]); } catch (e) { /* not allowed */ }
    }
  }

  // --- messages ----------------------------------------------------------------------------

  function showTicket(ticket) {
    view.ticket = ticket;
    view.gone = !ticket;
    if (ticket) alertIfCalled(ticket);
    render();
  }

  function onPublic(kind, data) {
    if (kind === "snapshot") {
      view.notices = {};
      (data.state.notices || []).forEach(function (n) { view.notices[n.id] = n; });
    } else if (data.type === "notice_posted") {
      view.notices[data.notice_id] = { text_zh: data.text_zh, text_en: data.text_en };
    } else if (data.type === "notice_removed") {
      delete view.notices[data.notice_id];
    } else {
      return;
    }
    render();
  }

  function onMessage(raw) {
    var msg;
    try { msg = JSON.parse(raw); } catch (e) { return; }
    switch (msg.type) {
      case "welcome":
        attempts = 0;
        sessions += 1;
        $("conn").setAttribute("data-sessions", String(sessions));
        view.hall = { zh: msg.hall_name_zh, en: msg.hall_name_en };
        view.conn = "live";
        send({ type: "subscribe", id: "resident", streams: ["resident"] });
        send({ type: "subscribe", id: "public", streams: ["public"], since: publicSeq });
        render();
        break;
      case "ticket":
        showTicket(msg.ticket);
        break;
      case "snapshot":
        if (msg.stream === "resident") {
          showTicket(msg.state.ticket);
        } else if (msg.stream === "public") {
          publicSeq = msg.seq;
          onPublic("snapshot", msg);
        }
        break;
      case "event":
        if (msg.stream === "public") {
          publicSeq = msg.seq;
          onPublic("event", msg.event);
        }
        break;
      case "error":
        if (msg.id === "hello") {
          // A refused code is final: retrying the same token cannot succeed.
          view.failure = msg.code === "token_expired" ? "expired"
            : msg.code === "auth_failed" ? "invalid" : null;
          if (view.failure) {
            stop();
            render();
          }
        }
        break;
      default:
        break; // status, reply, pong: nothing to show
    }
  }

  function send(message) {
    if (socket && socket.readyState === WebSocket.OPEN) {
      message.v = PROTOCOL_VERSION;
      socket.send(JSON.stringify(message));
    }
  }

  // --- connection --------------------------------------------------------------------------

  function connect() {
    retryTimer = null;
    if (view.failure) return;
    var token = tokenFromPath();
    if (!token) {
      view.failure = "invalid";
      render();
      return;
    }
    var ws;
    try {
      ws = new WebSocket(socketUrl());
    } catch (e) {
      scheduleRetry();
      return;
    }
    socket = ws;
    ws.onopen = function () {
      send({ type: "hello", id: "hello", lang: view.lang,
        auth: { kind: "resident", token: token } });
    };
    ws.onmessage = function (event) {
      if (ws === socket) onMessage(event.data);
    };
    ws.onclose = function () {
      if (ws !== socket) return;
      socket = null;
      if (view.failure) return;
      view.conn = "offline";
      render();
      scheduleRetry();
    };
  }

  function scheduleRetry() {
    if (retryTimer !== null || view.failure) return;
    var delay = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * Math.pow(2, attempts));
    attempts += 1;
    retryTimer = setTimeout(connect, delay * (0.5 + Math.random()));
  }

  function reconnectNow() {
    if (socket || view.failure) return;
    if (retryTimer !== null) clearTimeout(retryTimer);
    attempts = 0;
    connect();
  }

  function stop() {
    if (retryTimer !== null) clearTimeout(retryTimer);
    retryTimer = null;
    if (socket) {
      var ws = socket;
      socket = null;
      ws.close();
    }
  }

  function toggleLang() {
    view.lang = view.lang === "zh" ? "en" : "zh";
    try { localStorage.setItem("yikou.lang", view.lang); } catch (e) { /* ignore */ }
    render();
  }

  document.addEventListener("DOMContentLoaded", function () {
    $("lang").addEventListener("click", toggleLang);
    // A phone that slept or changed networks: try at once instead of waiting out the backoff.
    window.addEventListener("online", reconnectNow);
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "visible") reconnectNow();
    });
    render();
    connect();
  });
})();
