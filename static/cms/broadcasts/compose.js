// Broadcast composer in the admin: live recipient count, LINE-like preview, character counter,
// schedule fields, and the progress bar while sending. Loaded as a file (CSP: no inline script).
(function () {
  "use strict";

  function $(sel, root) { return (root || document).querySelector(sel); }
  function $$(sel, root) { return Array.prototype.slice.call((root || document).querySelectorAll(sel)); }
  function utf16(text) { var n = 0; for (var i = 0; i < text.length; i++) { n += 1; } return n; } // JS strings are UTF-16

  // --- 「約 N 人に届きます」 ------------------------------------------------------------------
  var countTimer = null;
  function updateCount() {
    var out = $("#recipient-count");
    if (!out || !out.dataset.url || !$("#id_title")) return;
    var params = new URLSearchParams();
    var dept = $("#id_department"); if (dept) params.append("department", dept.value);
    var emergency = $("#id_is_emergency"); if (emergency && emergency.checked) params.append("is_emergency", "1");
    var category = $("#id_category"); if (category) params.append("category", category.value);
    var chosenAreas = $("#id_areas_to");  // the admin's two-box selector for many districts
    if (chosenAreas) Array.prototype.forEach.call(chosenAreas.options, function (o) { params.append("areas", o.value); });
    else $$("input[name=areas]:checked, select[name=areas] option:checked").forEach(function (el) { params.append("areas", el.value); });
    $$("input[name=age_bands]:checked").forEach(function (el) { params.append("age_bands", el.value); });
    out.textContent = "数えています…";
    fetch(out.dataset.url + "?" + params.toString(), { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.json(); })
      .then(function (data) {
        out.textContent = data.label;
        out.classList.toggle("bc-zero", data.count === 0);
      })
      .catch(function () { out.textContent = "人数を取得できませんでした。"; });
  }
  function scheduleCount() { clearTimeout(countTimer); countTimer = setTimeout(updateCount, 250); }

  // --- schedule and emergency fields --------------------------------------------------------
  function syncFields() {
    var mode = $("input[name=send_mode]:checked");
    var at = mode && mode.value === "at";
    ["scheduled_at", "recurrence", "recurrence_until"].forEach(function (name) {
      var row = $(".form-row.field-" + name) || $(".fieldBox.field-" + name);
      if (row) row.style.display = at ? "" : "none";
    });
    var emergency = $("#id_is_emergency");
    var category = $("#id_category");
    if (emergency && category) {
      category.disabled = emergency.checked;
      ["areas", "age_bands"].forEach(function (name) {
        var row = $(".form-row.field-" + name);
        if (row) row.style.opacity = emergency.checked ? "0.4" : "";
      });
    }
  }

  // --- message rows: show the fields of the chosen kind --------------------------------------
  var KIND_FIELDS = {
    text: ["text"],
    image: ["image", "image_url"],
    card: ["card_title", "text", "link_label", "link_url"]
  };
  var ALL_FIELDS = ["text", "image", "image_url", "card_title", "link_label", "link_url"];
  function syncKinds() {
    $$(".broadcast-messages .inline-related").forEach(function (form) {
      var kind = form.querySelector("select[name$='-kind']");
      if (!kind) return;
      var shown = KIND_FIELDS[kind.value] || ALL_FIELDS;
      ALL_FIELDS.forEach(function (name) {
        var row = form.querySelector(".form-row.field-" + name);
        if (row && !row.querySelector(".errorlist")) row.style.display = shown.indexOf(name) === -1 ? "none" : "";
      });
    });
  }

  // --- preview ------------------------------------------------------------------------------
  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function inlineMessages() {
    var forms = $$(".broadcast-messages .inline-related").filter(function (f) {
      return f.id && f.id.indexOf("empty") === -1 && !f.classList.contains("empty-form");
    });
    return forms.map(function (form) {
      var get = function (name) { var x = form.querySelector("[name$='-" + name + "']"); return x ? x : null; };
      var del = get("DELETE");
      if (del && del.checked) return null;
      var kind = get("kind"); if (!kind) return null;
      var file = get("image");
      var image = "";
      if (file && file.files && file.files[0]) image = URL.createObjectURL(file.files[0]);
      else {
        var current = form.querySelector(".file-upload a");
        if (current) image = current.getAttribute("href");
      }
      var url = get("image_url");
      if (!image && url) image = url.value;
      return {
        kind: kind.value, text: (get("text") || {}).value || "", image: image,
        title: (get("card_title") || {}).value || "", label: (get("link_label") || {}).value || "", url: (get("link_url") || {}).value || ""
      };
    }).filter(Boolean);
  }

  function storedMessages() {
    return $$(".bc-msg-src").map(function (n) {
      return { kind: n.dataset.kind, text: n.dataset.text, image: n.dataset.image, title: n.dataset.title, label: n.dataset.label, url: n.dataset.url };
    });
  }

  function renderPreview() {
    var talk = $("#line-preview");
    if (!talk) return;
    var list = $(".broadcast-messages .inline-related select[name$='-kind']") ? inlineMessages() : storedMessages();
    $$(".bc-bubble-row", talk).forEach(function (n) { n.remove(); });
    if (!list.length) {
      var empty = el("div", "bc-bubble-row bc-empty", "メッセージを入力すると、ここに表示されます。");
      talk.appendChild(empty);
      return;
    }
    list.forEach(function (m) {
      var row = el("div", "bc-bubble-row");
      row.appendChild(el("div", "bc-avatar"));
      var bubble;
      if (m.kind === "image") {
        bubble = el("div", "bc-bubble bc-image");
        if (m.image) { var img = el("img"); img.src = m.image; img.alt = "配信する画像"; bubble.appendChild(img); }
        else bubble.textContent = "（画像）";
      } else if (m.kind === "card") {
        bubble = el("div", "bc-bubble bc-card");
        bubble.appendChild(el("div", "bc-card-title", m.title || "（タイトル）"));
        bubble.appendChild(el("div", "bc-card-text", m.text || "（本文）"));
        if (m.label) { var btn = el("div", "bc-card-button", m.label); btn.title = m.url; bubble.appendChild(btn); }
      } else {
        bubble = el("div", "bc-bubble bc-text", m.text || "（本文）");
      }
      row.appendChild(bubble);
      talk.appendChild(row);
    });
  }

  // --- character counter (UTF-16 units, as LINE counts) -------------------------------------
  function counters() {
    $$("textarea[data-utf16-max]").forEach(function (area) {
      if (area.dataset.counter) return;
      area.dataset.counter = "1";
      var note = el("div", "bc-counter");
      area.parentNode.appendChild(note);
      var update = function () {
        var n = utf16(area.value), max = parseInt(area.dataset.utf16Max, 10);
        note.textContent = n.toLocaleString() + " / " + max.toLocaleString() + " 文字";
        note.classList.toggle("bc-over", n > max);
      };
      area.addEventListener("input", update);
      update();
    });
  }

  // --- progress while sending ---------------------------------------------------------------
  function pollProgress() {
    var box = $("#bc-progress");
    if (!box || box.dataset.status !== "sending") return;
    var tick = function () {
      fetch(box.dataset.url, { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (d) {
        var done = d.sent + d.failed;
        var bar = $(".bc-progress-done", box), failed = $(".bc-progress-failed", box), label = $(".bc-progress-label", box);
        if (bar) bar.style.width = (d.total ? Math.floor(100 * d.sent / d.total) : 100) + "%";
        if (failed) failed.style.width = (d.total ? Math.floor(100 * d.failed / d.total) : 0) + "%";
        if (label) label.textContent = done.toLocaleString() + " / " + d.total.toLocaleString() + "（" + d.percent + "%）";
        var sent = $("#bc-sent"); if (sent) sent.textContent = d.sent.toLocaleString();
        var f = $("#bc-failed"); if (f) f.textContent = d.failed.toLocaleString();
        if (d.status !== "sending") { window.location.reload(); return; }
        setTimeout(tick, 2000);
      }).catch(function () { setTimeout(tick, 5000); });
    };
    setTimeout(tick, 1500);
  }

  // --- unsaved edits ------------------------------------------------------------------------
  // The transition buttons act on the saved broadcast. What the form holds now, as text, to
  // tell whether the staff member changed something since the page was loaded.
  function formState(form) {
    var parts = [];
    new FormData(form).forEach(function (value, name) {
      if (name !== "csrfmiddlewaretoken") parts.push(name + "=" + (typeof value === "string" ? value : value.name));
    });
    // The two-box selector selects its chosen options only when the form is submitted.
    $$("select.filtered[id$='_to']", form).forEach(function (select) {
      parts.push(select.id + "=" + Array.prototype.map.call(select.options, function (o) { return o.value; }).join(","));
    });
    return parts.join("&");
  }

  function unsavedNotice(label) {
    var note = $("#bc-unsaved");
    if (!note) {
      note = document.createElement("p");
      note.id = "bc-unsaved";
      note.className = "errornote";
      note.setAttribute("role", "alert");
      $(".bc-transitions").insertAdjacentElement("afterend", note);
    }
    note.textContent = "保存していない変更があります。「" + label + "」はこの変更を含みません。" +
      "先にページ下の「保存して編集を続ける」を押して保存してから、もう一度押してください。";
    note.scrollIntoView({ block: "center" });
  }

  function confirmButtons(changeForm) {
    var loaded = null;
    // After the admin's widgets have rebuilt their fields (the two-box selector starts on load).
    window.addEventListener("load", function () {
      setTimeout(function () { if (changeForm) loaded = formState(changeForm); }, 0);
    });
    $$(".bc-transition-form").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        var verb = form.dataset.verb;
        if (verb !== "cancel" && loaded !== null && formState(changeForm) !== loaded) {
          event.preventDefault();
          unsavedNotice($("button[type=submit]", form).textContent.trim());
          return;
        }
        var question = { cancel: "この配信を取り消しますか？", emergency: "緊急配信を友だち全員にすぐ送ります。よろしいですか？", approve: "この配信を承認しますか？" }[verb];
        if (question && !window.confirm(question)) event.preventDefault();
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = $("#broadcast_form");
    syncFields();
    syncKinds();
    counters();
    renderPreview();
    updateCount();
    pollProgress();
    confirmButtons(form);
    if (form) {
      form.addEventListener("change", function () { syncFields(); syncKinds(); scheduleCount(); renderPreview(); counters(); });
      form.addEventListener("input", function () { renderPreview(); });
      // The two-box selector moves options without a change event; recount after its clicks.
      form.addEventListener("click", function (event) {
        if (event.target.closest(".selector")) scheduleCount();
      });
      form.addEventListener("dblclick", function (event) {
        if (event.target.closest(".selector")) scheduleCount();
      });
      document.addEventListener("formset:added", function () { syncKinds(); counters(); renderPreview(); });
      document.addEventListener("formset:removed", function () { renderPreview(); });
    }
  });
})();
