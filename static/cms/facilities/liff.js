// 施設予約 resident pages. Inline handlers are blocked by the CSP, so behaviour lives here.
(function () {
  // Ask before a destructive form is sent.
  document.addEventListener("submit", function (event) {
    var question = event.target.getAttribute("data-confirm");
    if (question && !window.confirm(question)) { event.preventDefault(); return; }
    // One submission per tap: a second tap while the page is sending does nothing.
    var button = event.target.querySelector("button[type=submit]");
    if (button && event.target.getAttribute("data-once") !== null) {
      if (button.getAttribute("aria-disabled") === "true") { event.preventDefault(); return; }
      button.setAttribute("aria-disabled", "true");
    }
  });

  // The fee on the details form follows the choices (町内/町外, 減免, 付帯設備); the server computes it.
  var form = document.getElementById("book-form");
  var box = document.getElementById("fee");
  if (!form || !box || !box.getAttribute("data-url")) { return; }
  var yen = function (n) { return n.toLocaleString("ja-JP") + "円"; };
  var reason = document.getElementById("discount-reason");
  function update() {
    var params = new URLSearchParams();
    var rate = form.querySelector("input[name=rate]:checked");
    var discount = form.querySelector("input[name=discount]:checked");
    params.set("rate", rate ? rate.value : "resident");
    params.set("discount", discount ? discount.value : "");
    form.querySelectorAll("input[name=extras]:checked").forEach(function (e) { params.append("extras", e.value); });
    if (reason) { reason.hidden = !(discount && discount.value); }
    fetch(box.getAttribute("data-url") + "?" + params.toString(), { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (fee) {
        if (!fee) { return; }
        var body = box.querySelector("tbody");
        body.textContent = "";
        fee.lines.forEach(function (line) {
          var tr = document.createElement("tr");
          var label = document.createElement("td"); label.textContent = line.label;
          var amount = document.createElement("td"); amount.className = "amount"; amount.textContent = yen(line.amount);
          tr.appendChild(label); tr.appendChild(amount); body.appendChild(tr);
        });
        box.querySelector("[data-total]").textContent = yen(fee.total);
        box.setAttribute("data-total-value", String(fee.total));
      });
  }
  form.addEventListener("change", function (event) {
    var name = event.target.name;
    if (name === "rate" || name === "discount" || name === "extras") { update(); }
  });
  if (reason) {
    var chosen = form.querySelector("input[name=discount]:checked");
    reason.hidden = !(chosen && chosen.value) && !reason.querySelector(".errorlist");
  }
})();
