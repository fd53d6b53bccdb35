// Copy buttons in the admin: <button data-copy-target="element-id">.
document.addEventListener("click", function (event) {
  var button = event.target.closest("[data-copy-target]");
  if (!button) return;
  var target = document.getElementById(button.getAttribute("data-copy-target"));
  if (!target) return;
  navigator.clipboard.writeText(target.textContent.trim()).then(function () {
    var label = button.textContent;
    button.textContent = "コピーしました";
    setTimeout(function () { button.textContent = label; }, 1500);
  });
});
