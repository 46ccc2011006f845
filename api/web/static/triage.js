// Findings triage: the header box ticks every box of the page; the bulk panel says how many are ticked and
// shows the expiry only for a risk acceptance.  Without scripts the form works the same (nothing hidden).
(function () {
  "use strict";
  var form = document.getElementById("bulk-form");
  if (!form) { return; }
  var all = document.getElementById("select-all"), every = document.getElementById("bulk-all");
  var status = document.getElementById("bulk-status"), expires = document.getElementById("bulk-expires");
  var note = document.getElementById("bulk-selected");
  function boxes() { return form.querySelectorAll("tbody input[type=checkbox]"); }
  function count() {
    var n = 0;
    boxes().forEach(function (b) {
      if (b.checked) { n += b.name === "key" ? parseInt(b.closest("tr").getAttribute("data-count"), 10) || 0 : 1; }
    });
    return n;
  }
  function refresh() {
    if (note) {
      var n = count();
      note.textContent = every && every.checked ? (document.querySelector("label[for=bulk-all]") || every).textContent.trim()
        : (note.getAttribute("data-template") || "{n}").replace("{n}", String(n));
    }
    if (status && expires) {
      expires.closest(".field").style.display = status.value === "risk-accepted" ? "" : "none";
    }
  }
  if (all) {
    all.addEventListener("change", function () {
      boxes().forEach(function (b) { b.checked = all.checked; });
      refresh();
    });
  }
  form.addEventListener("change", refresh);
  refresh();
})();
