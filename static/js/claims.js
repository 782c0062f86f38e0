// The claim form: the minutes field only for an item counted by the hour (without this script it is always shown).
(function () {
  "use strict";
  var box = document.querySelector(".minutes-field");
  var choices = document.querySelectorAll(".claim-form input[name=item]");
  if (!box || !choices.length) { return; }
  function update() {
    var chosen = document.querySelector(".claim-form input[name=item]:checked");
    var hourly = chosen && chosen.getAttribute("data-per-hour") === "1";
    var input = box.querySelector("input");
    box.hidden = !hourly && !(input && input.value);
  }
  for (var i = 0; i < choices.length; i++) { choices[i].addEventListener("change", update); }
  update();
})();
