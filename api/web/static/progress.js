// Dashboard: poll /progress.json every 2 s while a replay or capture runs (10 s when idle); show frames and rate.
(function () {
  "use strict";
  var box = document.getElementById("progress"), text = document.getElementById("progress-text");
  if (!box || !text || !window.fetch) { return; }
  function tick() {
    fetch(box.getAttribute("data-url"), { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data) { return; }
        box.hidden = !data.running;
        if (data.text) { text.textContent = data.text; }
        window.setTimeout(tick, data.running ? 2000 : 10000);
      })
      .catch(function () { window.setTimeout(tick, 10000); });
  }
  window.setTimeout(tick, 2000);
})();
