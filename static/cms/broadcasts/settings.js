// 受信設定: a district chosen from the list is saved at once (the button stays for no-JS); the
// page comes back where the resident was after each tap; leaving the page asks for one summary
// in LINE (sent only when something was changed).
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
    var button = select.form.querySelector(".js-hidden");
    if (button) button.style.display = "none";
    select.addEventListener("change", function () { select.form.submit(); });
  });

  var KEY = "receive-settings-scroll";
  var saved = window.sessionStorage.getItem(KEY);
  if (saved !== null) {
    window.sessionStorage.removeItem(KEY);
    window.scrollTo(0, parseInt(saved, 10) || 0);
  }
  var submitting = false;
  document.querySelectorAll("form:not(#leave-form)").forEach(function (form) {
    form.addEventListener("submit", function () {
      submitting = true;
      window.sessionStorage.setItem(KEY, String(window.scrollY));
    });
  });

  var leave = document.getElementById("leave-form");
  var sent = false;
  function left() {
    if (submitting || sent || !leave || !navigator.sendBeacon) return;
    sent = true;
    navigator.sendBeacon(window.location.pathname, new FormData(leave));
  }
  window.addEventListener("pagehide", left);
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") left();
  });
});
