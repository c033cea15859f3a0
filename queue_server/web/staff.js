// The window console (/staff). A member of staff logs in with login, password and window
// number over the hall's websocket (role "counter"), subscribes to the public stream and the
// window's own stream, and works the window: call, recall, start, finish, no-show, transfer,
// pause, resume. Whatever changes, the page asks the server again (snapshot, ticket, stats)
// rather than patching its own copy, so it always shows what the hall holds.
// Plain JavaScript, no external resources.
"use strict";

(function () {
  var PROTOCOL_VERSION = 1;

  var TEXT = {
    zh: {
      title: "窗口工作台", login_title: "登录", login_name: "工号", login_password: "密码",
      login_window: "窗口号", login_submit: "登录", current: "当前办理",
      no_ticket: "暂无办理中的群众", f_service: "事项", f_state: "状态", f_priority: "优先级",
      f_waited: "已等候", f_channel: "取号渠道", materials: "所需材料（据办事指南）",
      form_missing: "群众填写的申请表：自助填表机尚未提交表单，暂无法显示。",
      actions: "操作", call_next: "呼叫下一位", recall: "重呼", start: "开始办理", finish: "办结",
      no_show: "过号", call_ticket: "指定叫号", transfer: "转办", pause: "暂停", resume: "恢复",
      open: "开窗", close: "关窗", pause_placeholder: "暂停原因",
      figures: "本窗口今日数据", s_served: "已办结", s_no_shows: "过号",
      s_service: "平均办理时长", s_wait: "平均等候时长", s_busy: "忙碌占比",
      waiting_title: "本窗口可办事项排队", switch_lang: "English",
      window: function (n) { return n + " 号窗口"; },
      minutes: function (s) { return s == null ? "—" : (s / 60).toFixed(1) + " 分钟"; },
      waiting_count: function (n) { return "等候 " + n + " 人"; },
      conn_live: "已连接", conn_offline: "未连接", conn_connecting: "正在连接…",
      state_idle: "空闲", state_calling: "叫号中", state_serving: "办理中",
      state_paused: "暂停", state_closed: "已关闭",
      t_waiting: "排队中", t_called: "已叫号", t_serving: "办理中", t_done: "已办结",
      t_no_show: "已过号", t_cancelled: "已取消",
      done: "已完成", auth_failed: "登录失败：工号、密码或窗口不正确",
      called_msg: function (n) { return "已呼叫 " + n; },
      paused_because: function (r) { return "暂停原因：" + r; },
    },
    en: {
      title: "Window console", login_title: "Log in", login_name: "Login",
      login_password: "Password", login_window: "Window", login_submit: "Log in",
      current: "Now serving", no_ticket: "Nobody at the window", f_service: "Service",
      f_state: "State", f_priority: "Priority", f_waited: "Waited", f_channel: "Channel",
      materials: "Materials required (from the guide)",
      form_missing: "The resident's application form: the kiosk does not submit forms yet.",
      actions: "Actions", call_next: "Call next", recall: "Recall", start: "Start",
      finish: "Finish", no_show: "No-show", call_ticket: "Call this number",
      transfer: "Transfer", pause: "Pause", resume: "Resume", open: "Open", close: "Close",
      pause_placeholder: "Reason for the pause", figures: "This window today",
      s_served: "Served", s_no_shows: "No-shows", s_service: "Mean service time",
      s_wait: "Mean wait", s_busy: "Busy share", waiting_title: "Waiting for this window",
      switch_lang: "中文",
      window: function (n) { return "Window " + n; },
      minutes: function (s) { return s == null ? "—" : (s / 60).toFixed(1) + " min"; },
      waiting_count: function (n) { return n + " waiting"; },
      conn_live: "Connected", conn_offline: "Offline", conn_connecting: "Connecting…",
      state_idle: "Idle", state_calling: "Calling", state_serving: "Serving",
      state_paused: "Paused", state_closed: "Closed",
      t_waiting: "Waiting", t_called: "Called", t_serving: "Being served", t_done: "Done",
      t_no_show: "Missed", t_cancelled: "Cancelled",
      done: "Done", auth_failed: "Login failed: login, password or window is wrong",
      called_msg: function (n) { return "Called " + n; },
      paused_because: function (r) { return "Paused: " + r; },
    },
  };

  var state = {
    lang: "zh",
    counter: null, // the window number once logged in
    login: "",
    me: null, // this window's entry of the public snapshot
    services: [], // service status entries
    ticket: null, // full ticket view of the current resident
    guides: {}, // service id -> catalog entry
    priorities: {}, // priority class name -> {label_zh, label_en}
    stats: null,
    conn: "offline",
  };
  var socket = null;
  var nextId = 1;
  var pending = {}; // request id -> callback(msg)
  var refreshTimer = null;

  function $(id) { return document.getElementById(id); }
  function t() { return TEXT[state.lang]; }
  function setText(id, text) { var el = $(id); if (el.textContent !== text) el.textContent = text; }

  // --- websocket ----------------------------------------------------------------------------

  function socketUrl() {
    var base = location.pathname.replace(/\/staff\/?$/, "");
    return (location.protocol === "https:" ? "wss://" : "ws://") + location.host + base + "/ws";
  }

  function request(message, callback) {
    if (!socket || socket.readyState !== WebSocket.OPEN) return;
    message.v = PROTOCOL_VERSION;
    message.id = nextId++;
    if (callback) pending[message.id] = callback;
    socket.send(JSON.stringify(message));
  }

  function command(body) {
    request({ type: "command", command: body }, function (msg) {
      if (msg.type === "error") {
        showMessage(state.lang === "zh" ? msg.message_zh : msg.message_en, true);
      } else {
        var called = (msg.result.events || []).filter(function (e) {
          return e.type === "ticket_called";
        });
        showMessage(called.length ? t().called_msg(called[0].number) : t().done, false);
        refresh();
      }
    });
  }

  function connect(login, password, counter) {
    state.conn = "connecting";
    render();
    var ws = new WebSocket(socketUrl());
    socket = ws;
    ws.onopen = function () {
      request({ type: "hello", lang: state.lang,
        auth: { kind: "staff", login: login, password: password, counter: counter } },
      function (msg) {
        if (msg.type !== "welcome") {
          setText("login-error", state.lang === "zh" ? msg.message_zh : msg.message_en);
          ws.close();
          return;
        }
        state.counter = msg.counter;
        state.login = login;
        state.conn = "live";
        $("login").hidden = true;
        $("desk").hidden = false;
        $("desk").setAttribute("data-counter", String(msg.counter));
        request({ type: "subscribe", streams: ["public", "counter"] });
        loadPriorities();
        refresh();
        render();
      });
    };
    ws.onmessage = function (event) {
      var msg;
      try { msg = JSON.parse(event.data); } catch (e) { return; }
      if ((msg.type === "reply" || msg.type === "error" || msg.type === "welcome") &&
          pending[msg.id]) {
        var callback = pending[msg.id];
        delete pending[msg.id];
        callback(msg);
        return;
      }
      if (msg.type === "status") {
        state.services = msg.services;
        renderWaiting();
      } else if (msg.type === "event" || msg.type === "snapshot") {
        scheduleRefresh();
      }
    };
    ws.onclose = function () {
      if (ws !== socket) return;
      socket = null;
      state.conn = "offline";
      render();
      if (state.counter !== null) {
        // Logged in before: log in again by itself (the password is kept only in this closure).
        setTimeout(function () { connect(login, password, counter); }, 2000);
      }
    };
  }

  // --- what the hall holds now ---------------------------------------------------------------

  function scheduleRefresh() {
    if (refreshTimer !== null) return;
    refreshTimer = setTimeout(function () { refreshTimer = null; refresh(); }, 50);
  }

  function refresh() {
    request({ type: "query", query: "snapshot" }, function (msg) {
      if (msg.type !== "reply") return;
      var snap = msg.result.state;
      state.services = snap.services;
      state.me = snap.counters.filter(function (c) { return c.id === state.counter; })[0] || null;
      var number = state.me && state.me.ticket;
      if (number) {
        request({ type: "query", query: "ticket", ticket: number }, function (reply) {
          state.ticket = reply.type === "reply" ? reply.result.ticket : null;
          if (state.ticket) loadGuide(state.ticket.service);
          render();
        });
      } else {
        state.ticket = null;
        render();
      }
    });
    request({ type: "query", query: "stats" }, function (msg) {
      if (msg.type === "reply") { state.stats = msg.result.window; renderStats(); }
    });
  }

  function loadPriorities() {
    var xhr = new XMLHttpRequest();
    xhr.open("GET", "api/services");
    xhr.onload = function () {
      if (xhr.status !== 200) return;
      JSON.parse(xhr.responseText).priorities.forEach(function (p) {
        state.priorities[p.name] = p;
      });
      render();
    };
    xhr.send();
  }

  function loadGuide(serviceId) {
    if (state.guides[serviceId]) return;
    var xhr = new XMLHttpRequest();
    xhr.open("GET", "api/services/" + encodeURIComponent(serviceId));
    xhr.onload = function () {
      if (xhr.status === 200) {
        state.guides[serviceId] = JSON.parse(xhr.responseText);
        render();
      }
    };
    xhr.send();
  }

  // --- rendering ------------------------------------------------------------------------------

  function showMessage(text, isError) {
    setText("message", text);
    $("message").className = "message" + (isError ? " error" : "");
  }

  function render() {
    var tx = t();
    document.documentElement.lang = state.lang === "zh" ? "zh-CN" : "en";
    document.querySelectorAll("[data-i18n]").forEach(function (el) {
      el.textContent = tx[el.getAttribute("data-i18n")];
    });
    document.querySelectorAll("[data-i18n-placeholder]").forEach(function (el) {
      el.placeholder = tx[el.getAttribute("data-i18n-placeholder")];
    });
    setText("lang", tx.switch_lang);
    setText("conn", tx["conn_" + state.conn]);
    $("conn").setAttribute("data-state", state.conn);
    setText("who", state.counter !== null ? "· " + tx.window(state.counter) + " · " + state.login : "");
    document.title = state.counter !== null ? tx.window(state.counter) + " · " + tx.title : tx.title;
    if (state.counter === null) return;

    var me = state.me;
    setText("counter-state", me ? tx["state_" + me.state] || me.state : "");
    $("counter-state").setAttribute("data-state", me ? me.state : "");
    $("pause-reason").hidden = !(me && me.state === "paused" && me.pause_reason);
    if (me && me.pause_reason) setText("pause-reason", tx.paused_because(me.pause_reason));

    var ticket = state.ticket;
    $("ticket").hidden = !ticket;
    $("no-ticket").hidden = Boolean(ticket);
    if (ticket) {
      setText("ticket-number", ticket.number);
      setText("ticket-service", state.lang === "zh" ? ticket.service_name_zh : ticket.service_name_en);
      setText("ticket-state", tx["t_" + ticket.state] || ticket.state);
      var priority = state.priorities[ticket.priority];
      setText("ticket-priority", priority
        ? (state.lang === "zh" ? priority.label_zh : priority.label_en) : ticket.priority);
      setText("ticket-channel", ticket.channel);
      var end = ticket.called_at ? new Date(ticket.called_at) : new Date();
      setText("ticket-waited", tx.minutes((end - new Date(ticket.arrival)) / 1000));
      renderMaterials(state.guides[ticket.service]);
    }
    var busy = Boolean(ticket);
    var open = Boolean(me) && me.state !== "paused" && me.state !== "closed";
    $("btn-call-next").disabled = busy || !open;
    $("btn-call-ticket").disabled = busy || !open;
    $("btn-pause").disabled = !me || me.state === "paused" || me.state === "closed";
    $("btn-resume").disabled = !me || me.state !== "paused";
    $("btn-open").disabled = !me || me.state !== "closed";
    $("btn-close").disabled = !me || me.state === "closed";
    $("btn-recall").disabled = !(ticket && ticket.state === "called");
    $("btn-start").disabled = !(ticket && ticket.state === "called");
    $("btn-no-show").disabled = !(ticket && ticket.state === "called");
    $("btn-finish").disabled = !(ticket && ticket.state === "serving");
    $("btn-transfer").disabled = !ticket;
    renderTransferChoices();
    renderWaiting();
    renderStats();
  }

  function renderMaterials(guide) {
    var list = $("materials");
    list.textContent = "";
    if (!guide) return;
    guide.materials.forEach(function (m) {
      var item = document.createElement("li");
      item.textContent = state.lang === "zh" ? m.describe_zh : m.describe_en;
      list.appendChild(item);
    });
  }

  function renderTransferChoices() {
    var select = $("transfer-service");
    if (select.options.length === state.services.length && select.getAttribute("data-lang") === state.lang) return;
    var chosen = select.value;
    select.textContent = "";
    state.services.forEach(function (s) {
      var option = document.createElement("option");
      option.value = s.service;
      option.textContent = s.queue + " · " + (state.lang === "zh" ? s.name_zh : s.name_en);
      select.appendChild(option);
    });
    select.setAttribute("data-lang", state.lang);
    if (chosen) select.value = chosen;
  }

  function renderWaiting() {
    var list = $("waiting");
    list.textContent = "";
    var tx = t();
    var skills = state.me ? state.me.skills : {};
    state.services.filter(function (s) { return s.service in skills; })
      .sort(function (a, b) { return skills[a.service] - skills[b.service] || (a.queue < b.queue ? -1 : 1); })
      .forEach(function (s) {
        var item = document.createElement("li");
        var name = document.createElement("span");
        name.textContent = s.queue + " · " + (state.lang === "zh" ? s.name_zh : s.name_en);
        var count = document.createElement("b");
        count.textContent = tx.waiting_count(s.waiting);
        item.appendChild(name);
        item.appendChild(count);
        item.setAttribute("data-service", s.service);
        list.appendChild(item);
      });
  }

  function renderStats() {
    var s = state.stats;
    var tx = t();
    if (!s) return;
    setText("stat-served", String(s.served));
    setText("stat-no-shows", String(s.no_shows));
    setText("stat-service", tx.minutes(s.mean_service_s));
    setText("stat-wait", tx.minutes(s.mean_wait_s));
    setText("stat-busy", s.busy_share == null ? "—" : Math.round(s.busy_share * 100) + "%");
  }

  // --- wiring ---------------------------------------------------------------------------------

  document.addEventListener("DOMContentLoaded", function () {
    var asked = new URLSearchParams(location.search).get("lang");
    if (asked === "en") state.lang = "en";
    $("login").addEventListener("submit", function (event) {
      event.preventDefault();
      setText("login-error", "");
      connect($("login-name").value.trim(), $("login-password").value,
        parseInt($("login-window").value, 10));
    });
    $("lang").addEventListener("click", function () {
      state.lang = state.lang === "zh" ? "en" : "zh";
      render();
    });
    function on(id, make) {
      $(id).addEventListener("click", function () {
        var body = make();
        if (body) command(body);
      });
    }
    var c = function () { return state.counter; };
    on("btn-call-next", function () { return { type: "call_next", counter: c() }; });
    on("btn-recall", function () { return { type: "recall", counter: c() }; });
    on("btn-start", function () { return { type: "start", counter: c() }; });
    on("btn-finish", function () { return { type: "finish", counter: c() }; });
    on("btn-no-show", function () { return { type: "no_show", counter: c() }; });
    on("btn-resume", function () { return { type: "resume", counter: c() }; });
    on("btn-open", function () { return { type: "open_counter", counter: c() }; });
    on("btn-close", function () { return { type: "close_counter", counter: c() }; });
    on("btn-pause", function () {
      return { type: "pause", counter: c(), reason: $("pause-input").value.trim() };
    });
    on("btn-call-ticket", function () {
      var number = $("call-number").value.trim().toUpperCase();
      return number ? { type: "call_ticket", counter: c(), ticket: number } : null;
    });
    // A number once called, or a reason once used, is not left in the box for the next time.
    $("btn-call-ticket").addEventListener("click", function () { $("call-number").value = ""; });
    $("btn-pause").addEventListener("click", function () { $("pause-input").value = ""; });
    on("btn-transfer", function () {
      return { type: "transfer", counter: c(), to_service: $("transfer-service").value };
    });
    render();
    // Waited times move on by themselves.
    setInterval(function () { if (state.ticket) render(); }, 30000);
  });
})();
