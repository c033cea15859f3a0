// Appointment booking from a phone (/book). The page opens the hall's websocket as the
// residents' web channel (hello kind "web", no account), reads the bookable days and the free
// slots, and books or cancels in the name of the ID number typed here: the number goes to the
// server with the command (which keys it and keeps nothing else of it) and is never stored by
// the page. A booking shows its appointment id and QR code (/qr/<id>.svg), which the kiosk
// scans to check in. Plain JavaScript, no external resources.
"use strict";

(function () {
  var PROTOCOL_VERSION = 1;
  var TEXT = {
    zh: {
      title: "预约办理", heading: "预约到大厅办理",
      rules: "可预约未来几个工作日；当天请在预约时段内到自助机刷身份证或扫码签到。",
      service: "办理事项", day: "日期", slot: "时段（余量）", id_number: "身份证号码",
      id_placeholder: "18 位身份证号码", privacy: "证件号码只用于实名预约，不在本页保存。",
      book: "确认预约", booked: "预约成功",
      voucher_hint: "请截图保存本页。当天在预约时段内到自助机扫此二维码或刷身份证签到。",
      again: "再约一个", cancel_heading: "取消预约", appointment_id: "预约号",
      cancel: "取消这个预约", guides: "办事指南", switch_lang: "English",
      free: function (n) { return n > 0 ? "余 " + n : "已约满"; },
      no_slots: "这一天没有可预约的时段", cancelled: function (id) { return "预约 " + id + " 已取消"; },
      bad_id: "请填写正确的 18 位身份证号码", offline: "网络中断，正在重新连接…",
      weekdays: ["周日", "周一", "周二", "周三", "周四", "周五", "周六"],
      appointment: function (id) { return "预约号 " + id; },
    },
    en: {
      title: "Book an appointment", heading: "Book a visit to the hall",
      rules: "Book for the coming working days; on the day, check in at a kiosk within your slot with your ID card or this QR code.",
      service: "Service", day: "Day", slot: "Time (places left)", id_number: "ID card number",
      id_placeholder: "18-character ID number",
      privacy: "Your ID number is used only to book in your name; this page does not keep it.",
      book: "Book", booked: "Booked",
      voucher_hint: "Keep a screenshot. On the day, scan this code or your ID card at a kiosk within your slot.",
      again: "Book another", cancel_heading: "Cancel a booking", appointment_id: "Appointment number",
      cancel: "Cancel this booking", guides: "Service guides", switch_lang: "中文",
      free: function (n) { return n > 0 ? n + " left" : "Full"; },
      no_slots: "No slots on this day", cancelled: function (id) { return "Booking " + id + " is cancelled"; },
      bad_id: "Please enter a valid 18-character ID number", offline: "Offline — reconnecting…",
      weekdays: ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"],
      appointment: function (id) { return "Appointment " + id; },
    },
  };

  var state = { lang: "zh", services: [], days: [], day: null, slots: [], slot: null,
    booked: null };
  var socket = null;
  var nextId = 1;
  var pending = {};
  var attempts = 0;

  function $(id) { return document.getElementById(id); }
  function t() { return TEXT[state.lang]; }
  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text != null) node.textContent = text;
    return node;
  }
  function say(msg) { return state.lang === "zh" ? msg.message_zh : msg.message_en; }

  // --- websocket ----------------------------------------------------------------------------

  function socketUrl() {
    var base = location.pathname.replace(/\/book\/?$/, "");
    return (location.protocol === "https:" ? "wss://" : "ws://") + location.host + base + "/ws";
  }

  function request(message, callback) {
    if (!socket || socket.readyState !== WebSocket.OPEN) return false;
    message.v = PROTOCOL_VERSION;
    message.id = nextId++;
    if (callback) pending[message.id] = callback;
    socket.send(JSON.stringify(message));
    return true;
  }

  function connect() {
    var ws = new WebSocket(socketUrl());
    socket = ws;
    ws.onopen = function () {
      request({ type: "hello", lang: state.lang, auth: { kind: "web" } }, function (msg) {
        if (msg.type !== "welcome") return;
        attempts = 0;
        $("book-error").textContent = "";
        $("form").setAttribute("data-ready", "1");
        loadDays();
      });
    };
    ws.onmessage = function (event) {
      var msg;
      try { msg = JSON.parse(event.data); } catch (e) { return; }
      if (pending[msg.id] && (msg.type === "reply" || msg.type === "error" || msg.type === "welcome")) {
        var callback = pending[msg.id];
        delete pending[msg.id];
        callback(msg);
      }
    };
    ws.onclose = function () {
      if (ws !== socket) return;
      socket = null;
      $("form").removeAttribute("data-ready");
      $("book-error").textContent = t().offline;
      var delay = Math.min(30000, 1000 * Math.pow(2, attempts++));
      setTimeout(connect, delay * (0.5 + Math.random()));
    };
  }

  // --- services, days, slots ------------------------------------------------------------------

  function loadServices() {
    var xhr = new XMLHttpRequest();
    xhr.open("GET", "api/services");
    xhr.onload = function () {
      if (xhr.status !== 200) return;
      state.services = JSON.parse(xhr.responseText).services.filter(function (s) {
        return s.appointments;
      });
      var wanted = decodeURIComponent(location.hash.replace(/^#/, ""));
      renderServices(wanted);
      loadSlots();
    };
    xhr.send();
  }

  function loadDays() {
    request({ type: "query", query: "bookable_days" }, function (msg) {
      if (msg.type !== "reply") return;
      state.days = msg.result.days;
      if (state.days.indexOf(state.day) < 0) state.day = state.days[0] || null;
      renderDays();
      loadSlots();
    });
  }

  function loadSlots() {
    var service = $("service").value;
    if (!service || !state.day) return;
    request({ type: "query", query: "slots", service: service, day: state.day }, function (msg) {
      if (msg.type !== "reply" || msg.result.service !== $("service").value ||
          msg.result.day !== state.day) return;
      state.slots = msg.result.slots;
      if (!state.slots.some(function (s) { return s.start === state.slot && s.free > 0; })) {
        state.slot = null;
      }
      renderSlots();
    });
  }

  // --- rendering ------------------------------------------------------------------------------

  function renderServices(wanted) {
    var select = $("service");
    var chosen = wanted || select.value;
    select.textContent = "";
    state.services.forEach(function (s) {
      var option = el("option", { value: s.id }, state.lang === "zh" ? s.name_zh : s.name_en);
      select.appendChild(option);
    });
    if (chosen && state.services.some(function (s) { return s.id === chosen; })) select.value = chosen;
  }

  function dayLabel(iso) {
    var d = new Date(iso + "T12:00:00");
    return (d.getMonth() + 1) + "/" + d.getDate() + " " + t().weekdays[d.getDay()];
  }

  function timeOf(iso) { return iso.slice(11, 16); }

  function renderDays() {
    var box = $("days");
    box.textContent = "";
    state.days.forEach(function (day) {
      var button = el("button", { type: "button", "data-day": day,
        "aria-pressed": String(day === state.day) }, dayLabel(day));
      button.addEventListener("click", function () {
        state.day = day;
        state.slot = null;
        renderDays();
        loadSlots();
      });
      box.appendChild(button);
    });
  }

  function renderSlots() {
    var box = $("slots");
    box.textContent = "";
    if (!state.slots.length) box.appendChild(el("p", { "class": "muted" }, t().no_slots));
    state.slots.forEach(function (slot) {
      var button = el("button", { type: "button", "data-start": slot.start,
        "aria-pressed": String(slot.start === state.slot) });
      button.appendChild(document.createTextNode(timeOf(slot.start) + "–" + timeOf(slot.end)));
      button.appendChild(el("small", { "data-free": String(slot.free) }, t().free(slot.free)));
      button.disabled = slot.free <= 0;
      button.addEventListener("click", function () {
        state.slot = slot.start;
        renderSlots();
      });
      box.appendChild(button);
    });
    $("btn-book").disabled = !state.slot;
  }

  function renderStatic() {
    var tx = t();
    document.documentElement.lang = state.lang === "zh" ? "zh-CN" : "en";
    document.querySelectorAll("[data-i18n]").forEach(function (node) {
      node.textContent = tx[node.getAttribute("data-i18n")];
    });
    document.querySelectorAll("[data-i18n-placeholder]").forEach(function (node) {
      node.placeholder = tx[node.getAttribute("data-i18n-placeholder")];
    });
    $("lang").textContent = tx.switch_lang;
    document.title = tx.title;
  }

  function renderVoucher() {
    var a = state.booked;
    $("voucher").hidden = !a;
    $("form").hidden = Boolean(a);
    if (!a) return;
    var service = state.services.filter(function (s) { return s.id === a.service; })[0];
    $("qr").src = "qr/" + encodeURIComponent(a.id) + ".svg";
    $("v-id").textContent = t().appointment(a.id);
    $("v-service").textContent = service ? (state.lang === "zh" ? service.name_zh : service.name_en) : a.service;
    $("v-slot").textContent = dayLabel(a.slot_start.slice(0, 10)) + " " +
      timeOf(a.slot_start) + "–" + timeOf(a.slot_end);
  }

  // --- book, cancel ---------------------------------------------------------------------------

  function validId(number) {
    return /^[0-9]{17}[0-9Xx]$/.test(number);
  }

  function book() {
    var number = $("id-number").value.trim().toUpperCase();
    if (!validId(number)) { $("book-error").textContent = t().bad_id; return; }
    $("book-error").textContent = "";
    $("btn-book").disabled = true;
    request({
      type: "command",
      command: { type: "book_appointment", service: $("service").value, slot_start: state.slot },
      resident_id: { doc_type: "id", number: number },
    }, function (msg) {
      $("btn-book").disabled = false;
      if (msg.type === "error") {
        $("book-error").textContent = say(msg);
        loadSlots();
        return;
      }
      $("id-number").value = ""; // not kept once it has done its job
      state.booked = msg.result.appointment;
      $("cancel-id").value = state.booked.id;
      renderVoucher();
      window.scrollTo(0, 0);
    });
  }

  function cancel() {
    var id = $("cancel-id").value.trim().toUpperCase();
    var number = $("cancel-number").value.trim().toUpperCase();
    var out = $("cancel-result");
    var message = { type: "command", command: { type: "cancel_appointment", appointment: id } };
    if (!number && state.booked && state.booked.id === id && state.booked.token) {
      // The booking made on this page: its own signed token proves it, no number needed.
      message.appointment_token = state.booked.token;
    } else if (!validId(number)) {
      out.className = "error"; out.textContent = t().bad_id; return;
    } else {
      message.resident_id = { doc_type: "id", number: number };
    }
    request(message, function (msg) {
      if (msg.type === "error") {
        out.className = "error";
        out.textContent = say(msg);
        return;
      }
      $("cancel-number").value = "";
      out.className = "ok";
      out.textContent = t().cancelled(id);
      if (state.booked && state.booked.id === id) {
        state.booked = null;
        renderVoucher();
      }
      loadSlots();
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    try {
      var stored = localStorage.getItem("yikou.lang");
      if (stored === "en" || stored === "zh") state.lang = stored;
    } catch (e) { /* storage disabled */ }
    $("lang").addEventListener("click", function () {
      state.lang = state.lang === "zh" ? "en" : "zh";
      try { localStorage.setItem("yikou.lang", state.lang); } catch (e) { /* ignore */ }
      renderStatic();
      renderServices();
      renderDays();
      renderSlots();
      renderVoucher();
    });
    $("service").addEventListener("change", function () { state.slot = null; loadSlots(); });
    $("btn-book").addEventListener("click", book);
    $("btn-cancel").addEventListener("click", cancel);
    $("btn-new").addEventListener("click", function () {
      state.booked = null;
      renderVoucher();
      loadSlots();
    });
    renderStatic();
    loadServices();
    connect();
  });
})();
