// Check-in screen: fetch a fresh QR when the time step changes (the server decides the code).
(function () {
  var img = document.getElementById("qr");
  var left = document.getElementById("left");
  if (!img) return;
  var seconds = parseInt(img.dataset.seconds, 10) || 30;
  function secondsLeft() { return seconds - Math.floor(Date.now() / 1000) % seconds; }
  function refresh() { img.src = img.dataset.src + "?t=" + Date.now(); }
  var last = secondsLeft();
  setInterval(function () {
    var now = secondsLeft();
    if (left) left.textContent = now;
    if (now > last) refresh();  // wrapped round: a new step began
    last = now;
  }, 500);
  // a phone that slept or lost the network catches up when it comes back
  document.addEventListener("visibilitychange", function () { if (!document.hidden) refresh(); });
})();
