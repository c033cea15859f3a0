// The residents' service guides (/guide): the hall's services from the catalog, searchable
// (Chinese, pinyin initials, English: the server searches), and one guide per service at
// /guide#<service id>. Reads the public JSON routes /api/services and /api/services/<id>.
// Plain JavaScript, no external resources.
"use strict";

(function () {
  var TEXT = {
    zh: {
      title: "办事指南", search_label: "搜索事项（中文、拼音首字母或英文）",
      search_placeholder: "例如：居住证、jzz", back: "‹ 全部事项", time_limit: "办理时限",
      fees: "收费", eligibility: "申请条件", materials: "申请材料", steps: "办理流程",
      notes: "温馨提示", book: "预约办理", switch_lang: "English",
      caveat: "本指南依据公开政策整理，仅供参考，具体材料和流程以窗口受理为准。",
      count: function (n) { return "共 " + n + " 项"; }, none: "没有找到相关事项",
      instant: "即办", days: function (n) { return n + " 个工作日"; }, bookable: "可预约",
    },
    en: {
      title: "Service guides", search_label: "Search (Chinese, pinyin initials or English)",
      search_placeholder: "e.g. residence permit", back: "‹ All services",
      time_limit: "Time limit", fees: "Fees", eligibility: "Who may apply",
      materials: "Materials", steps: "Steps", notes: "Good to know", book: "Book an appointment",
      switch_lang: "中文",
      caveat: "Compiled from public policy for reference; the window's requirements prevail.",
      count: function (n) { return n + " services"; }, none: "No service found",
      instant: "On the spot", days: function (n) { return n + " working days"; },
      bookable: "Bookable",
    },
  };
  var state = { lang: "zh", services: [], guide: null };
  var searchTimer = null;

  function $(id) { return document.getElementById(id); }
  function t() { return TEXT[state.lang]; }
  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text != null) node.textContent = text;
    return node;
  }

  function get(path, done) {
    var xhr = new XMLHttpRequest();
    xhr.open("GET", path);
    xhr.onload = function () { done(xhr.status, xhr.status === 200 ? JSON.parse(xhr.responseText) : null); };
    xhr.onerror = function () { done(0, null); };
    xhr.send();
  }

  function search() {
    var q = $("search").value.trim();
    get("api/services" + (q ? "?q=" + encodeURIComponent(q) : ""), function (status, data) {
      if (status !== 200) return;
      state.services = data.services;
      renderList(Boolean(q));
    });
  }

  function renderList(searched) {
    var tx = t();
    var box = $("services");
    box.textContent = "";
    $("count").textContent = state.services.length ? tx.count(state.services.length) : tx.none;
    var lastBureau = null;
    var list = null;
    state.services.forEach(function (s) {
      if (!searched && s.bureau !== lastBureau) {
        lastBureau = s.bureau;
        box.appendChild(el("p", { "class": "bureau" }, state.lang === "zh" ? s.bureau_zh : s.bureau_en));
        list = null;
      }
      if (!list) { list = el("ul", { "class": "list" }); box.appendChild(list); }
      var item = el("li", {});
      var link = el("a", { href: "#" + s.id, "data-service": s.id });
      link.appendChild(el("span", {}, state.lang === "zh" ? s.name_zh : s.name_en));
      if (s.appointments) link.appendChild(el("span", { "class": "tag" }, tx.bookable));
      item.appendChild(link);
      list.appendChild(item);
    });
  }

  function fill(id, items) {
    var list = $(id);
    list.textContent = "";
    items.forEach(function (text) { list.appendChild(el("li", {}, text)); });
  }

  function renderGuide() {
    var g = state.guide;
    var tx = t();
    if (!g) return;
    var zh = state.lang === "zh";
    $("g-name").textContent = zh ? g.name_zh : g.name_en;
    $("g-bureau").textContent = zh ? g.bureau_zh : g.bureau_en;
    $("g-description").textContent = zh ? g.description.zh : g.description.en;
    $("g-time").textContent = g.instant ? tx.instant : tx.days(g.time_limit_days);
    $("g-fees").textContent = zh ? g.fees.zh : g.fees.en;
    fill("g-eligibility", g.eligibility);
    fill("g-materials", g.materials.map(function (m) { return zh ? m.describe_zh : m.describe_en; }));
    fill("g-steps", g.steps);
    fill("g-notes", g.notes);
    $("g-notes-box").hidden = !g.notes.length;
    $("g-book").hidden = !g.appointments;
    $("g-book").setAttribute("href", "book#" + g.id);
    document.title = (zh ? g.name_zh : g.name_en) + " · " + tx.title;
  }

  function route() {
    var id = decodeURIComponent(location.hash.replace(/^#/, ""));
    $("list-view").hidden = Boolean(id);
    $("guide-view").hidden = !id;
    if (!id) {
      document.title = t().title;
      return;
    }
    get("api/services/" + encodeURIComponent(id), function (status, data) {
      state.guide = data;
      if (!data) { location.hash = ""; return; }
      renderGuide();
      window.scrollTo(0, 0);
    });
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
      renderList(Boolean($("search").value.trim()));
      renderGuide();
    });
    $("search").addEventListener("input", function () {
      clearTimeout(searchTimer);
      searchTimer = setTimeout(search, 200);
    });
    $("back").addEventListener("click", function (event) {
      event.preventDefault();
      location.hash = "";
    });
    window.addEventListener("hashchange", route);
    renderStatic();
    search();
    route();
  });
})();
