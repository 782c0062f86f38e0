// Behaviour every page may use, wired here rather than in onclick="…" attributes (the CSP refuses those):
// [data-print] buttons print the page; a select[data-autosubmit] sends its form when changed.
(function () {
  document.addEventListener("click", function (event) {
    var target = event.target.closest && event.target.closest("[data-print]");
    if (target) { event.preventDefault(); window.print(); }
  });
  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target.matches && target.matches("select[data-autosubmit]") && target.form) target.form.submit();
  });
})();
