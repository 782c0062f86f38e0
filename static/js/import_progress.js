// A sheet checked or imported, or a ledger export made, in the background (#import-progress or
// #job-progress): ask how far it has got every 2 s, show it, and reload the page once it is done (the page
// then shows the result). No inline script: the page's CSP forbids it.
(function () {
  var box = document.getElementById("import-progress") || document.getElementById("job-progress");
  if (!box || !window.fetch) return;
  var count = box.querySelector("[data-count]");
  var bar = box.querySelector("progress");
  function poll() {
    fetch(box.dataset.src, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (p) {
        if (!p) return setTimeout(poll, 5000);
        if (!p.waiting) return window.location.reload();
        if (count) count.textContent = p.progress;
        if (bar && p.total) { bar.max = p.total; bar.value = p.progress; }
        setTimeout(poll, 2000);
      })
      .catch(function () { setTimeout(poll, 5000); });
  }
  setTimeout(poll, 2000);
})();
