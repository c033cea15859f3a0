// The hall manager's console (/manager). Logs in as "manager" over the hall's websocket,
// subscribes to the manager and public streams and, on every change, asks for the manager
// snapshot again (every counter, every ticket) and today's statistics. From here the manager
// moves tickets in the dispatch order, changes their priority or cancels them, re-skills,
// opens and closes windows, posts and removes notices, and exports the day's figures as CSV
// (the server computes them from the event log and sends the CSV text; the page only saves it).
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
      title: "值班长工作台", login_title: "值班长登录", login_name: "工号", login_password: "密码",
      login_submit: "登录", counters: "窗口", c_window: "窗口", c_state: "状态",
      c_ticket: "当前号", c_served: "已办", c_skills: "技能（层级以 ; 分隔）", queues: "排队",
      stats: "今日统计", t_issued: "取号", t_served: "办结", t_no_shows: "过号",
      t_wait: "平均等候 / P90", t_service: "平均办理时长", load: "窗口忙闲", l_served: "办结",
      l_no_shows: "过号", l_service: "平均办理", l_busy: "忙碌占比", refresh: "刷新",
      csv: "导出 CSV", notices: "公告（综合屏）", notice_zh: "公告内容（中文）",
      notice_en: "English text (optional)", post: "发布公告", devices: "设备状态",
      d_terminal: "终端", d_connection: "连接", d_parts: "部件", online: "在线", offline: "离线",
      part_ok: "正常", alert: function (items) { return "设备告警：" + items.join("；"); },
      parts: { printer: "打印机", reader: "读卡器", scanner: "扫码器", screen: "屏幕", speaker: "音箱" },
      details: { paper_out: "缺纸", paper_low: "纸将用完", cover_open: "仓盖打开", jam: "卡纸",
        offline: "离线", no_card: "未放卡", error: "故障" },
      switch_lang: "English", open: "开窗", close: "关窗", reskill: "改技能",
      up: "前移", down: "后移", cancel: "取消", remove: "撤下", nobody: "无人等候",
      waiting: function (n) { return n + " 人等候"; },
      waited: function (s) { return "已等 " + Math.round(s / 60) + " 分"; },
      minutes: function (s) { return s == null ? "—" : (s / 60).toFixed(1) + " 分钟"; },
      conn_live: "已连接", conn_offline: "未连接", conn_connecting: "正在连接…",
      state_idle: "空闲", state_calling: "叫号中", state_serving: "办理中",
      state_paused: "暂停", state_closed: "已关闭", done: "已完成",
      confirm_cancel: function (n) { return "确定取消 " + n + " 号？"; },
    },
    en: {
      title: "Manager console", login_title: "Manager log in", login_name: "Login",
      login_password: "Password", login_submit: "Log in", counters: "Windows",
      c_window: "Window", c_state: "State", c_ticket: "Ticket", c_served: "Served",
      c_skills: "Skills (tiers separated by ;)", queues: "Queues", stats: "Today",
      t_issued: "Issued", t_served: "Served", t_no_shows: "No-shows", t_wait: "Mean wait / p90",
      t_service: "Mean service time", load: "Load per window", l_served: "Served",
      l_no_shows: "No-shows", l_service: "Mean service", l_busy: "Busy share",
      refresh: "Refresh", csv: "Export CSV", notices: "Notices (main screen)",
      notice_zh: "Notice (Chinese)", notice_en: "English text (optional)", post: "Post notice",
      devices: "Devices", d_terminal: "Terminal", d_connection: "Connection", d_parts: "Parts",
      online: "Online", offline: "Offline", part_ok: "OK",
      alert: function (items) { return "Device alerts: " + items.join("; "); },
      parts: { printer: "printer", reader: "ID reader", scanner: "scanner", screen: "screen", speaker: "speaker" },
      details: { paper_out: "out of paper", paper_low: "paper low", cover_open: "cover open",
        jam: "paper jam", offline: "offline", no_card: "no card", error: "fault" },
      switch_lang: "中文", open: "Open", close: "Close", reskill: "Re-skill", up: "Up",
      down: "Down", cancel: "Cancel", remove: "Remove", nobody: "Nobody waiting",
      waiting: function (n) { return n + " waiting"; },
      waited: function (s) { return Math.round(s / 60) + " min"; },
      minutes: function (s) { return s == null ? "—" : (s / 60).toFixed(1) + " min"; },
      conn_live: "Connected", conn_offline: "Offline", conn_connecting: "Connecting…",
      state_idle: "Idle", state_calling: "Calling", state_serving: "Serving",
      state_paused: "Paused", state_closed: "Closed", done: "Done",
      confirm_cancel: function (n) { return "Cancel ticket " + n + "?"; },
    },
  };

  var COMMAND_ZH = {
    move_ticket: "调整顺序", change_priority: "修改优先级", cancel_ticket: "取消号",
    reskill: "修改技能", open_counter: "开窗", close_counter: "关窗",
    post_notice: "发布公告", remove_notice: "撤下公告",
  };

  var state = { lang: "zh", login: "", snap: null, stats: null, csv: "", conn: "offline",
    priorities: [], devices: [] };
  var refreshTimer = null;
  var typedLogin = ""; // shown once the server accepts it
  var editing = {}; // counter id -> skills text being typed (kept across refreshes)
  var drawn = {}; // part -> the data it was last drawn from: unchanged parts are not redrawn

  function changed(part, data) {
    var key = JSON.stringify([state.lang, state.priorities.length, data]);
    if (drawn[part] === key) return false;
    drawn[part] = key;
    return true;
  }

  function t() { return TEXT[state.lang]; }

  // --- websocket ----------------------------------------------------------------------------

  var hall = new Y.Connection({
    page: "manager",
    accept: function (msg) { return msg.role === "manager"; },
    onState: function (conn) { state.conn = conn; render(); },
    onRefused: function (msg) {
      setText("login-error", msg.type === "error" ? Y.errorText(msg, state.lang) : "not a manager");
    },
    onWelcome: function () {
      state.login = typedLogin;
      $("login").hidden = true;
      $("desk").hidden = false;
      hall.request({ type: "subscribe", streams: ["manager", "public"] });
      loadPriorities();
      refresh();
    },
    onPush: function (msg) {
      if (msg.type === "event") {
        scheduleRefresh();
      } else if (msg.type === "devices") {
        state.devices = msg.devices;
        renderDevices();
      }
    },
  });

  function command(body) {
    hall.command(body, function (msg) {
      if (msg.type === "error") {
        Y.showMessage(Y.errorText(msg, state.lang), true);
      } else {
        var names = state.lang === "zh" ? COMMAND_ZH : {};
        Y.showMessage(t().done + " · " + (names[body.type] || body.type), false);
        refresh();
      }
    });
  }

  function scheduleRefresh() {
    if (refreshTimer !== null) return;
    refreshTimer = setTimeout(function () { refreshTimer = null; refresh(); }, 100);
  }

  function refresh() {
    hall.request({ type: "query", query: "snapshot" }, function (msg) {
      if (msg.type !== "reply") return;
      state.snap = msg.result.state;
      $("desk").setAttribute("data-seq", String(msg.result.seq));
      render();
    });
    hall.request({ type: "query", query: "stats" }, function (msg) {
      if (msg.type !== "reply") return;
      state.stats = msg.result.stats;
      state.csv = msg.result.csv;
      renderStats();
    });
  }

  function loadPriorities() {
    var xhr = new XMLHttpRequest();
    xhr.open("GET", "api/services");
    xhr.onload = function () {
      if (xhr.status === 200) {
        state.priorities = JSON.parse(xhr.responseText).priorities;
        render();
      }
    };
    xhr.send();
  }

  // --- skills as text: "E; A" or "renshe.social_insurance_card liuguan.residence_permit; E" ---

  function skillsText(skills) {
    var tiers = [];
    Object.keys(skills).forEach(function (service) {
      var tier = skills[service];
      (tiers[tier] = tiers[tier] || []).push(service);
    });
    var byQueue = {};
    state.snap.services.forEach(function (s) { (byQueue[s.queue] = byQueue[s.queue] || []).push(s.service); });
    return tiers.filter(Boolean).map(function (services) {
      var parts = [];
      var left = services.slice();
      Object.keys(byQueue).sort().forEach(function (queue) {
        var all = byQueue[queue];
        if (all.every(function (s) { return left.indexOf(s) >= 0; })) {
          parts.push(queue);
          left = left.filter(function (s) { return all.indexOf(s) < 0; });
        }
      });
      return parts.concat(left).join(" ");
    }).join("; ");
  }

  function parseSkills(text) {
    return text.split(";").map(function (tier) {
      return tier.split(/[\s,，]+/).filter(Boolean);
    }).filter(function (tier) { return tier.length; });
  }

  // --- rendering ------------------------------------------------------------------------------

  function render() {
    var tx = t();
    Y.applyTexts(tx, state.lang);
    setText("lang", tx.switch_lang);
    setText("conn", tx["conn_" + state.conn]);
    $("conn").setAttribute("data-state", state.conn);
    setText("who", state.login ? "· " + state.login : "");
    document.title = tx.title;
    if (!state.snap) return;
    renderCounters();
    renderQueues();
    renderNotices();
    renderStats();
    renderDevices();
  }

  function partText(name, part) {
    var tx = t();
    var label = tx.parts[name] || name;
    if (part.ok) return label + " " + tx.part_ok;
    return label + " " + (tx.details[part.detail] || part.detail || "✕");
  }

  function renderDevices() {
    var tx = t();
    var alerts = [];
    var body = $("devices").querySelector("tbody");
    body.textContent = "";
    state.devices.forEach(function (d) {
      var bad = [];
      var row = el("tr", { id: "device-" + d.terminal });
      row.appendChild(el("td", {}, d.terminal));
      row.appendChild(el("td", { "class": d.connected ? "ok-cell" : "bad-cell" },
        d.connected ? tx.online : tx.offline));
      var parts = el("td", {});
      Object.keys(d.parts).sort().forEach(function (name) {
        var part = d.parts[name];
        parts.appendChild(el("span", { "class": "part " + (part.ok ? "ok-cell" : "bad-cell"),
          "data-part": name }, partText(name, part)));
        if (!part.ok) bad.push(partText(name, part));
      });
      row.appendChild(parts);
      if (!d.connected) bad.unshift(tx.offline);
      row.setAttribute("data-alert", bad.length ? "1" : "0");
      if (bad.length) alerts.push(d.terminal + " " + bad.join("、"));
      body.appendChild(row);
    });
    $("alerts").hidden = !alerts.length;
    $("alerts").textContent = alerts.length ? tx.alert(alerts) : "";
  }

  function renderCounters() {
    var tx = t();
    if (!changed("counters", state.snap.counters)) return;
    var body = $("counters").querySelector("tbody");
    var focused = document.activeElement && document.activeElement.getAttribute("data-skills");
    body.textContent = "";
    state.snap.counters.forEach(function (c) {
      var row = el("tr", { id: "counter-" + c.id, "data-state": c.state });
      row.appendChild(el("td", { "class": "num" }, String(c.id)));
      row.appendChild(el("td", { "class": "state", "data-state": c.state },
        (tx["state_" + c.state] || c.state) + (c.pause_reason ? "（" + c.pause_reason + "）" : "")));
      row.appendChild(el("td", {}, c.ticket || "—"));
      row.appendChild(el("td", { "class": "num" }, String(c.served_today)));
      var skillCell = el("td", {});
      var input = el("input", { id: "skills-" + c.id, "data-skills": String(c.id) });
      input.value = c.id in editing ? editing[c.id] : skillsText(c.skills);
      input.setAttribute("data-current", skillsText(c.skills));
      input.addEventListener("input", function () { editing[c.id] = input.value; });
      skillCell.appendChild(input);
      row.appendChild(skillCell);
      var actions = el("td", { "class": "actions" });
      var reskill = el("button", { id: "reskill-" + c.id, type: "button", "class": "small" }, tx.reskill);
      reskill.addEventListener("click", function () {
        delete editing[c.id];
        command({ type: "reskill", counter: c.id, skills: parseSkills(input.value) });
      });
      actions.appendChild(reskill);
      var closed = c.state === "closed";
      var toggle = el("button", { id: (closed ? "open-" : "close-") + c.id, type: "button", "class": "small" },
        closed ? tx.open : tx.close);
      toggle.addEventListener("click", function () {
        command({ type: closed ? "open_counter" : "close_counter", counter: c.id });
      });
      actions.appendChild(toggle);
      row.appendChild(actions);
      body.appendChild(row);
      if (focused === String(c.id)) input.focus();
    });
  }

  function renderQueues() {
    var tx = t();
    var waiting = state.snap.tickets.filter(function (tk) { return tk.state === "waiting"; });
    var minute = Math.floor(Date.now() / 60000);
    if (!changed("queues", [waiting, state.snap.services.length, minute])) return;
    var box = $("queues");
    box.textContent = "";
    var now = new Date();
    state.snap.services.forEach(function (s) {
      var mine = waiting.filter(function (tk) { return tk.service === s.service; });
      mine.sort(function (a, b) { return a.rank - b.rank || a.order_key - b.order_key; });
      var section = el("div", { "class": "queue", id: "queue-" + s.service });
      var head = el("h3", {});
      head.appendChild(el("span", {}, s.queue + " · " + (state.lang === "zh" ? s.name_zh : s.name_en)));
      head.appendChild(el("span", {}, tx.waiting(mine.length)));
      section.appendChild(head);
      if (!mine.length) {
        return; // empty queues are left out: the list stays short
      }
      var list = el("ol", {});
      mine.forEach(function (tk, i) {
        var item = el("li", { id: "ticket-" + tk.number, "data-number": tk.number });
        item.appendChild(el("span", { "class": "number" }, tk.number));
        item.appendChild(el("span", { "class": "waited" }, tx.waited((now - new Date(tk.arrival)) / 1000)));
        var priority = el("select", { id: "priority-" + tk.number, "aria-label": "priority" });
        state.priorities.forEach(function (p) {
          var option = el("option", { value: p.name }, state.lang === "zh" ? p.label_zh : p.label_en);
          if (p.name === tk.priority) option.selected = true;
          priority.appendChild(option);
        });
        priority.addEventListener("change", function () {
          command({ type: "change_priority", ticket: tk.id, priority: priority.value });
        });
        item.appendChild(priority);
        var up = el("button", { id: "up-" + tk.number, type: "button", "class": "small" }, tx.up);
        up.disabled = i === 0;
        up.addEventListener("click", function () {
          command({ type: "move_ticket", ticket: tk.id, other: mine[i - 1].id, position: "before" });
        });
        var down = el("button", { id: "down-" + tk.number, type: "button", "class": "small" }, tx.down);
        down.disabled = i === mine.length - 1;
        down.addEventListener("click", function () {
          command({ type: "move_ticket", ticket: tk.id, other: mine[i + 1].id, position: "after" });
        });
        var cancel = el("button", { id: "cancel-" + tk.number, type: "button", "class": "small warn" }, tx.cancel);
        cancel.addEventListener("click", function () {
          if (window.confirm(tx.confirm_cancel(tk.number))) {
            command({ type: "cancel_ticket", ticket: tk.id, reason: "manager" });
          }
        });
        item.appendChild(up);
        item.appendChild(down);
        item.appendChild(cancel);
        list.appendChild(item);
      });
      section.appendChild(list);
      box.appendChild(section);
    });
    if (!box.children.length) box.appendChild(el("p", { "class": "empty-queue" }, tx.nobody));
  }

  function renderNotices() {
    var tx = t();
    if (!changed("notices", state.snap.notices)) return;
    var list = $("notices");
    list.textContent = "";
    state.snap.notices.forEach(function (n) {
      var item = el("li", { id: "notice-" + n.id });
      item.appendChild(el("span", {}, state.lang === "en" && n.text_en ? n.text_en : n.text_zh));
      var remove = el("button", { type: "button", "class": "small", id: "remove-" + n.id }, tx.remove);
      remove.addEventListener("click", function () { command({ type: "remove_notice", notice: n.id }); });
      item.appendChild(remove);
      list.appendChild(item);
    });
  }

  function renderStats() {
    var s = state.stats;
    if (!s) return;
    var tx = t();
    setText("stat-issued", String(s.issued));
    setText("stat-served", String(s.served));
    setText("stat-no-shows", String(s.no_shows));
    setText("stat-wait", tx.minutes(s.wait.mean_s) + " / " + tx.minutes(s.wait.p90_s));
    setText("stat-service", tx.minutes(s.service.mean_s));
    if (!changed("load", s.counters)) return;
    var body = $("load").querySelector("tbody");
    body.textContent = "";
    s.counters.forEach(function (c) {
      var row = el("tr", { id: "load-" + c.counter });
      row.appendChild(el("td", { "class": "num" }, String(c.counter)));
      row.appendChild(el("td", { "class": "num" }, String(c.served)));
      row.appendChild(el("td", { "class": "num" }, String(c.no_shows)));
      row.appendChild(el("td", { "class": "num" }, tx.minutes(c.mean_service_s)));
      row.appendChild(el("td", { "class": "num" },
        c.busy_share == null ? "—" : Math.round(c.busy_share * 100) + "%"));
      body.appendChild(row);
    });
  }

  function downloadCsv() {
    if (!state.csv) return;
    // A byte-order mark so that spreadsheet programs read the UTF-8 text as such.
    var blob = new Blob(["\ufeff" + state.csv], { type: "text/csv;charset=utf-8" });
    var link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = "yikou-stats-" + (state.stats.day || "today") + ".csv";
    document.body.appendChild(link);
    link.click();
    setTimeout(function () { URL.revokeObjectURL(link.href); link.remove(); }, 1000);
  }

  document.addEventListener("DOMContentLoaded", function () {
    state.lang = Y.askedLang();
    $("login").addEventListener("submit", function (event) {
      event.preventDefault();
      setText("login-error", "");
      typedLogin = $("login-name").value.trim();
      hall.open({ kind: "staff", login: typedLogin, password: $("login-password").value },
        state.lang);
    });
    $("lang").addEventListener("click", function () {
      state.lang = state.lang === "zh" ? "en" : "zh";
      render();
    });
    $("btn-refresh-stats").addEventListener("click", refresh);
    $("btn-csv").addEventListener("click", downloadCsv);
    $("btn-post-notice").addEventListener("click", function () {
      var zh = $("notice-zh").value.trim();
      if (!zh) return;
      command({ type: "post_notice", text_zh: zh, text_en: $("notice-en").value.trim() });
      $("notice-zh").value = "";
      $("notice-en").value = "";
    });
    render();
  });
})();
