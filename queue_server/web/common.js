// What the staff consoles (/staff, /manager) share: the hall's websocket with request ids and
// reply dispatch, logging in and logging in again after a lost connection (with backoff), and
// the page's texts in Chinese or English. Each console loads this first and builds on
// window.Yikou. Plain JavaScript, no external resources.
"use strict";

window.Yikou = (function () {
  var PROTOCOL_VERSION = 1;
  var RETRY_MIN_MS = 1000;
  var RETRY_MAX_MS = 30000;

  function $(id) { return document.getElementById(id); }

  function setText(id, text) {
    var node = $(id);
    if (node.textContent !== text) node.textContent = text;
  }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text != null) node.textContent = text;
    return node;
  }

  // The page's fixed texts: every [data-i18n] element and [data-i18n-placeholder] input.
  function applyTexts(texts, lang) {
    document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
    document.querySelectorAll("[data-i18n]").forEach(function (node) {
      node.textContent = texts[node.getAttribute("data-i18n")];
    });
    document.querySelectorAll("[data-i18n-placeholder]").forEach(function (node) {
      node.placeholder = texts[node.getAttribute("data-i18n-placeholder")];
    });
  }

  // A server error in the page's language (every error carries both).
  function errorText(msg, lang) {
    return lang === "zh" ? msg.message_zh : msg.message_en;
  }

  function showMessage(text, isError) {
    setText("message", text);
    $("message").className = "message" + (isError ? " error" : "");
  }

  // ?lang=en opens a page in English.
  function askedLang() {
    return new URLSearchParams(location.search).get("lang") === "en" ? "en" : "zh";
  }

  // The hall's websocket for one console. options:
  //   page: the page's path name ("staff", "manager"), to find /ws beside it;
  //   onWelcome(msg): the hello was accepted (again, after every reconnect);
  //   onRefused(msg): the hello was refused (the error, or the welcome of a wrong role);
  //   accept(msg): optional, whether a welcome is for this console (default: any);
  //   onPush(msg): a message that answers no request (event, snapshot, status, devices);
  //   onState(state): "connecting", "live" or "offline".
  function Connection(options) {
    this.options = options;
    this.socket = null;
    this.nextId = 1;
    this.pending = {}; // request id -> callback(msg)
    this.auth = null;
    this.lang = "zh";
    this.welcomed = false; // logged in once: a lost connection logs in again by itself
    this.retryMs = RETRY_MIN_MS;
    this.retryTimer = null;
  }

  Connection.prototype.url = function () {
    var pattern = new RegExp("/" + this.options.page + "/?$");
    var base = location.pathname.replace(pattern, "");
    return (location.protocol === "https:" ? "wss://" : "ws://") + location.host + base + "/ws";
  };

  Connection.prototype.request = function (message, callback) {
    var ws = this.socket;
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    message.v = PROTOCOL_VERSION;
    message.id = this.nextId++;
    if (callback) this.pending[message.id] = callback;
    ws.send(JSON.stringify(message));
    return true;
  };

  // Log in with ``auth`` (kept only in this object, to log in again after a drop).
  Connection.prototype.open = function (auth, lang) {
    this.auth = auth;
    this.lang = lang || this.lang;
    this.welcomed = false;
    this.retryMs = RETRY_MIN_MS;
    this._connect();
  };

  Connection.prototype._state = function (state) {
    if (this.options.onState) this.options.onState(state);
  };

  Connection.prototype._connect = function () {
    var self = this;
    var opts = this.options;
    this.retryTimer = null;
    this._state("connecting");
    var ws = new WebSocket(this.url());
    this.socket = ws;
    ws.onopen = function () {
      self.request({ type: "hello", lang: self.lang, auth: self.auth }, function (msg) {
        var ok = msg.type === "welcome" && (!opts.accept || opts.accept(msg));
        if (!ok) {
          // Refused: nothing to retry with the same credentials.
          self.welcomed = false;
          self.auth = null;
          opts.onRefused(msg);
          ws.close();
          return;
        }
        self.welcomed = true;
        self.retryMs = RETRY_MIN_MS;
        self._state("live");
        opts.onWelcome(msg);
      });
    };
    ws.onmessage = function (event) {
      var msg;
      try { msg = JSON.parse(event.data); } catch (e) { return; }
      var answers = msg.type === "reply" || msg.type === "error" || msg.type === "welcome";
      if (answers && self.pending[msg.id]) {
        var callback = self.pending[msg.id];
        delete self.pending[msg.id];
        callback(msg);
        return;
      }
      if (opts.onPush) opts.onPush(msg);
    };
    ws.onclose = function () {
      if (ws !== self.socket) return;
      self.socket = null;
      self.pending = {};
      self._state("offline");
      if (self.welcomed && self.auth) {
        // Exponential backoff with jitter: after a server restart the hall's consoles must
        // not all knock at once.
        var delay = self.retryMs * (0.5 + Math.random());
        self.retryMs = Math.min(self.retryMs * 2, RETRY_MAX_MS);
        self.retryTimer = setTimeout(function () { self._connect(); }, delay);
      }
    };
  };

  // A command; the callback gets the reply or the error message.
  Connection.prototype.command = function (body, callback) {
    return this.request({ type: "command", command: body }, callback);
  };

  return {
    $: $,
    setText: setText,
    el: el,
    applyTexts: applyTexts,
    errorText: errorText,
    showMessage: showMessage,
    askedLang: askedLang,
    Connection: Connection,
  };
})();
