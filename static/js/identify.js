// The counter's identify page asks the JSON API (POST /api/v1/stores/<id>/identify) with the page's session
// cookie and CSRF token: a scanned or typed member code (with the card's PIN), or a resident found by search
// with the ID card's last four characters. Identified: the counter page takes the identification over.
// Refused: the API's message is shown here (the same PIN and ID-digit counters as the form post); the
// fields stay as the clerk needs them. Without fetch, or when the request cannot be sent, the form posts.
(function () {
  var codeForm = document.getElementById("code-form");
  if (!codeForm || !window.fetch) return;
  var api = codeForm.dataset.api, counter = codeForm.dataset.counter;
  var PIN_CODES = ["pin_required", "wrong_pin", "pin_locked", "pin_not_set"];
  var KEEP_CODES = ["ambiguous_card_number", "unknown_card"];  // the code stays, to add the dash

  function csrf(form) {
    var input = form.querySelector("input[name=csrf_token]") || document.querySelector("input[name=csrf_token]");
    return input ? input.value : "";
  }
  function say(text) {
    var main = document.getElementById("main") || document.body;
    Array.prototype.forEach.call(main.querySelectorAll(".flash"), function (old) { old.remove(); });
    var box = document.createElement("div");
    box.className = "flash error";
    box.setAttribute("role", "alert");
    box.textContent = text;
    main.insertBefore(box, main.firstChild);
  }
  function ask(form, body) {
    return fetch(api, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": csrf(form) },
      body: JSON.stringify(body),
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        return { ok: response.ok, data: data };
      });
    });
  }
  function send(form, body, refused) {
    var button = form.querySelector("button[type=submit]");
    if (button) button.disabled = true;
    ask(form, body).then(function (answer) {
      if (answer.ok && answer.data.identification_id) {
        window.location.assign(counter + "?identification=" + encodeURIComponent(answer.data.identification_id));
        return;
      }
      if (button) button.disabled = false;
      var error = answer.data && answer.data.error;
      if (!error) { form.submit(); return; }  // not the API's answer: let the page's own post say it
      say(error.message);
      refused(error.code);
    }).catch(function () {
      if (button) button.disabled = false;
      form.submit();  // the request could not be sent: the form post still works
    });
  }
  function pinField() {
    var pin = document.getElementById("pin");
    var template = document.getElementById("pin-template");
    if (!pin && template) {
      var row = codeForm.querySelector(".row");
      codeForm.insertBefore(template.content.cloneNode(true), row);
      pin = document.getElementById("pin");
    }
    return pin;
  }

  codeForm.addEventListener("submit", function (e) {
    e.preventDefault();
    var code = codeForm.querySelector("#code"), pin = document.getElementById("pin");
    send(codeForm, { code: code.value, pin: pin ? pin.value : "" }, function (why) {
      if (PIN_CODES.indexOf(why) >= 0) {
        var field = pinField();
        field.value = "";
        field.focus();
        return;
      }
      if (KEEP_CODES.indexOf(why) < 0) code.value = "";
      code.focus();
    });
  });

  Array.prototype.forEach.call(document.querySelectorAll("form.found"), function (form) {
    form.addEventListener("submit", function (e) {
      var tail = form.querySelector("input.tail");
      if (!tail) return;
      e.preventDefault();
      var id = parseInt(form.querySelector("input[name=resident_id]").value, 10);
      send(form, { resident_id: id, id_tail: tail.value }, function () {
        tail.value = "";
        tail.focus();
      });
    });
  });
})();
