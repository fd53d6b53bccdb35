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
