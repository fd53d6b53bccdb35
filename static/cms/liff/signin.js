/* LIFF sign-in: inside LINE, get the ID token and post it to the server, then go on. */
(function () {
  "use strict";
  var box = document.getElementById("liff-signin");
  if (!box) { return; }
  var message = document.getElementById("liff-message");
  var help = document.getElementById("liff-help");
  function fail(text) {
    var heading = document.querySelector("header.page h1");
    if (heading) { heading.textContent = "ログインできませんでした"; }
    message.textContent = text;
    help.hidden = false;
  }
  var liffId = box.getAttribute("data-liff-id");
  if (!window.liff || !liffId) {
    fail("LINE のアカウントを確認できませんでした。");
    return;
  }
  window.liff.init({ liffId: liffId }).then(function () {
    if (!window.liff.isLoggedIn()) {
      window.liff.login({ redirectUri: window.location.href });
      return null;
    }
    var token = window.liff.getIDToken();
    if (!token) { throw new Error("no id token"); }
    var form = new FormData(document.getElementById("liff-form"));
    form.append("id_token", token);
    form.append("next", box.getAttribute("data-next") || "");
    return fetch(box.getAttribute("data-verify-url"), { method: "POST", body: form, credentials: "same-origin" });
  }).then(function (response) {
    if (!response) { return null; }
    return response.json().then(function (data) {
      if (response.ok && data.ok) { window.location.replace(data.next); }
      else { fail(data.message || "ログインできませんでした。"); }
    });
  }).catch(function () {
    fail("LINE のアカウントを確認できませんでした。通信状態を確かめて、もう一度開いてください。");
  });
})();
