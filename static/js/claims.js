// Claims (积分申报): the minutes field only for an item counted by the hour, and big phone photos made smaller
// before they are sent. Without this script the minutes field is always shown and photos go as they are
// (the server resizes them too); anything this script cannot do, it leaves to the plain form.
(function () {
  "use strict";
  var MAX_SIDE = 1600, SHRINK_FROM = 1500 * 1024, QUALITY = 0.85;

  var box = document.querySelector(".minutes-field");
  var choices = document.querySelectorAll(".claim-form input[name=item]");
  if (box && choices.length) {
    var update = function () {
      var chosen = document.querySelector(".claim-form input[name=item]:checked");
      var hourly = chosen && chosen.getAttribute("data-per-hour") === "1";
      var input = box.querySelector("input");
      box.hidden = !hourly && !(input && input.value);
    };
    for (var i = 0; i < choices.length; i++) { choices[i].addEventListener("change", update); }
    update();
  }

  // A phone photo of 3-6 MB each, three of them, is slow on mobile data and more than a proxy may take.
  function shrink(file) {
    if (!/^image\/(jpeg|png|webp)$/.test(file.type) || file.size < SHRINK_FROM) { return Promise.resolve(file); }
    return createImageBitmap(file).then(function (bitmap) {
      var scale = Math.min(1, MAX_SIDE / Math.max(bitmap.width, bitmap.height));
      var canvas = document.createElement("canvas");
      canvas.width = Math.round(bitmap.width * scale);
      canvas.height = Math.round(bitmap.height * scale);
      canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
      return new Promise(function (resolve) {
        canvas.toBlob(function (blob) {
          resolve(blob && blob.size < file.size
            ? new File([blob], file.name.replace(/\.\w+$/, "") + ".jpg", {type: "image/jpeg"}) : file);
        }, "image/jpeg", QUALITY);
      });
    }).catch(function () { return file; });
  }

  var forms = document.querySelectorAll("form[enctype='multipart/form-data']");
  window.addEventListener("pageshow", function () {  // back to the page from the browser's cache: usable again
    for (var p = 0; p < forms.length; p++) {
      delete forms[p].dataset.shrunk;
      var again = forms[p].querySelectorAll("button[type=submit]");
      for (var q = 0; q < again.length; q++) { again[q].disabled = false; }
    }
  });
  for (var f = 0; f < forms.length; f++) {
    forms[f].addEventListener("submit", function (event) {
      var form = event.currentTarget, input = form.querySelector("input[type=file][name=photos]");
      if (!input || !input.files || !input.files.length || form.dataset.shrunk ||
          typeof createImageBitmap !== "function" || typeof DataTransfer !== "function") { return; }
      event.preventDefault();
      form.dataset.shrunk = "1";
      var buttons = form.querySelectorAll("button[type=submit]");
      for (var b = 0; b < buttons.length; b++) { buttons[b].disabled = true; }
      Promise.all(Array.prototype.map.call(input.files, shrink)).then(function (files) {
        var list = new DataTransfer();
        files.forEach(function (file) { list.items.add(file); });
        input.files = list.files;
      }).catch(function () { /* send them as they are */ }).then(function () { form.submit(); });
    });
  }
})();
