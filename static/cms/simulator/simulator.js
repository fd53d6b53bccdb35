/* The LINE simulator page: renders the talk like LINE and sends real webhook events. No libraries. */
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("sim-config").textContent);
  var townSelect = document.getElementById("sim-town");
  var residentSelect = document.getElementById("sim-resident");
  var talk = document.getElementById("talk");
  var quickReplies = document.getElementById("quick-replies");
  var composer = document.getElementById("composer");
  var input = document.getElementById("composer-text");
  var status = document.getElementById("sim-status");
  var title = document.getElementById("talk-title");
  var sub = document.getElementById("talk-sub");
  var state = { town: townSelect.value, userId: "", lastIds: "", busy: false, timer: null };

  function csrfToken() { return config.csrfToken; }
  function setStatus(text, isError) {
    status.textContent = text || "";
    status.className = "sim-status" + (isError ? " error" : "");
  }
  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined && text !== null) { node.textContent = text; }
    return node;
  }
  // Times as the town sees them (Asia/Tokyo), whatever the staff member's computer says.
  var TOKYO_TIME = new Intl.DateTimeFormat("ja-JP", { timeZone: "Asia/Tokyo", hour: "2-digit", minute: "2-digit", hour12: false });
  function timeLabel(iso) {
    return TOKYO_TIME.format(new Date(iso));
  }
  function townName() {
    var option = townSelect.options[townSelect.selectedIndex];
    return option ? option.textContent : "";
  }

  // --- opening the bot's pages: LIFF sign-in, emulated --------------------------------------
  // The bot's buttons open a page of this site either directly (SITE_URL + path) or through LIFF
  // (https://liff.line.me/<LIFF ID>?next=<path>). The simulator opens that path through its own
  // view, which first signs the simulated resident in on this browser, as LIFF would.
  function sameOrigin(url) {
    if (url.origin === window.location.origin) { return true; }
    try { return Boolean(config.siteUrl) && url.origin === new URL(config.siteUrl).origin; } catch (e) { return false; }
  }
  function localPathOf(uri) {
    var url;
    try { url = new URL(uri, window.location.href); } catch (e) { return null; }
    var path = null;
    if (uri.indexOf(config.liffUrl) === 0) {
      // ?next=<path>, or the path after the LIFF ID (https://liff.line.me/<LIFF ID>/<path>)
      path = url.searchParams.get("next") || "/" + url.pathname.split("/").slice(2).join("/");
    } else if (sameOrigin(url)) {
      path = url.pathname + url.search + url.hash;
    }
    if (!path || path.charAt(0) !== "/" || path.charAt(1) === "/" || path.charAt(1) === "\\") { return null; }
    return path;
  }
  function openUri(uri) {
    var path = localPathOf(uri);
    if (path === null) { window.open(uri, "_blank", "noopener"); return; }
    if (/^\/r\//.test(path)) {
      // A signed sign-in link of a real LINE message: the simulator never spends one.
      setStatus("ログイン用のリンクはシミュレーターでは開けません。", true);
      return;
    }
    if (!state.userId) { setStatus("住民を選んでください。", true); return; }
    var form = el("form");
    form.method = "post";
    form.action = config.openUrl;
    form.target = "_blank";
    form.setAttribute("rel", "noopener");
    [["csrfmiddlewaretoken", csrfToken()], ["municipality", state.town], ["userId", state.userId], ["next", path]].forEach(function (pair) {
      var field = el("input");
      field.type = "hidden"; field.name = pair[0]; field.value = pair[1];
      form.appendChild(field);
    });
    document.body.appendChild(form);
    form.submit();
    form.remove();
  }

  // --- actions (buttons, quick replies, flex buttons) ----------------------------------------
  function runAction(action) {
    if (!action) { return; }
    if (action.type === "postback") {
      send({ type: "postback", data: action.data, displayText: action.displayText || "" });
    } else if (action.type === "message") {
      send({ type: "text", text: action.text });
    } else if (action.type === "uri") {
      openUri(action.uri);
    } else if (action.type === "location") {
      // LINE shows a map to pick a place; the simulator asks for 緯度,経度 (the town's shelters' area).
      var place = window.prompt("送る位置（緯度,経度）", config.demoLocation || "35.6212,135.0610");
      if (!place) { return; }
      var parts = place.split(/[,、，\s]+/);
      send({ type: "location", latitude: parts[0], longitude: parts[1] });
    } else if (action.type === "datetimepicker") {
      // LINE shows a native picker; the simulator asks in a prompt in the same format.
      var mode = action.mode || "datetime";
      var hint = { date: "2026-06-01", time: "09:30", datetime: "2026-06-01T09:30" }[mode];
      var value = window.prompt((action.label || "日時") + "（例: " + hint + "）", action.initial || hint);
      if (!value) { return; }
      var params = {};
      params[mode] = value.trim();
      send({ type: "postback", data: action.data, params: params, displayText: value.trim() });
    }
  }
  function actionButton(action, className) {
    var button = el("button", className, action.label || "");
    button.type = "button";
    button.setAttribute("data-action-type", action.type);
    button.addEventListener("click", function () { runAction(action); });
    return button;
  }

  // --- rendering messages --------------------------------------------------------------------
  function linkify(node, text) {
    var parts = text.split(/(https?:\/\/[^\s]+|\/r\/[^\s]+)/g);
    parts.forEach(function (part, i) {
      if (i % 2 === 1) {
        var a = el("a", "", part);
        a.href = part; a.target = "_blank"; a.rel = "noopener";
        a.addEventListener("click", function (event) { event.preventDefault(); openUri(part); });
        node.appendChild(a);
      } else if (part) {
        node.appendChild(document.createTextNode(part));
      }
    });
    return node;
  }
  function renderTemplate(message) {
    var t = message.template || {};
    var card = el("div", "card");
    card.setAttribute("data-kind", "template-" + t.type);
    if (t.thumbnailImageUrl) {
      var img = el("img", "thumb"); img.src = t.thumbnailImageUrl; img.alt = ""; card.appendChild(img);
    }
    var body = el("div", "card-body");
    if (t.title) { body.appendChild(el("div", "card-title", t.title)); }
    body.appendChild(el("div", "card-text", t.text || ""));
    card.appendChild(body);
    var actions = el("div", "card-actions" + (t.type === "confirm" ? " confirm" : ""));
    (t.actions || []).forEach(function (a) { actions.appendChild(actionButton(a, "")); });
    card.appendChild(actions);
    if (t.type === "carousel") { card.querySelector(".card-text").textContent = message.altText; }
    return card;
  }
  function renderFlexComponent(c) {
    if (!c) { return el("span"); }
    if (c.type === "box") {
      var box = el("div", "flex-box " + (c.layout || "vertical"));
      (c.contents || []).forEach(function (child) {
        var node = renderFlexComponent(child);
        if (child.flex !== undefined) { node.style.flex = String(child.flex); }
        box.appendChild(node);
      });
      return box;
    }
    if (c.type === "text") {
      var text = el("div", "flex-text " + (c.weight === "bold" ? "bold " : "") + (c.wrap ? "wrap " : "") + (c.size || ""), c.text || "");
      if (c.color) { text.style.color = c.color; }
      return text;
    }
    if (c.type === "button") {
      var b = actionButton(c.action || {}, "flex-button " + (c.style || "link"));
      if (c.color && c.style === "primary") { b.style.background = c.color; }
      return b;
    }
    if (c.type === "image") {
      var img = el("img", "hero"); img.src = c.url; img.alt = ""; return img;
    }
    if (c.type === "separator") { return el("hr"); }
    return el("span");
  }
  function renderFlex(message) {
    var wrap = el("div", "flex");
    wrap.setAttribute("data-kind", "flex");
    var bubble = message.contents || {};
    if (bubble.type === "carousel") { bubble = (bubble.contents || [])[0] || {}; }
    ["header", "hero", "body", "footer"].forEach(function (part) {
      if (!bubble[part]) { return; }
      if (part === "hero") { wrap.appendChild(renderFlexComponent(bubble[part])); return; }
      var section = el("div", "flex-section");
      section.appendChild(renderFlexComponent(bubble[part]));
      wrap.appendChild(section);
    });
    return wrap;
  }
  function renderMessage(message) {
    if (message.type === "text") { return linkify(el("div", "bubble"), message.text || ""); }
    if (message.type === "template") { return renderTemplate(message); }
    if (message.type === "flex") { return renderFlex(message); }
    if (message.type === "image") {
      var img = el("img", "image-msg"); img.src = message.previewImageUrl || message.originalContentUrl; img.alt = "画像"; return img;
    }
    if (message.type === "sticker") { return el("div", "bubble", "（スタンプ）"); }
    return el("div", "bubble", "[" + message.type + "]");
  }
  function renderItem(item) {
    if (item.side === "user") {
      if (item.kind === "follow") { return el("div", "system", "友だち追加しました"); }
      var text = item.text;
      if (item.kind === "postback") {
        if (!item.displayText) { return el("div", "system", "ボタンを押しました"); }
        text = item.displayText;
      }
      var row = el("div", "row user");
      row.setAttribute("data-side", "user");
      row.appendChild(el("span", "meta", "既読 " + timeLabel(item.at)));
      row.appendChild(el("div", "bubble", text));
      return row;
    }
    var botRow = el("div", "row bot");
    botRow.setAttribute("data-side", "bot");
    botRow.setAttribute("data-endpoint", item.endpoint);
    botRow.appendChild(el("div", "avatar", "公式"));
    botRow.appendChild(renderMessage(item.message || {}));
    botRow.appendChild(el("span", "meta", timeLabel(item.at)));
    return botRow;
  }
  function renderTalk(data) {
    renderRichMenu(data);
    var ids = data.items.map(function (i) { return i.id; }).join(",");
    sub.textContent = data.resident.name + (data.resident.following ? "" : "（ブロック中）");
    if (ids === state.lastIds) { return; }
    state.lastIds = ids;
    talk.textContent = "";
    var lastDay = "";
    data.items.forEach(function (item) {
      var day = new Date(item.at).toLocaleDateString("ja-JP", { timeZone: "Asia/Tokyo", month: "numeric", day: "numeric", weekday: "short" });
      if (day !== lastDay) { talk.appendChild(el("div", "system", day)); lastDay = day; }
      talk.appendChild(renderItem(item));
    });
    // Quick replies belong to the last message only, and vanish once the resident answers.
    quickReplies.textContent = "";
    var last = data.items[data.items.length - 1];
    if (last && last.side === "bot" && last.message && last.message.quickReply) {
      (last.message.quickReply.items || []).forEach(function (qr) {
        quickReplies.appendChild(actionButton(qr.action || {}, "qr"));
      });
    }
    talk.scrollTop = talk.scrollHeight;
  }

  // --- the rich menu under the talk (the one LINE shows this resident; a tab switch changes it
  // on the phone only, as LINE does, and sends the tile's postback) ---------------------------
  var richMenu = document.getElementById("rich-menu");
  var richMenuBody = document.getElementById("rich-menu-body");
  var richMenuBar = document.getElementById("rich-menu-bar");
  var menuState = { base: "", shown: null, open: true, aliases: {} };
  function tapRichMenu(action) {
    if (action.type === "richmenuswitch") {
      var target = menuState.aliases[action.richMenuAliasId];
      if (target) { drawRichMenu(target); }
      if (action.data) { send({ type: "postback", data: action.data, displayText: "" }); }
      return;
    }
    runAction(action);
  }
  function drawRichMenu(menu) {
    menuState.shown = menu;
    richMenuBody.textContent = "";
    richMenuBar.textContent = (menu.chatBarText || "メニュー") + (menuState.open ? " ▾" : " ▴");
    var frame = el("div", "rich-menu-frame");
    frame.style.paddingTop = (menu.size.height * 100 / menu.size.width) + "%";
    var img = el("img");
    img.src = menu.imageUrl; img.alt = menu.chatBarText || "リッチメニュー";
    frame.appendChild(img);
    (menu.areas || []).forEach(function (area, i) {
      var b = area.bounds, a = area.action || {};
      var button = el("button", "rich-menu-area");
      button.type = "button";
      button.style.left = (b.x * 100 / menu.size.width) + "%";
      button.style.top = (b.y * 100 / menu.size.height) + "%";
      button.style.width = (b.width * 100 / menu.size.width) + "%";
      button.style.height = (b.height * 100 / menu.size.height) + "%";
      button.setAttribute("aria-label", a.label || ("ボタン" + (i + 1)));
      button.setAttribute("data-action-type", a.type || "");
      button.addEventListener("click", function () { tapRichMenu(a); });
      frame.appendChild(button);
    });
    richMenuBody.appendChild(frame);
    richMenuBody.hidden = !menuState.open;
  }
  function renderRichMenu(data) {
    menuState.aliases = data.richMenuAliases || {};
    var menu = data.richMenu;
    if (!menu) { richMenu.hidden = true; menuState.base = ""; menuState.shown = null; return; }
    richMenu.hidden = false;
    // A new menu from LINE (published, disaster mode) replaces whatever tab is shown.
    if (menu.id !== menuState.base) { menuState.base = menu.id; drawRichMenu(menu); }
  }
  richMenuBar.addEventListener("click", function () {
    menuState.open = !menuState.open;
    if (menuState.shown) { drawRichMenu(menuState.shown); }
  });

  // --- talking to the server ----------------------------------------------------------------
  function loadTalk() {
    if (!state.userId) { talk.textContent = ""; quickReplies.textContent = ""; state.lastIds = ""; renderRichMenu({}); return Promise.resolve(); }
    var url = config.talkUrl + "?municipality=" + encodeURIComponent(state.town) + "&userId=" + encodeURIComponent(state.userId);
    return fetch(url, { credentials: "same-origin" }).then(function (r) {
      if (!r.ok) { throw new Error(String(r.status)); }
      return r.json();
    }).then(renderTalk).catch(function () { setStatus("トークを読み込めませんでした。", true); });
  }
  function loadResidents(selectUserId) {
    return fetch(config.residentsUrl + "?municipality=" + encodeURIComponent(state.town), { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (data) {
        residentSelect.textContent = "";
        data.residents.forEach(function (r) {
          var option = el("option", "", r.name + (r.following ? "" : "（ブロック中）"));
          option.value = r.userId;
          residentSelect.appendChild(option);
        });
        var wanted = selectUserId || state.userId;
        if (wanted) { residentSelect.value = wanted; }
        if (!residentSelect.value && residentSelect.options.length) { residentSelect.selectedIndex = 0; }
        state.userId = residentSelect.value;
        return loadTalk();
      });
  }
  // What the resident sends while an earlier send is still under way waits its turn, in order,
  // as on a phone: nothing typed is dropped, and the composer is never locked.
  var waiting = [];
  function send(payload) {
    if (state.busy) {
      waiting.push(payload);
      setStatus("送信中…（あと " + waiting.length + " 件）");
      return Promise.resolve();
    }
    payload.municipality = state.town;
    if (payload.userId === undefined) { payload.userId = state.userId; }
    if (!payload.userId && payload.type !== "follow") { setStatus("住民を選ぶか、新しい住民で友だち追加してください。", true); return Promise.resolve(); }
    state.busy = true; setStatus("送信中…");
    quickReplies.textContent = "";
    return fetch(config.sendUrl, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify(payload)
    }).then(function (r) {
      return r.json().catch(function () { return { message: "送信できませんでした（" + r.status + "）。" }; }).then(function (data) {
        if (!r.ok) { throw new Error(data.message || String(r.status)); }
        setStatus("");
        if (data.userId && data.userId !== state.userId) { state.userId = data.userId; return loadResidents(data.userId); }
        if (payload.type === "unfollow" || payload.type === "follow") { return loadResidents(state.userId); }
        return loadTalk();
      });
    }).catch(function (error) {
      setStatus(error.message || "送信できませんでした。", true);
    }).then(function () {
      state.busy = false;
      if (waiting.length) { return send(waiting.shift()); }
    });
  }

  // --- wiring -------------------------------------------------------------------------------
  composer.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value.trim();
    if (!text) { return; }
    input.value = "";
    send({ type: "text", text: text });
  });
  townSelect.addEventListener("change", function () {
    state.town = townSelect.value; state.userId = ""; state.lastIds = "";
    title.textContent = townName();
    loadResidents();
  });
  residentSelect.addEventListener("change", function () { state.userId = residentSelect.value; state.lastIds = ""; loadTalk(); });
  document.getElementById("sim-follow").addEventListener("click", function () {
    var name = document.getElementById("sim-new-name").value.trim();
    send({ type: "follow", userId: "", displayName: name });
    document.getElementById("sim-new-name").value = "";
  });
  document.getElementById("sim-unfollow").addEventListener("click", function () { send({ type: "unfollow" }); });
  document.getElementById("sim-refollow").addEventListener("click", function () { send({ type: "follow" }); });

  title.textContent = townName() || "公式アカウント";
  if (state.town) { loadResidents(); }
  // Multicasts and pushes arrive without the resident doing anything: poll like a phone would.
  state.timer = window.setInterval(function () { if (!state.busy && document.visibilityState === "visible") { loadTalk(); } }, 2500);
})();
