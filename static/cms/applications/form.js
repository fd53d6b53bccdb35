// Resident application pages: postal-code address completion, submit once, confirm dialogs.
(function () {
  "use strict";
  var form = document.querySelector("form.app-form[data-postal-url]");
  if (form) {
    var template = form.getAttribute("data-postal-url");
    var toHalf = function (s) {
      return s.replace(/[０-９]/g, function (c) { return String.fromCharCode(c.charCodeAt(0) - 0xfee0); });
    };
    form.querySelectorAll("input[data-postal]").forEach(function (input) {
      var status = input.parentNode.querySelector(".app-postal-status");
      var lookup = function () {
        var digits = toHalf(input.value).replace(/\D/g, "");
        if (digits.length !== 7) { return; }
        fetch(template.replace("0000000", digits), { credentials: "same-origin" })
          .then(function (r) { return r.json(); })
          .then(function (data) {
            if (!data.found) { if (status) { status.textContent = data.message; } return; }
            input.value = data.code;
            var address = form.querySelector("input[data-address]");
            if (address && !address.value) { address.value = data.address; }
            if (status) { status.textContent = "住所を入力しました: " + data.address + "（番地などを続けて入力してください）"; }
          })
          .catch(function () {});
      };
      input.addEventListener("change", lookup);
      input.addEventListener("input", function () { if (toHalf(input.value).replace(/\D/g, "").length === 7) { lookup(); } });
    });
  }
  // A double tap sends once: the button is disabled after the first submit (the server's
  // idempotency key covers retries and reloads as well).
  document.querySelectorAll("form").forEach(function (f) {
    f.addEventListener("submit", function (event) {
      var question = f.getAttribute("data-confirm");
      if (question && !window.confirm(question)) { event.preventDefault(); return; }
      if (f.dataset.sent) { event.preventDefault(); return; }
      f.dataset.sent = "1";
      var button = f.querySelector("button[data-once]");
      if (button) { setTimeout(function () { button.disabled = true; button.textContent = "送信中…"; }, 0); }
    });
  });
})();
