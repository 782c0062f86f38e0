// The counter: tap a tile to add one, type quantities directly, or scan a product barcode.
// The total and the balance after update as you go; the server checks everything again.
(function () {
  var form = document.getElementById("cart");
  if (!form) return;
  var balance = parseInt(document.getElementById("balance").dataset.balance, 10) || 0;
  var totalEl = document.getElementById("total"), afterEl = document.getElementById("after");
  var shortEl = document.getElementById("short"), confirm = document.getElementById("confirm");
  var items = Array.prototype.slice.call(form.querySelectorAll("li.product"));
  function qty(li) { return parseInt(li.querySelector("input.qty").value, 10) || 0; }
  function update() {
    var total = 0;
    items.forEach(function (li) {
      total += qty(li) * parseInt(li.dataset.price, 10);
      li.classList.toggle("chosen", qty(li) > 0);
    });
    totalEl.textContent = total;
    afterEl.textContent = balance - total;
    shortEl.hidden = total <= balance;
    confirm.disabled = total === 0 || total > balance;
  }
  function add(li) {
    var input = li.querySelector("input.qty");
    if (input.disabled) return;
    var next = qty(li) + 1, max = parseInt(li.dataset.max, 10);
    if (next <= max) input.value = next;
    update();
  }
  items.forEach(function (li) {
    var tile = li.querySelector("button.tile");
    if (tile) tile.addEventListener("click", function () { add(li); });
    li.querySelector("input.qty").addEventListener("input", update);
  });
  var barcode = document.getElementById("barcode");
  if (barcode) barcode.addEventListener("keydown", function (e) {
    if (e.key !== "Enter") return;
    e.preventDefault();
    var code = barcode.value.trim();
    items.forEach(function (li) { if (code && li.dataset.barcode === code) add(li); });
    barcode.value = "";
  });
  // one submit only: a double click must not send the form twice (the server would not charge twice anyway)
  form.addEventListener("submit", function () { setTimeout(function () { confirm.disabled = true; }, 0); });
  update();
})();
