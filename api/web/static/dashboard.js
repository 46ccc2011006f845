// Trends of open findings (by severity, by service), drawn with uPlot 1.6.32 (vendored, MIT) from the JSON
// the page carries in #trend-data; the table under the charts holds the same numbers for readers without
// script or sight.  #trends[data-state=ready] once drawn.
(function () {
  "use strict";
  var source = document.getElementById("trend-data");
  if (!source || typeof window.uPlot !== "function") { return; }
  var data = JSON.parse(source.textContent), trend = data.trend;
  var COLOURS = { critical: "#7a1212", high: "#d0021b", medium: "#e67e00", low: "#d4b000", info: "#5b8bd0",
                  biomedical: "#0e6b5c", it: "#0b4f9c" };
  var days = trend.days.map(function (d) { return Date.parse(d + "T12:00:00Z") / 1000; });
  function draw(dimension) {
    var box = document.getElementById("trend-" + dimension), keys = Object.keys(trend[dimension]);
    if (!box) { return; }
    var series = [{}].concat(keys.map(function (k) {
      return { label: data.labels[dimension][k] || k, stroke: COLOURS[k] || "#6b7580", width: 2,
               points: { show: true, size: 6 } };
    }));
    var width = Math.max(260, box.clientWidth || 420);
    new window.uPlot({ width: width, height: 220, series: series,
      scales: { x: { time: true }, y: { range: function (u, min, max) { return [0, Math.max(1, max * 1.1)]; } } },
      axes: [{}, { size: 50 }] },
    [days].concat(keys.map(function (k) { return trend[dimension][k]; })), box);
  }
  draw("severity");
  draw("service");
  document.getElementById("trends").setAttribute("data-state", "ready");
})();
