// The window console (/staff). A member of staff logs in with login, password and window
// number over the hall's websocket (role "counter"), subscribes to the public stream and the
// window's own stream, and works the window: call, recall, start, finish, no-show, transfer,
// pause, resume. Whatever changes, the page asks the server again (snapshot, ticket, stats)
// rather than patching its own copy, so it always shows what the hall holds. For the resident
// at the window it shows the form they submitted at the kiosk (ticket_form: only this window
// may read it, only while it has called or serves them), the materials already on file for
// that resident (materials_on_file by ticket: same rule), and files the materials checked.
// The websocket plumbing and the texts' machinery are common.js's.
// Plain JavaScript, no external resources.
"use strict";

(function () {
  var Y = window.Yikou;
  var $ = Y.$;
  var setText = Y.setText;
  var el = Y.el;

  var TEXT = {
    zh: {
      title: "窗口工作台", login_title: "登录", login_name: "工号", login_password: "密码",
      login_window: "窗口号", login_submit: "登录", current: "当前办理",
      no_ticket: "暂无办理中的群众", f_service: "事项", f_state: "状态", f_priority: "优先级",
      f_waited: "已等候", f_channel: "取号渠道", materials: "所需材料（据办事指南）",
      form_title: "群众填写的申请表", form_missing: "未提交表格", form_loading: "正在读取表格…",
      submitted_at: function (time) { return "提交于 " + time; },
      file_materials: "材料已存档", brought: "群众自报携带", filed: "已存档",
      filed_msg: function (n) { return "已存档 " + n + " 项材料"; },
      none_checked: "请先勾选已核验的材料",
      on_file_error: function (m) { return "无法读取已存档材料：" + m; },
      yes: "是", no: "否",
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
      channels: { kiosk: "自助填表机", navigator: "导航信息机", web: "网上预约", app: "手机应用",
        wechat: "微信", hotline: "服务热线", window: "窗口", staff: "工作人员" },
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
      form_title: "The resident's application form", form_missing: "No form submitted",
      form_loading: "Reading the form…",
      submitted_at: function (time) { return "Submitted " + time; },
      file_materials: "Materials filed", brought: "resident says brought", filed: "on file",
      filed_msg: function (n) { return n + " material(s) filed"; },
      none_checked: "Tick the materials you checked first",
      on_file_error: function (m) { return "Cannot read the materials on file: " + m; },
      yes: "Yes", no: "No",
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
      channels: { kiosk: "Kiosk", navigator: "Navigator", web: "Web", app: "App",
        wechat: "WeChat", hotline: "Hotline", window: "Window", staff: "Staff" },
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
    // The current ticket's form: {ticket, status: "loading" | "ok" | "missing" | "error",
    // form, error}. Asked once per ticket; dropped with the ticket (nothing of it is kept).
    form: null,
    checked: {}, // material key -> ticked, for the current ticket
    // What the hall holds for the current ticket's resident: {ticket, status: "loading" | "ok"
    // | "no_resident" | "error", materials, error}. Asked as soon as the ticket is called,
    // updated by filing, dropped with the ticket.
    onFile: null,
  };
  var refreshTimer = null;
  var drawn = {}; // part -> the data it was last drawn from: unchanged parts are not redrawn

  function t() { return TEXT[state.lang]; }

  function changed(part, data) {
    var key = JSON.stringify([state.lang, data]);
    if (drawn[part] === key) return false;
    drawn[part] = key;
    return true;
  }

  var hall = new Y.Connection({
    page: "staff",
    onState: function (conn) { state.conn = conn; render(); },
    onRefused: function (msg) {
      setText("login-error", msg.type === "error" ? Y.errorText(msg, state.lang) : t().auth_failed);
    },
    onWelcome: function (msg) {
      state.counter = msg.counter;
      $("login").hidden = true;
      $("desk").hidden = false;
      $("desk").setAttribute("data-counter", String(msg.counter));
      hall.request({ type: "subscribe", streams: ["public", "counter"] });
      loadPriorities();
      refresh();
      render();
    },
    onPush: function (msg) {
      if (msg.type === "status") {
        state.services = msg.services;
        renderWaiting();
      } else if (msg.type === "event" || msg.type === "snapshot") {
        scheduleRefresh();
      }
    },
  });

  function command(body) {
    hall.command(body, function (msg) {
      if (msg.type === "error") {
        Y.showMessage(Y.errorText(msg, state.lang), true);
      } else {
        var called = (msg.result.events || []).filter(function (e) {
          return e.type === "ticket_called";
        });
        Y.showMessage(called.length ? t().called_msg(called[0].number) : t().done, false);
        refresh();
      }
    });
  }

  // --- what the hall holds now ---------------------------------------------------------------

  function scheduleRefresh() {
    if (refreshTimer !== null) return;
    refreshTimer = setTimeout(function () { refreshTimer = null; refresh(); }, 50);
  }

  function refresh() {
    hall.request({ type: "query", query: "snapshot" }, function (msg) {
      if (msg.type !== "reply") return;
      var snap = msg.result.state;
      state.services = snap.services;
      state.me = snap.counters.filter(function (c) { return c.id === state.counter; })[0] || null;
      var number = state.me && state.me.ticket;
      if (number) {
        hall.request({ type: "query", query: "ticket", ticket: number }, function (reply) {
          setTicket(reply.type === "reply" ? reply.result.ticket : null);
        });
      } else {
        setTicket(null);
      }
    });
    hall.request({ type: "query", query: "stats" }, function (msg) {
      if (msg.type === "reply") { state.stats = msg.result.window; renderStats(); }
    });
  }

  function setTicket(ticket) {
    var before = state.ticket ? state.ticket.id : null;
    state.ticket = ticket;
    if (!ticket || ticket.id !== before) {
      // Another resident (or none): nothing of the last one's form stays on the page.
      state.form = null;
      state.checked = {};
      state.onFile = null;
    }
    if (ticket) {
      loadGuide(ticket.service);
      loadForm(ticket.id);
      loadOnFile(ticket.id);
    }
    render();
  }

  function loadForm(ticketId) {
    if (state.form && state.form.ticket === ticketId) return;
    state.form = { ticket: ticketId, status: "loading" };
    hall.request({ type: "query", query: "ticket_form", ticket_id: ticketId }, function (msg) {
      if (!state.form || state.form.ticket !== ticketId) return; // the resident changed
      if (msg.type === "reply") {
        state.form = { ticket: ticketId, status: "ok", form: msg.result };
        loadGuide(msg.result.service_id);
      } else if (msg.code === "form_not_found") {
        state.form = { ticket: ticketId, status: "missing" };
      } else if (msg.code === "form_not_yours") {
        state.form = null; // not (or no longer) at this window: ask again on the next change
      } else {
        state.form = { ticket: ticketId, status: "error", error: msg };
      }
      render();
    });
  }

  function loadOnFile(ticketId) {
    if (state.onFile && state.onFile.ticket === ticketId) return;
    state.onFile = { ticket: ticketId, status: "loading", materials: [] };
    hall.request({ type: "query", query: "materials_on_file", ticket_id: ticketId }, function (msg) {
      if (!state.onFile || state.onFile.ticket !== ticketId) return; // the resident changed
      if (msg.type === "reply") {
        state.onFile = { ticket: ticketId, status: "ok", materials: msg.result.materials };
      } else if (msg.code === "no_resident") {
        state.onFile = { ticket: ticketId, status: "no_resident", materials: [], error: msg };
      } else if (msg.code === "form_not_yours") {
        state.onFile = null; // not (or no longer) at this window: ask again on the next change
      } else {
        state.onFile = { ticket: ticketId, status: "error", materials: [], error: msg };
      }
      render();
    });
  }

  function fileMaterials() {
    var ticket = state.ticket;
    if (!ticket) return;
    var materials = Object.keys(state.checked).filter(function (k) { return state.checked[k]; });
    if (!materials.length) {
      Y.showMessage(t().none_checked, true);
      return;
    }
    hall.request({ type: "file_materials", ticket_id: ticket.id, materials: materials },
      function (msg) {
        if (msg.type === "error") {
          Y.showMessage(Y.errorText(msg, state.lang), true);
          return;
        }
        if (state.ticket && state.ticket.id === msg.result.ticket_id) {
          state.onFile = { ticket: msg.result.ticket_id, status: "ok", materials: msg.result.materials };
          state.checked = {};
        }
        Y.showMessage(t().filed_msg(materials.length), false);
        render();
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

  function render() {
    var tx = t();
    Y.applyTexts(tx, state.lang);
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
      // The ticket view carries the granted class's labels; the catalog's list is the fallback.
      var priority = state.priorities[ticket.priority];
      var own = state.lang === "zh" ? ticket.priority_label_zh : ticket.priority_label_en;
      setText("ticket-priority", own || (priority
        ? (state.lang === "zh" ? priority.label_zh : priority.label_en) : ticket.priority));
      setText("ticket-channel", tx.channels[ticket.channel] || ticket.channel);
      var end = ticket.called_at ? new Date(ticket.called_at) : new Date();
      setText("ticket-waited", tx.minutes((end - new Date(ticket.arrival)) / 1000));
      // The form's labels come from the service it was submitted for (a transfer changes the
      // ticket's service, not the form).
      var formService = state.form && state.form.status === "ok" ? state.form.form.service_id : null;
      renderForm(formService ? state.guides[formService] : null);
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

  // A form value as the window reads it: a choice by its label, yes/no in words.
  function shownValue(value, field) {
    var tx = t();
    if (value === null || value === undefined || value === "") return "—";
    if (value === true) return tx.yes;
    if (value === false) return tx.no;
    if (field && field.options && field.options.length) {
      var option = field.options.filter(function (o) { return o.value === value; })[0];
      if (option) return state.lang === "zh" ? option.zh : option.en;
    }
    return String(value);
  }

  function renderForm(guide) {
    var form = state.form;
    var status = form ? form.status : "loading";
    $("form-missing").hidden = status !== "missing";
    $("form-loading").hidden = status !== "loading";
    $("form-error").hidden = status !== "error";
    if (status === "error") setText("form-error", Y.errorText(form.error, state.lang));
    var data = status === "ok" ? form.form : null;
    $("form-panel").setAttribute("data-state", status);
    setText("form-submitted", data ? t().submitted_at(Y.hallTime(data.submitted_at)) : "");
    if (!changed("form", [form ? form.ticket : null, data, guide ? guide.id : null])) return;
    var list = $("form-fields");
    list.textContent = "";
    if (!data) return;
    // In the order of the service's form in the catalog, then anything the catalog lacks.
    var defs = guide ? guide.form : [];
    var keys = defs.map(function (f) { return f.key; });
    Object.keys(data.fields).forEach(function (k) { if (keys.indexOf(k) < 0) keys.push(k); });
    keys.forEach(function (key) {
      if (!(key in data.fields)) return;
      var field = defs.filter(function (f) { return f.key === key; })[0];
      var row = el("div", { "data-field": key });
      row.appendChild(el("dt", {}, field ? (state.lang === "zh" ? field.label_zh : field.label_en) : key));
      row.appendChild(el("dd", { id: "form-field-" + key }, shownValue(data.fields[key], field)));
      list.appendChild(row);
    });
  }

  function renderMaterials(guide) {
    var tx = t();
    var brought = state.form && state.form.status === "ok" ? state.form.form.materials : [];
    var ticketId = state.ticket ? state.ticket.id : null;
    var onFile = state.onFile || { status: "loading", materials: [] };
    var held = onFile.materials;
    // A ticket without a document has nobody to file for: said before anything is ticked.
    var note = onFile.status === "no_resident" ? Y.errorText(onFile.error, state.lang)
      : onFile.status === "error" ? tx.on_file_error(Y.errorText(onFile.error, state.lang)) : "";
    setText("materials-note", note);
    $("materials-note").hidden = !note;
    $("materials").setAttribute("data-on-file", onFile.status);
    $("btn-file-materials").disabled = !guide || onFile.status === "no_resident";
    if (!changed("materials", [ticketId, guide ? guide.id : null, brought, onFile.status, held])) {
      return;
    }
    var list = $("materials");
    list.textContent = "";
    if (!guide) return;
    guide.materials.forEach(function (m) {
      var isHeld = held.indexOf(m.key) >= 0;
      var item = el("li", { "data-material": m.key, "class": isHeld ? "on-file" : "" });
      var label = el("label", {});
      var box = el("input", { type: "checkbox", id: "material-" + m.key });
      // On file already: ticked and greyed, nothing to ask the resident for.
      box.checked = isHeld || Boolean(state.checked[m.key]);
      box.disabled = isHeld;
      box.addEventListener("change", function () { state.checked[m.key] = box.checked; });
      label.appendChild(box);
      label.appendChild(el("span", {}, state.lang === "zh" ? m.describe_zh : m.describe_en));
      item.appendChild(label);
      if (brought.indexOf(m.key) >= 0) item.appendChild(el("span", { "class": "tag" }, tx.brought));
      if (isHeld) item.appendChild(el("span", { "class": "tag filed" }, tx.filed));
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
    state.lang = Y.askedLang();
    $("login").addEventListener("submit", function (event) {
      event.preventDefault();
      setText("login-error", "");
      state.login = $("login-name").value.trim();
      hall.open({ kind: "staff", login: state.login, password: $("login-password").value,
        counter: parseInt($("login-window").value, 10) }, state.lang);
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
    $("btn-file-materials").addEventListener("click", fileMaterials);
    render();
    // Waited times move on by themselves.
    setInterval(function () { if (state.ticket) render(); }, 30000);
  });
})();
