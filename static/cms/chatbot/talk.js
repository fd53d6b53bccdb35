// The talk page: show the newest message (the bottom of the talk) and keep the reply box in view.
document.addEventListener("DOMContentLoaded", function () {
  var log = document.getElementById("talk-log");
  if (!log) return;
  log.scrollTop = log.scrollHeight;
  var reply = document.querySelector(".chatbot-reply textarea");
  if (window.location.hash === "#talk-end" && reply) {
    reply.scrollIntoView({ block: "end" });
    reply.focus();
  }
});
