// Refresh the attendance list every 10 s while nobody is ticking boxes in it.
(function () {
  var box = document.getElementById("attendances");
  if (!box || !window.fetch) return;
  setInterval(function () {
    if (document.hidden || box.querySelector("input:checked")) return;
    fetch(box.dataset.src, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) { if (html) box.innerHTML = html; })
      .catch(function () {});
  }, 10000);
})();
