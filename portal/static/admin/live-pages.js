// Live updates for the voucher batch and customer pages, from the events admin.js relays.
// The page names the event subjects it shows (data-live-subjects); a batch's progress is
// written in place, any other event of those subjects reloads the page.
(function () {
  "use strict";
  var root = document.querySelector("[data-live-subjects]");
  if (!root) { return; }
  var subjects = root.getAttribute("data-live-subjects").split(" ");
  document.addEventListener("hotspotd:event", function (e) {
    var ev = e.detail;
    if (subjects.indexOf(ev.subject) < 0) { return; }
    if (ev.type === "VoucherBatchProgress") {
      var progress = document.getElementById("progress");
      if (progress) { progress.textContent = ev.payload.created + " of " + ev.payload.count; }
      return;
    }
    location.reload();
  });
})();
