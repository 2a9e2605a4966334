/* A broadcast's report: one grouped bar chart of its rates (per variant when it had an
 * A/B test), from the json_script block #broadcast-chart. Names come from users, so the
 * tooltip escapes every value (Stagecraft.escapeHTML); axis labels are canvas text. */
(function () {
  "use strict";

  const PALETTE = ["#2a6f97", "#e07a5f", "#3d9970", "#f2cc8f", "#6d597a", "#81b29a"];

  function draw() {
    const box = document.querySelector("[data-broadcast-chart]");
    const source = document.getElementById("broadcast-chart");
    if (!box || !source || !window.echarts) return;
    const data = JSON.parse(source.textContent);
    const esc = window.Stagecraft.escapeHTML;
    const chart = window.Stagecraft.chartInit(box);
    chart.setOption({
      color: PALETTE,
      grid: { left: 48, right: 16, top: 40, bottom: 56 },
      legend: { top: 0 },
      tooltip: {
        trigger: "axis",
        formatter: function (items) {
          return items.map(function (item) {
            const value = item.value === null ? "—" : (item.value * 100).toFixed(1) + "%";
            return esc(item.seriesName) + " · " + esc(item.axisValue) + ": " + esc(value);
          }).join("<br>");
        },
      },
      xAxis: { type: "category", data: data.rates.map(function (r) { return r.label; }), axisLabel: { interval: 0, rotate: 30 } },
      yAxis: { type: "value", axisLabel: { formatter: function (v) { return Math.round(v * 100) + "%"; } } },
      series: data.series.map(function (s) {
        return { name: s.name, type: "bar", data: s.values };
      }),
    });
    box.setAttribute("data-drawn", "true");
    window.addEventListener("resize", function () { chart.resize(); });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
