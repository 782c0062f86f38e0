// Camera scanning into a form field: BarcodeDetector where the browser has it, else html5-qrcode.
// The field is submitted as soon as a code is read. A USB scanner types into the same field.
(function () {
  var button = document.getElementById("scan-button");
  var box = document.getElementById("scanner");
  if (!button || !box) return;
  var field = document.getElementById(button.dataset.target);
  var scanner = null, started = null, sent = false;
  function done(text) {
    if (sent) return;  // the scanner keeps reading frames until it has stopped: submit the first code only
    sent = true;
    field.value = text;
    stop();
    field.form.submit();
  }
  function stop() {
    var s = scanner, ready = started;
    scanner = started = null;
    box.hidden = true;
    // stop() throws while the camera is still starting (a quick second click): stop once it has started
    if (s) ready.then(function () { return s.stop(); }).catch(function () {});
  }
  button.addEventListener("click", function () {
    if (scanner) { stop(); return; }
    box.hidden = false;
    if (!window.Html5Qrcode) { box.textContent = button.dataset.unavailable || "Camera scanning is not available."; return; }
    scanner = new Html5Qrcode("scanner", {
      useBarCodeDetectorIfSupported: true,
      formatsToSupport: [Html5QrcodeSupportedFormats.QR_CODE, Html5QrcodeSupportedFormats.CODE_128, Html5QrcodeSupportedFormats.EAN_13],
    });
    var mine = scanner;
    started = scanner.start({ facingMode: "environment" }, { fps: 10, qrbox: { width: 240, height: 240 } }, done, function () {});
    started.catch(function (err) {
      if (scanner !== mine) return;  // stopped meanwhile
      box.hidden = false;
      box.textContent = String(err);
      scanner = started = null;
    });
  });
})();
