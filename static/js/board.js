// The big screen: show one panel at a time, every 12 seconds.
(function () {
  var panels = document.querySelectorAll("body.board .panel");
  if (panels.length < 2) return;
  var i = 0;
  setInterval(function () {
    panels[i].classList.remove("shown");
    i = (i + 1) % panels.length;
    panels[i].classList.add("shown");
  }, 12000);
})();
