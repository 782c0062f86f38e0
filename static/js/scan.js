// Camera scanning into a form field: BarcodeDetector where the browser has it, else html5-qrcode.
// The field is submitted as soon as a code is read (or handed to the page's own "scanned" listener). A USB
// scanner types into the same field.
(function () {
  var button = document.getElementById("scan-button");
  var box = document.getElementById("scanner");
  if (!button || !box) return;
  var field = document.getElementById(button.dataset.target);
  // One scanner, started and stopped in turn: html5-qrcode throws when stopped while still starting,
  // so the button waits for the camera to be on, and every start and stop waits for the one before.
  var scanner = null, on = false, queue = Promise.resolve(), sent = false;
  function done(text) {
    if (sent) return;  // the scanner keeps reading frames until it has stopped: submit the first code only
    sent = true;
    field.value = text;
    stop();
    // a page that sends the code itself (the lead's, through the API) cancels this event; else the form is sent,
    // with requestSubmit so its own submit handler runs (the counter's identify.js asks the API); submit() as a fallback
    var scanned = new CustomEvent("scanned", { cancelable: true });
    if (field.form.dispatchEvent(scanned)) {
      if (field.form.requestSubmit) field.form.requestSubmit(); else field.form.submit();
    }
  }
  function label(running) {
    button.textContent = (running ? button.dataset.stop : button.dataset.start) || button.textContent;
    button.setAttribute("aria-pressed", running ? "true" : "false");
  }
  function why(err) {
    // the browser's own text is English and technical: say it in the page's language instead
    var name = (err && err.name) || "", text = String(err);
    if (name === "NotAllowedError" || /permission|notallowed/i.test(text)) return button.dataset.denied;
    if (name === "NotFoundError" || name === "OverconstrainedError" || /not ?found|no camera|device/i.test(text)) {
      return button.dataset.nocamera;
    }
    return button.dataset.failed || text;
  }
  function stop() {
    on = false;
    label(false);
    box.hidden = true;
    var s = scanner;
    queue = queue.then(function () { if (s) return s.stop(); }).catch(function () {});  // throws if not running
  }
  function playing() {
    // start() resolves before the video plays; stopping then breaks html5-qrcode (its play() is interrupted)
    var video = box.querySelector("video");
    if (!video || video.readyState >= 3) return;
    return new Promise(function (resolve) {
      video.addEventListener("playing", resolve, { once: true });
      setTimeout(resolve, 3000);
    });
  }
  function start() {
    on = true;
    sent = false;  // the page may have stayed (the code went through the API): the next scan counts
    box.hidden = false;
    if (!window.Html5Qrcode || !(navigator.mediaDevices && navigator.mediaDevices.getUserMedia)) {
      box.textContent = button.dataset.unavailable || "Camera scanning is not available.";
      on = false;
      return;
    }
    label(true);
    box.removeAttribute("role");
    button.disabled = true;  // until the camera is on: a second click could not stop it cleanly before
    queue = queue.then(function () {
      scanner = scanner || new Html5Qrcode("scanner", {
        useBarCodeDetectorIfSupported: true,
        formatsToSupport: [Html5QrcodeSupportedFormats.QR_CODE, Html5QrcodeSupportedFormats.CODE_128, Html5QrcodeSupportedFormats.EAN_13],
      });
      return scanner.start({ facingMode: "environment" }, { fps: 10, qrbox: { width: 240, height: 240 } }, done, function () {})
        .then(playing);
    }).catch(function (err) {
      scanner = null;  // no camera, or access refused: say why, and try afresh on the next click
      if (on) { box.textContent = why(err); box.setAttribute("role", "alert"); on = false; label(false); field.focus(); }
    }).then(function () { button.disabled = false; });
  }
  button.addEventListener("click", function () { if (on) stop(); else start(); });
})();
