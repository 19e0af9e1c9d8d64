// Draws the KPI page's charts with Chart.js (served from /static/vendor/chartjs). The figures come from
// the page itself, as JSON in <script type="application/json" id="kpi-charts">: per chart its labels
// and series. Each <canvas data-chart="name"> gets the chart of that name; the tables beside them hold
// the same figures for readers without JavaScript. A null value is a figure with no data: no bar.
(function () {
  "use strict";

  var COLOURS = ["#3558d6", "#e0a100", "#c0392b", "#2e8b57", "#7a4fd1", "#1f9bb5"];

  function readFigures() {
    var source = document.getElementById("kpi-charts");
    if (!source) {
      return null;
    }
    try {
      return JSON.parse(source.textContent);
    } catch (error) {
      return null;
    }
  }

  function options(spec) {
    var valueAxis = { beginAtZero: true, stacked: !!spec.stacked };
    if (spec.max) {
      valueAxis.max = spec.max;
    }
    return {
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      plugins: { legend: { display: spec.series.length > 1 } },
      scales: { x: { stacked: !!spec.stacked }, y: valueAxis }
    };
  }

  function draw(canvas, spec) {
    var datasets = spec.series.map(function (series, index) {
      return {
        label: series.label,
        data: series.data,
        backgroundColor: COLOURS[index % COLOURS.length],
        borderWidth: 0
      };
    });
    new window.Chart(canvas, {
      type: spec.type || "bar",
      data: { labels: spec.labels, datasets: datasets },
      options: options(spec)
    });
    canvas.parentElement.classList.add("drawn");
  }

  function start() {
    var figures = readFigures();
    if (!figures || typeof window.Chart !== "function") {
      return;  // the tables stand alone
    }
    document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      var spec = figures[canvas.getAttribute("data-chart")];
      if (spec && spec.labels.length) {
        draw(canvas, spec);
      }
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
