// The lead's activity page, live, through the JSON API (/api/v1/lead/...):
// - the attendance list is read from the API every 10 s while nobody is ticking boxes in it, and right after
//   a check-in, and drawn here (text only: names never become HTML);
// - checking a resident in by a member card (scanned, or its number typed) or after a search goes through the
//   API with the page's session cookie and its CSRF token (X-CSRFToken); a refusal shows the error's message.
// Without JavaScript (or fetch) the same forms post to the page, as before.
(function () {
  var box = document.getElementById("attendances");
  if (!box || !box.dataset.api || !window.fetch) return;
  var labels = box.dataset;
  var note = document.getElementById("api-message");
  var codeForm = document.getElementById("code-form");
  var searchForm = document.getElementById("search-form");
  var found = document.getElementById("found");
  var token = document.querySelector("input[name=csrf_token]");
  var clock = new Intl.DateTimeFormat("zh-CN", { timeZone: labels.tz || "Asia/Shanghai", hour: "2-digit",
                                                 minute: "2-digit", hourCycle: "h23" });

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function say(text, ok) {
    if (!note) return;
    note.textContent = text;
    note.className = "flash " + (ok ? "success" : "error");
    note.setAttribute("role", ok ? "status" : "alert");
    note.hidden = false;
  }

  // One call to the API: the answer's JSON, or an Error with the error shape's message.
  function call(method, url, body) {
    var headers = { "Accept": "application/json" };
    var options = { method: method, credentials: "same-origin", headers: headers };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      headers["X-CSRFToken"] = token ? token.value : "";
      options.body = JSON.stringify(body);
    }
    return fetch(url, options).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (!response.ok) throw new Error((data && data.error && data.error.message) || labels.failed);
        return data;
      });
    }, function () { throw new Error(labels.failed); });
  }

  function time(iso) { return iso ? clock.format(new Date(iso)) : "…"; }

  function methodLabel(method) {
    return method === "self_scan" ? labels.selfScan : method === "lead_scan" ? labels.leadScan : labels.manual;
  }

  function statusCell(a) {
    var cell = el("td", "num");
    if (a.status === "approved") {
      cell.appendChild(document.createTextNode(labels.approved));
    } else if (a.status === "pending") {
      cell.appendChild(el("strong", null, labels.pending));
      if (a.hold === "manual" || a.hold === "ceiling" || a.hold === "self") {
        cell.appendChild(el("br"));
        cell.appendChild(el("small", null, a.hold === "self" ? labels.holdLead : labels.holdOffice));
      }
    } else {
      cell.appendChild(document.createTextNode(labels.rejected));
      cell.appendChild(el("br"));
      cell.appendChild(el("small", null, a.reject_reason));
    }
    cell.appendChild(el("br"));
    cell.appendChild(el("span", "points", a.points_awarded || "—"));
    return cell;
  }

  function row(a) {
    var tr = el("tr");
    var pick = el("td");
    var box_ = el("input");
    box_.type = "checkbox";
    box_.name = "ids";
    box_.value = a.id;
    box_.setAttribute("form", "review-form");
    box_.setAttribute("aria-label", a.resident_name);
    pick.appendChild(box_);
    tr.appendChild(pick);
    var who = el("td");
    who.appendChild(el("strong", null, a.resident_name));
    who.appendChild(document.createTextNode(" "));
    who.appendChild(el("small", null, a.address));
    who.appendChild(el("br"));
    who.appendChild(document.createTextNode(time(a.checked_in_at) + " – " + time(a.checked_out_at) + " "));
    who.appendChild(el("small", "method", methodLabel(a.method)));
    if (a.manual_reason) {
      who.appendChild(el("br"));
      who.appendChild(el("small", null, a.manual_reason));
    }
    tr.appendChild(who);
    tr.appendChild(statusCell(a));
    return tr;
  }

  function draw(data) {
    var old = box.querySelector("tbody");
    if (!old) return;
    var body = el("tbody");
    data.attendances.forEach(function (a) { body.appendChild(row(a)); });
    if (!data.attendances.length) {
      var empty = el("td", null, labels.nobody);
      empty.colSpan = 3;
      body.appendChild(el("tr")).appendChild(empty);
    }
    old.parentNode.replaceChild(body, old);
    var count = box.querySelector("p.hint");
    if (count) {
      count.textContent = labels.people.replace("987654", String(data.count))
        + (data.capacity ? " / " + data.capacity : "");
    }
    box.dataset.loaded = String(Date.now());  // when the list last came from the API
  }

  function refresh() {
    return call("GET", labels.api).then(draw).catch(function () {});
  }

  var busy = false;
  function checkIn(url, body, button) {
    if (busy) return;
    busy = true;
    if (button) button.disabled = true;
    call("POST", url, body).then(function (data) {
      say(data.message, true);
      if (body.code !== undefined && codeForm) {
        codeForm.elements.code.value = "";
        codeForm.elements.code.focus();
      }
      return refresh();
    }).catch(function (err) {
      say(err.message, false);
    }).then(function () {
      busy = false;
      if (button) button.disabled = false;
    });
  }

  if (codeForm && codeForm.dataset.api) {
    var send = function (event) {
      event.preventDefault();
      var code = codeForm.elements.code.value.trim();
      if (code) checkIn(codeForm.dataset.api, { code: code }, codeForm.querySelector("button[type=submit]"));
    };
    codeForm.addEventListener("submit", send);
    codeForm.addEventListener("scanned", send);  // scan.js read a code into the field
  }

  // a search result's "Check in" (those drawn here and those the page came with)
  if (found) {
    found.addEventListener("submit", function (event) {
      var form = event.target;
      if (!form.dataset.api) return;
      event.preventDefault();
      var id = parseInt(form.elements.resident_id.value, 10);
      checkIn(form.dataset.api, { resident_id: id }, form.querySelector("button[type=submit]"));
    });
  }

  function showFound(data) {
    var choose = document.getElementById("manual-resident");
    found.textContent = "";
    if (data.note) {
      var hint = el("p", "hint search-note", data.note);
      hint.setAttribute("role", "status");
      found.appendChild(hint);
    }
    if (choose) choose.textContent = "";
    data.residents.forEach(function (r) {
      var form = el("form", "row");
      form.method = "post";
      form.action = codeForm ? codeForm.action : "";
      form.dataset.api = codeForm ? codeForm.dataset.api : "";
      var hidden = el("input");
      hidden.type = "hidden";
      hidden.name = "resident_id";
      hidden.value = r.id;
      form.appendChild(hidden);
      form.appendChild(el("span", null, r.name + " · " + r.address));
      var button = el("button", "primary", found.dataset.checkIn);
      button.type = "submit";
      form.appendChild(button);
      found.appendChild(form);
      if (choose) {
        var option = el("option", null, r.name + " · " + r.address);
        option.value = r.id;
        choose.appendChild(option);
      }
    });
    if (!data.residents.length) {
      found.appendChild(el("p", null, found.dataset.nobody));
      if (choose) {
        var none = el("option", null, found.dataset.choose);
        none.value = "";
        choose.appendChild(none);
      }
    }
  }

  if (searchForm && searchForm.dataset.api && found) {
    searchForm.addEventListener("submit", function (event) {
      event.preventDefault();
      var q = searchForm.elements.q.value.trim();
      if (!q) return;
      call("GET", searchForm.dataset.api + "?q=" + encodeURIComponent(q)).then(showFound).catch(function (err) {
        say(err.message, false);
      });
    });
  }

  setInterval(function () {
    if (document.hidden || box.querySelector("input:checked")) return;
    refresh();
  }, 10000);
})();
