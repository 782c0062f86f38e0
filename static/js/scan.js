// Camera scanning into a form field: BarcodeDetector where the browser has it, else html5-qrcode.
// The field is submitted as soon as a code is read. A USB scanner types into the same field.
(function () {
  var button = document.getElementById("scan-button");
  var box = document.getElementById("scanner");
  if (!button || !box) return;
  var field = document.getElementById(button.dataset.target);
  var scanner = null;
  function done(text) {
    field.value = text;
    stop();
    field.form.submit();
  }
  function stop() {
    if (scanner) { scanner.stop().catch(function () {}); scanner = null; }
    box.hidden = true;
  }
  button.addEventListener("click", function () {
    if (scanner) { stop(); return; }
    box.hidden = false;
    if (!window.Html5Qrcode) { box.textContent = button.dataset.unavailable || "Camera scanning is not available."; return; }
    scanner = new Html5Qrcode("scanner", {
      useBarCodeDetectorIfSupported: true,
      formatsToSupport: [Html5QrcodeSupportedFormats.QR_CODE, Html5QrcodeSupportedFormats.CODE_128, Html5QrcodeSupportedFormats.EAN_13],
    });
    scanner.start({ facingMode: "environment" }, { fps: 10, qrbox: { width: 240, height: 240 } }, done, function () {})
      .catch(function (err) { box.textContent = String(err); scanner = null; });
  });
})();
