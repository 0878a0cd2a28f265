// Live updates for the admin panel: one WebSocket, catch-up by last event id.
(function () {
  "use strict";
  var body = document.body;
  var wsPath = body.getAttribute("data-ws");
  if (!wsPath) { return; }
  var lastId = parseInt(body.getAttribute("data-last-event") || "0", 10);
  var delay = 500;
  var live = document.getElementById("live");
  var counterTimer = null;

  function toast(text, failed) {
    var box = document.getElementById("toasts");
    if (!box) { return; }
    var el = document.createElement("div");
    el.className = "toast" + (failed ? " failed" : "");
    el.textContent = text;
    box.appendChild(el);
    setTimeout(function () { el.remove(); }, 6000);
  }

  function refreshCounters() {
    if (!document.querySelector("[data-counter]")) { return; }
    if (counterTimer) { return; }
    counterTimer = setTimeout(function () {
      counterTimer = null;
      fetch("/api/dashboard", {credentials: "same-origin", headers: {"Accept": "application/json"}})
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (data) {
          if (!data) { return; }
          document.querySelectorAll("[data-counter]").forEach(function (el) {
            var key = el.getAttribute("data-counter");
            if (key in data.counters) { el.textContent = data.counters[key]; }
          });
        });
    }, 150);
  }

  function applyJob(ev) {
    var jobId = ev.payload && ev.payload.job_id;
    if (!jobId) { return; }
    var failed = ev.type === "JobFailed";
    document.querySelectorAll('[data-job-id="' + jobId + '"]').forEach(function (el) {
      el.setAttribute("data-state", failed ? "failed" : "done");
      var state = el.querySelector(".state");
      if (state) {
        state.textContent = failed ? "failed: " + (ev.payload.error || "unknown error")
          : (el.getAttribute("data-done-text") || "done");
      }
      if (!failed && ev.payload.admin_id) { el.setAttribute("data-admin-id", ev.payload.admin_id); }
    });
    if (failed) { toast((ev.payload.kind || "job") + " failed: " + (ev.payload.error || ""), true); }
  }

  function logEvent(ev) {
    var list = document.getElementById("live-events");
    if (!list) { return; }
    var li = document.createElement("li");
    li.textContent = "#" + ev.id + " " + ev.type + " " + (ev.subject || "");
    list.insertBefore(li, list.firstChild);
    while (list.children.length > 20) { list.removeChild(list.lastChild); }
  }

  function onEvent(ev) {
    if (ev.id <= lastId) { return; }
    lastId = ev.id;
    applyJob(ev);
    logEvent(ev);
    refreshCounters();
    document.dispatchEvent(new CustomEvent("hotspotd:event", {detail: ev}));
  }

  function connect() {
    var proto = location.protocol === "https:" ? "wss://" : "ws://";
    var ws = new WebSocket(proto + location.host + wsPath + "?after=" + lastId);
    ws.onopen = function () { delay = 500; if (live) { live.classList.add("on"); } };
    ws.onmessage = function (msg) {
      try { onEvent(JSON.parse(msg.data)); } catch (e) { /* ignore malformed frames */ }
    };
    ws.onclose = function () {
      if (live) { live.classList.remove("on"); }
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 10000);
    };
  }
  connect();
})();
