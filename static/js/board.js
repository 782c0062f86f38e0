// The big screen: show one panel at a time, every 12 seconds, and load fresh numbers every 5 minutes.
// (Not <meta http-equiv="refresh">: axe counts a timed refresh as a critical problem, and a refresh
// while the server is unreachable would leave the hall's screen on an error page for good. Here the
// page reloads only when the server answers.)
(function () {
  var panels = document.querySelectorAll("body.board .panel");
  if (panels.length > 1) {
    var i = 0;
    setInterval(function () {
      panels[i].classList.remove("shown");
      i = (i + 1) % panels.length;
      panels[i].classList.add("shown");
    }, 12000);
  }
  setInterval(function () {
    if (!window.fetch) { location.reload(); return; }
    fetch(location.href, {cache: "no-store", credentials: "same-origin"}).then(function (response) {
      if (response.ok) location.reload();
    }, function () { /* offline: keep showing the last numbers, try again later */ });
  }, 300000);
})();
