// 受信設定: a district chosen from the list is saved at once (the button stays for no-JS).
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
    var button = select.form.querySelector(".js-hidden");
    if (button) button.style.display = "none";
    select.addEventListener("change", function () { select.form.submit(); });
  });
});
