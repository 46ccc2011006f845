// Zoom (wheel or buttons) and pan (drag) on the server-rendered SVG map by editing its viewBox.
// Nodes and red edges are plain <a> links, so clicking and keyboard navigation need no script.
(function () {
  "use strict";
  var svg = document.getElementById("netmap");
  if (!svg) { return; }
  var base = svg.viewBox.baseVal, home = [base.x, base.y, base.width, base.height];
  var drag = null, moved = false;
  function zoom(factor, cx, cy) {
    var v = svg.viewBox.baseVal, w = v.width * factor, h = v.height * factor;
    if (w < home[2] / 8 || w > home[2] * 4) { return; }
    cx = cx === undefined ? v.x + v.width / 2 : cx; cy = cy === undefined ? v.y + v.height / 2 : cy;
    svg.setAttribute("viewBox", [cx - (cx - v.x) * factor, cy - (cy - v.y) * factor, w, h].join(" "));
  }
  function toSvg(evt) {
    var v = svg.viewBox.baseVal, r = svg.getBoundingClientRect();
    return [v.x + (evt.clientX - r.left) * v.width / r.width, v.y + (evt.clientY - r.top) * v.height / r.height];
  }
  svg.addEventListener("wheel", function (evt) {
    evt.preventDefault(); var p = toSvg(evt); zoom(evt.deltaY < 0 ? 0.85 : 1 / 0.85, p[0], p[1]);
  }, { passive: false });
  svg.addEventListener("pointerdown", function (evt) { drag = [evt.clientX, evt.clientY]; moved = false; });
  window.addEventListener("pointermove", function (evt) {
    if (!drag) { return; }
    var v = svg.viewBox.baseVal, r = svg.getBoundingClientRect();
    var dx = (evt.clientX - drag[0]) * v.width / r.width, dy = (evt.clientY - drag[1]) * v.height / r.height;
    if (Math.abs(evt.clientX - drag[0]) + Math.abs(evt.clientY - drag[1]) > 3) { moved = true; svg.classList.add("panning"); }
    if (moved) { svg.setAttribute("viewBox", [v.x - dx, v.y - dy, v.width, v.height].join(" ")); drag = [evt.clientX, evt.clientY]; }
  });
  window.addEventListener("pointerup", function () { drag = null; svg.classList.remove("panning"); });
  svg.addEventListener("click", function (evt) { if (moved) { evt.preventDefault(); moved = false; } }, true);
  document.querySelectorAll("[data-zoom]").forEach(function (btn) {
    btn.addEventListener("click", function () {
      var how = btn.getAttribute("data-zoom");
      if (how === "reset") { svg.setAttribute("viewBox", home.join(" ")); } else { zoom(how === "in" ? 0.8 : 1.25); }
    });
  });
})();
