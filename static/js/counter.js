// The counter: tap a tile to add one, type quantities directly, or scan a product barcode.
// The total shows at once from the tiles' prices; then the cart is priced by the JSON API
// (POST /api/v1/stores/<id>/cart, the session cookie and the page's CSRF token), which answers the total,
// the balance after it and what the checkout would refuse (limits, stock, points). When the API refuses, its
// message is shown and the page keeps working: the checkout is the form post, and the server checks all again.
(function () {
  var form = document.getElementById("cart");
  if (!form) return;
  var balanceEl = document.getElementById("balance");
  var balance = parseInt(balanceEl.dataset.balance, 10) || 0;
  var totalEl = document.getElementById("total"), afterEl = document.getElementById("after");
  var shortEl = document.getElementById("short"), confirm = document.getElementById("confirm");
  var problemsEl = document.getElementById("cart-problems");
  var items = Array.prototype.slice.call(form.querySelectorAll("li.product"));
  var api = form.dataset.api, identification = parseInt(form.dataset.identification, 10);
  var csrfInput = form.querySelector("input[name=csrf_token]");
  var asked = 0, timer = null, submitting = false;

  function qty(li) { return parseInt(li.querySelector("input.qty").value, 10) || 0; }
  function show(total, after, short, blocked) {
    totalEl.textContent = total;
    afterEl.textContent = after;
    shortEl.hidden = !short;
    confirm.disabled = submitting || total === 0 || short || blocked;
  }
  function problems(texts) {
    problemsEl.textContent = "";
    texts.forEach(function (text) {
      var p = document.createElement("p");
      p.textContent = text;
      problemsEl.appendChild(p);
    });
    problemsEl.hidden = texts.length === 0;
  }
  function lines() {
    var out = [];
    items.forEach(function (li) {
      var n = qty(li);
      if (n > 0) out.push({ product_id: parseInt(li.dataset.id, 10), quantity: n });
    });
    return out;
  }
  function local() {
    var total = 0;
    items.forEach(function (li) {
      total += qty(li) * parseInt(li.dataset.price, 10);
      li.classList.toggle("chosen", qty(li) > 0);
    });
    show(total, balance - total, total > balance, false);
    return total;
  }
  function priced() {
    var cart = lines(), mine = ++asked;
    if (!window.fetch || !api || cart.length === 0) { problems([]); return; }
    fetch(api, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json",
                 "X-CSRFToken": csrfInput ? csrfInput.value : "" },
      body: JSON.stringify({ identification_id: identification, lines: cart }),
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (mine !== asked) return;  // a newer cart is on its way
        if (!response.ok) {
          problems([(data.error && data.error.message) || response.statusText]);
          return;
        }
        balance = data.balance;
        balanceEl.textContent = data.balance;
        var texts = [];
        data.lines.forEach(function (line) { if (line.problem) texts.push(line.problem.message); });
        data.problems.forEach(function (p) { if (p.code !== "insufficient_points") texts.push(p.message); });
        problems(texts);
        var short = data.problems.some(function (p) { return p.code === "insufficient_points"; });
        show(data.total, data.balance_after, short, !data.ok && !short);
      });
    }).catch(function () { /* offline: the local total stands, the checkout checks again */ });
  }
  function update() {
    local();
    clearTimeout(timer);
    timer = setTimeout(priced, 150);
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
  form.addEventListener("submit", function () {
    submitting = true;
    setTimeout(function () { confirm.disabled = true; }, 0);
  });
  local();
})();
