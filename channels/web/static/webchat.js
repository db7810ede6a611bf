/* Trợ lý CCHC — khung trò chuyện nhúng vào trang web.
 *
 * One line on any allowed page adds it:
 *   <script src="https://BOT_HOST/webchat.js" defer></script>
 * Options (data-* attributes of that tag):
 *   data-open="true"        open the panel when the page loads (not on screens narrower than 481 px)
 *   data-position="left"    put the button at the bottom left instead of the bottom right
 *
 * No inline script or style is needed on the host page; everything lives in a shadow root and talks to
 * BOT_HOST (the origin this file came from) with credentials: the visitor's signed cookie stays there.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || window.__cchcWebchat) { return; }
  window.__cchcWebchat = true;

  var BASE = new URL(script.src, window.location.href).origin;
  var API = BASE + "/webchat/api";
  var OPEN_AT_START = script.getAttribute("data-open") === "true";
  var LEFT = script.getAttribute("data-position") === "left";
  var SEEN_KEY = "cchc-webchat-seen:" + BASE;

  var S = { token: "", labels: {}, config: null, lastId: 0, seenId: 0, unread: 0, open: false,
            es: null, started: false, shown: {}, waiting: {}, typingTimer: 0 };
  var el = {};

  function uuid() {
    var b = new Uint8Array(16);
    window.crypto.getRandomValues(b);
    b[6] = (b[6] & 15) | 64; b[8] = (b[8] & 63) | 128;
    var h = Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }

  function readSeen() {
    try { return parseInt(window.localStorage.getItem(SEEN_KEY) || "0", 10) || 0; } catch (e) { return 0; }
  }
  function writeSeen(id) {
    S.seenId = Math.max(S.seenId, id);
    try { window.localStorage.setItem(SEEN_KEY, String(S.seenId)); } catch (e) { /* private mode */ }
  }

  function make(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text !== undefined && text !== null) { node.textContent = text; }
    return node;
  }

  function label(key) { return S.labels[key] || ""; }

  // --- server -----------------------------------------------------------------------------------
  function getJSON(path) {
    return fetch(API + path, { credentials: "include", cache: "no-store" }).then(function (r) {
      return r.json().then(function (body) { return { status: r.status, body: body }; });
    });
  }

  function loadSession() {
    return getJSON("/session").then(function (res) {
      if (res.status !== 200) { throw new Error("session " + res.status); }
      S.token = res.body.token;
      S.labels = res.body.labels;
      S.config = res.body;
      return res.body;
    });
  }

  function post(path, body, isForm, attempt) {
    attempt = attempt || 0;
    var headers = { "X-Webchat-Token": S.token };
    if (!isForm) { headers["Content-Type"] = "application/json"; }
    return fetch(API + path, { method: "POST", credentials: "include", headers: headers,
                               body: isForm ? body : JSON.stringify(body) })
      .then(function (r) {
        if (r.status === 401 && attempt === 0) {
          return loadSession().then(function () { return post(path, body, isForm, 1); });
        }
        return r.json().catch(function () { return {}; }).then(function (data) {
          return { status: r.status, body: data };
        });
      }, function () {
        if (attempt < 3) {  // network error: the same message id again, so the server stores it once
          return new Promise(function (ok) { setTimeout(ok, 1000 * Math.pow(2, attempt)); })
            .then(function () { return post(path, body, isForm, attempt + 1); });
        }
        return { status: 0, body: {} };
      });
  }

  // --- rendering --------------------------------------------------------------------------------
  function status(text) {
    el.status.textContent = text || "";
  }

  function typing(on) {
    clearTimeout(S.typingTimer);
    el.typing.hidden = !on;
    if (on) { S.typingTimer = setTimeout(function () { el.typing.hidden = true; }, 20000); }
  }

  function srLabel(text) { return make("span", "wc-sr", text + ": "); }

  function renderIn(msg, pending) {
    var row = make("div", "wc-msg wc-in" + (pending ? " wc-pending" : ""));
    var bubble = make("p", "wc-bubble");
    bubble.appendChild(srLabel(label("you")));
    if (msg.kind === "file") {
      bubble.appendChild(make("span", "wc-file-icon", "📎 "));
    }
    bubble.appendChild(document.createTextNode(msg.text || ""));
    row.appendChild(bubble);
    return row;
  }

  function renderOut(msg) {
    var row = make("div", "wc-msg wc-out");
    if (msg.notice && !msg.html) {
      row.className = "wc-msg wc-notice";
      row.appendChild(make("p", "", msg.notice));
      return row;
    }
    var bubble = make("div", "wc-bubble");
    bubble.appendChild(srLabel(label("bot")));
    if (msg.image) {
      var img = make("img", "wc-image");
      img.src = msg.image; img.alt = ""; img.loading = "lazy";
      bubble.appendChild(img);
    }
    if (msg.html) {
      var body = make("div", "wc-text");
      body.innerHTML = msg.html;  // produced by the bot's web emitter: escaped text, <p> <ul> <ol> <strong> <a>
      bubble.appendChild(body);
    }
    if (msg.contact) {
      var card = make("p", "wc-contact");
      card.appendChild(make("strong", "", msg.contact.name));
      card.appendChild(document.createTextNode(" "));
      var call = make("a", "wc-tel", "☎ " + msg.contact.phone);
      call.href = msg.contact.tel;
      call.setAttribute("aria-label", label("call") + " " + msg.contact.name + ": " + msg.contact.phone);
      card.appendChild(call);
      if (msg.contact.note) { card.appendChild(make("span", "wc-note", msg.contact.note)); }
      bubble.appendChild(card);
    }
    row.appendChild(bubble);
    if (msg.buttons && msg.buttons.length) {
      var group = make("div", "wc-buttons");
      group.setAttribute("role", "group");
      msg.buttons.forEach(function (buttons) {
        var line = make("div", "wc-row");
        buttons.forEach(function (b) {
          var node;
          if (b.payload) {
            node = make("button", "wc-btn", b.label);
            node.type = "button";
            node.setAttribute("data-payload", b.payload);
          } else if (b.url) {
            node = make("a", "wc-btn wc-link", b.label);
            node.href = b.url; node.target = "_blank"; node.rel = "noopener noreferrer";
          } else if (b.tel) {
            node = make("a", "wc-btn wc-link", b.label);
            node.href = b.tel;
          }
          if (node) { line.appendChild(node); }
        });
        group.appendChild(line);
      });
      row.appendChild(group);
    }
    return row;
  }

  function add(msg) {
    if (S.shown[msg.id]) { return; }
    S.shown[msg.id] = true;
    S.lastId = Math.max(S.lastId, msg.id);
    if (msg.dir === "in") {
      var mine = msg.cid && S.waiting[msg.cid];
      if (mine) {  // the bubble shown at once is now stored
        mine.classList.remove("wc-pending");
        delete S.waiting[msg.cid];
        return;
      }
      el.log.appendChild(renderIn(msg, false));
    } else {
      el.log.appendChild(renderOut(msg));
      typing(false);
      if (S.open) { writeSeen(msg.id); } else if (msg.id > S.seenId) { S.unread += 1; badge(); }
    }
    el.log.scrollTop = el.log.scrollHeight;
  }

  function badge() {
    var n = S.unread;
    el.badge.hidden = n === 0;
    el.badge.textContent = n > 9 ? "9+" : String(n);
    var text = label("open");
    if (n) { text += ". " + label("unread").replace("{n}", String(n)); }
    el.launcher.setAttribute("aria-label", text);
  }

  // --- actions ----------------------------------------------------------------------------------
  function send(body, shownText, kind) {
    var id = uuid();
    body.id = id;
    if (shownText !== null) {
      var bubble = renderIn({ text: shownText, kind: kind }, true);
      S.waiting[id] = bubble;
      el.log.appendChild(bubble);
      el.log.scrollTop = el.log.scrollHeight;
    }
    status("");
    typing(true);
    return post("/messages", body, false).then(function (res) { afterPost(res, id); });
  }

  function afterPost(res, id) {
    if (res.status === 202) { ensureStream(); return; }
    typing(false);
    var bubble = S.waiting[id];
    if (bubble) { bubble.classList.add("wc-failed"); delete S.waiting[id]; }
    status((res.body && res.body.message) || label("failed"));
  }

  function upload(file) {
    var id = uuid();
    var form = new FormData();
    form.append("id", id);
    form.append("file", file, file.name);
    var bubble = renderIn({ text: file.name, kind: "file" }, true);
    S.waiting[id] = bubble;
    el.log.appendChild(bubble);
    el.log.scrollTop = el.log.scrollHeight;
    status(label("uploading"));
    typing(true);
    return post("/upload", form, true).then(function (res) {
      if (res.status === 202) { status(""); }
      afterPost(res, id);
    });
  }

  // --- live updates -----------------------------------------------------------------------------
  function ensureStream() {
    if (S.es) { return; }
    var es = new EventSource(API + "/events?after=" + S.lastId, { withCredentials: true });
    S.es = es;
    es.addEventListener("message", function (e) {
      try { add(JSON.parse(e.data)); } catch (err) { /* ignore a malformed event */ }
    });
    es.onopen = function () { if (el.status.textContent === label("offline")) { status(""); } };
    es.onerror = function () {
      if (es.readyState === EventSource.CLOSED) {  // refused (e.g. the session expired): start again later
        S.es = null;
        setTimeout(function () { loadSession().then(ensureStream, function () {}); }, 5000);
      } else if (S.open) {
        status(label("offline"));
      }
    };
  }

  function start() {
    if (S.started) { return Promise.resolve(); }
    S.started = true;
    var loaded = S.config.last_id > 0 ? getJSON("/history").then(function (res) {
      if (res.status === 200) { res.body.messages.forEach(add); }
    }) : Promise.resolve();
    return loaded.then(function () {
      ensureStream();
      if (S.lastId === 0 && S.open) { send({ text: "/start", silent: true }, null); }
    });
  }

  function open() {
    S.open = true;
    el.panel.hidden = false;
    el.launcher.hidden = true;
    el.launcher.setAttribute("aria-expanded", "true");
    S.unread = 0; badge();
    writeSeen(S.lastId);
    start();
    el.input.focus();
    el.log.scrollTop = el.log.scrollHeight;
  }

  function close() {
    S.open = false;
    el.panel.hidden = true;
    el.launcher.hidden = false;
    el.launcher.setAttribute("aria-expanded", "false");
    el.launcher.focus();
  }

  // --- building ---------------------------------------------------------------------------------
  var ICON_CHAT = '<svg viewBox="0 0 24 24" width="24" height="24" aria-hidden="true" focusable="false">' +
    '<path fill="currentColor" d="M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H9l-5 4v-4H4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2zm3 6v2h2V9H7zm4 0v2h2V9h-2zm4 0v2h2V9h-2z"/></svg>';
  var ICON_CLIP = '<svg viewBox="0 0 24 24" width="22" height="22" aria-hidden="true" focusable="false">' +
    '<path fill="currentColor" d="M16.5 6.5v10a4.5 4.5 0 0 1-9 0V6a3 3 0 0 1 6 0v9.5a1.5 1.5 0 0 1-3 0V6.5H9v9a3 3 0 0 0 6 0V6a4.5 4.5 0 0 0-9 0v10.5a6 6 0 0 0 12 0v-10h-1.5z"/></svg>';
  var ICON_CLOSE = '<svg viewBox="0 0 24 24" width="22" height="22" aria-hidden="true" focusable="false">' +
    '<path fill="currentColor" d="M19 6.4 17.6 5 12 10.6 6.4 5 5 6.4 10.6 12 5 17.6 6.4 19 12 13.4 17.6 19 19 17.6 13.4 12z"/></svg>';

  function build(config) {
    var host = make("div");
    host.setAttribute("data-cchc-webchat", "");
    var root = host.attachShadow({ mode: "open" });
    var css = make("link");
    css.rel = "stylesheet"; css.href = BASE + "/webchat.css";
    root.appendChild(css);
    var wrap = make("div", "wc" + (LEFT ? " wc-left" : ""));
    wrap.hidden = true;  // until the stylesheet has loaded
    css.addEventListener("load", function () { wrap.hidden = false; });
    root.appendChild(wrap);

    var launcher = make("button", "wc-launcher");
    launcher.type = "button";
    launcher.setAttribute("aria-expanded", "false");
    launcher.setAttribute("aria-controls", "wc-panel");
    launcher.innerHTML = ICON_CHAT;
    launcher.appendChild(make("span", "wc-launcher-text", label("launcher")));
    var badgeNode = make("span", "wc-badge");
    badgeNode.hidden = true;
    badgeNode.setAttribute("aria-hidden", "true");
    launcher.appendChild(badgeNode);
    wrap.appendChild(launcher);

    var panel = make("section", "wc-panel");
    panel.id = "wc-panel";
    panel.hidden = true;
    panel.setAttribute("role", "dialog");
    panel.setAttribute("aria-modal", "false");
    panel.setAttribute("aria-labelledby", "wc-title");
    var head = make("header", "wc-head");
    var title = make("h2", "wc-title", config.bot_name);
    title.id = "wc-title";
    head.appendChild(title);
    var closeBtn = make("button", "wc-close");
    closeBtn.type = "button";
    closeBtn.innerHTML = ICON_CLOSE;
    closeBtn.setAttribute("aria-label", label("close"));
    head.appendChild(closeBtn);
    panel.appendChild(head);

    var log = make("div", "wc-log");
    log.setAttribute("role", "log");
    log.setAttribute("aria-live", "polite");
    log.setAttribute("aria-label", label("log"));
    log.tabIndex = 0;
    panel.appendChild(log);
    var typingNode = make("p", "wc-typing", label("typing"));
    typingNode.hidden = true;
    panel.appendChild(typingNode);
    var statusNode = make("p", "wc-status");
    statusNode.setAttribute("role", "status");
    panel.appendChild(statusNode);

    var form = make("form", "wc-form");
    var attach = make("button", "wc-attach");
    attach.type = "button";
    attach.innerHTML = ICON_CLIP;
    attach.setAttribute("aria-label", label("attach"));
    attach.title = label("attach");
    var file = make("input", "wc-file");
    file.type = "file";
    file.accept = config.accept;
    file.hidden = true;
    file.tabIndex = -1;
    var inputLabel = make("label", "wc-sr", label("input"));
    inputLabel.htmlFor = "wc-input";
    var input = make("input", "wc-input");
    input.id = "wc-input";
    input.type = "text";
    input.autocomplete = "off";
    input.maxLength = 4000;
    input.placeholder = label("placeholder");
    var sendBtn = make("button", "wc-send", label("send"));
    sendBtn.type = "submit";
    form.appendChild(attach);
    form.appendChild(file);
    form.appendChild(inputLabel);
    form.appendChild(input);
    form.appendChild(sendBtn);
    panel.appendChild(form);
    wrap.appendChild(panel);

    el = { host: host, launcher: launcher, badge: badgeNode, panel: panel, log: log, status: statusNode,
           typing: typingNode, input: input, file: file };

    launcher.addEventListener("click", open);
    closeBtn.addEventListener("click", close);
    panel.addEventListener("keydown", function (e) {
      if (e.key === "Escape") { e.preventDefault(); close(); }
    });
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var text = input.value.trim();
      if (!text) { input.focus(); return; }
      input.value = "";
      send({ text: text }, text, "text");
    });
    attach.addEventListener("click", function () { file.click(); });
    file.addEventListener("change", function () {
      if (file.files && file.files[0]) { upload(file.files[0]); }
      file.value = "";
      input.focus();
    });
    log.addEventListener("click", function (e) {
      var target = e.target.closest ? e.target.closest("button[data-payload]") : null;
      if (!target) { return; }
      send({ payload: target.getAttribute("data-payload"), label: target.textContent }, target.textContent, "press");
    });
    document.body.appendChild(host);
  }

  function boot() {
    S.seenId = readSeen();
    loadSession().then(function (config) {
      build(config);
      badge();
      if (config.last_id > 0) { start(); }  // earlier conversation: answers that came later show as unread
      // data-open: open at once, except on a phone, where the panel would cover the whole page
      if (OPEN_AT_START && window.matchMedia("(min-width: 481px)").matches) { open(); }
    }, function () { /* not allowed on this page, or the bot is unreachable: show nothing */ });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", boot);
  } else {
    boot();
  }
})();
