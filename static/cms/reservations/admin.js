// Slot import: poll the job's progress and reload when it has finished a phase.
(function () {
  var bar = document.getElementById("import-progress");
  if (!bar) { return; }
  var url = bar.getAttribute("data-url");
  function poll() {
    fetch(url, { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (data) {
      bar.value = data.percent;
      var label = document.getElementById("import-progress-label");
      if (label) { label.textContent = data.label + "（" + data.processed + " / " + (data.total || "?") + " 行）"; }
      if (["queued", "checking", "importing"].indexOf(data.status) === -1) { window.location.reload(); }
      else { window.setTimeout(poll, 1000); }
    }).catch(function () { window.setTimeout(poll, 3000); });
  }
  poll();
})();
// Phone booking: digits-only phone as the staff member types is not required; Enter submits.

// 代理予約: the menu select opens its week; the caller box suggests earlier callers and LINE
// users (JSON from the same page) and Enter fills the first one in, then puts the focus on the
// week calendar, where the arrow keys move between the free slots (one radio group).
(function () {
  var menu = document.querySelector("select[data-autosubmit]");
  if (menu) {
    menu.addEventListener("change", function () { if (menu.value) { menu.form.submit(); } });
  }
  var form = document.getElementById("phone-booking");
  var box = document.getElementById("caller-q");
  if (!form || !box) { return; }
  var list = document.getElementById("caller-suggestions");
  var warning = document.getElementById("duplicate-warning");
  var picked = document.getElementById("picked-resident");
  var results = [];
  var timer = null;
  var seq = 0;

  function field(name) { return form.querySelector("[name=" + name + "]"); }

  function focusWeek() {
    var radio = form.querySelector("input[name=slot]:checked") ||
      form.querySelector("input[name=slot]:not(:disabled):not([data-full])") ||
      form.querySelector("input[name=slot]:not(:disabled)");
    if (radio) { radio.checked = true; radio.focus(); }
  }

  function pick(item) {
    field("name").value = item.name;
    field("kana").value = item.kana;
    field("phone").value = item.phone_display || item.phone;
    field("resident").value = item.resident;
    // 予約する人: the LINE user themselves or one of the household members they registered.
    var member = field("member");
    var memberRow = document.getElementById("member-row");
    if (member) {
      member.innerHTML = "";
      var self = document.createElement("option");
      self.value = "";
      self.textContent = "本人";
      member.appendChild(self);
      (item.members || []).forEach(function (m) {
        var option = document.createElement("option");
        option.value = m.id;
        option.textContent = m.label;
        member.appendChild(option);
      });
      if (memberRow) { memberRow.hidden = !(item.members && item.members.length); }
    }
    picked.textContent = item.resident ? "LINE 利用者「" + item.name + "」さんとして予約します（予約確定が LINE に届きます）。" : "";
    warning.textContent = item.warning || "";
    list.innerHTML = "";
    results = [];
    focusWeek();
  }

  function render() {
    list.innerHTML = "";
    results.forEach(function (item) {
      var li = document.createElement("li");
      var button = document.createElement("button");
      button.type = "button";
      button.className = "button";
      button.textContent = "［" + item.kind + "］" + item.name + (item.kana ? "（" + item.kana + "）" : "") +
        (item.phone_display ? " " + item.phone_display : "") + (item.warning ? " ⚠ 予約あり" : "");
      button.addEventListener("click", function () { pick(item); });
      li.appendChild(button);
      list.appendChild(li);
    });
  }

  function search() {
    var q = box.value.trim();
    var mine = ++seq;
    if (q.length < 2) { results = []; render(); return Promise.resolve(); }
    return fetch(form.getAttribute("data-callers-url") + encodeURIComponent(q), {
      credentials: "same-origin", headers: { "Accept": "application/json" }
    }).then(function (r) { return r.json(); }).then(function (data) {
      if (mine === seq) { results = data.results || []; render(); }
    });
  }

  box.addEventListener("input", function () {
    window.clearTimeout(timer);
    timer = window.setTimeout(search, 150);
  });
  box.addEventListener("keydown", function (event) {
    if (event.key === "Enter") {
      // Enter here picks the first suggestion; it never submits the booking.
      event.preventDefault();
      window.clearTimeout(timer);
      (results.length ? Promise.resolve() : search()).then(function () { if (results.length) { pick(results[0]); } });
    } else if (event.key === "ArrowDown" && list.querySelector("button")) {
      event.preventDefault();
      list.querySelector("button").focus();
    }
  });
  // Enter on a slot submits, as in the text fields.
  form.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && event.target.name === "slot") { event.preventDefault(); form.requestSubmit(); }
  });
})();
