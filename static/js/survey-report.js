/* A survey's report: the trend (the headline figure as a line, with the NPS 95%
 * interval as dashed lines, over the answers as bars) and the distribution of scores, from
 * the json_script block #survey-chart. Labels come from users (a custom scale's
 * choices), so every tooltip value is escaped (Stagecraft.escapeHTML); axis labels are
 * canvas text. */
(function () {
  "use strict";

  const COLOURS = { promoter: "#1e8449", passive: "#b7950b", detractor: "#c0392b",
    satisfied: "#1e8449", neutral: "#b7950b", dissatisfied: "#c0392b",
    easy: "#1e8449", difficult: "#c0392b", "": "#2a6f97" };

  function number(value, places) {
    return value === null || value === undefined ? "—" : Number(value).toFixed(places);
  }

  function trend(box, data, esc) {
    const chart = window.Stagecraft.chartInit(box);
    const isNps = data.kind === "nps";
    const series = [
      { name: "Answers", type: "bar", yAxisIndex: 1, itemStyle: { color: "#c9d6df" },
        data: data.trend.map(function (t) { return t.answers; }) },
      { name: data.headline, type: "line", connectNulls: false, itemStyle: { color: "#2a6f97" },
        data: data.trend.map(function (t) { return t.value; }) },
    ];
    if (isNps) {
      // The 95% interval as two thin dashed lines around the NPS.
      [["low", "95% low"], ["high", "95% high"]].forEach(function (pair) {
        series.push({ name: pair[1], type: "line", symbol: "none", silent: true,
          lineStyle: { type: "dashed", width: 1, color: "#7fa7c0" },
          data: data.trend.map(function (t) { return t[pair[0]]; }) });
      });
    }
    chart.setOption(window.Stagecraft.localiseAxes({
      grid: { left: 44, right: 44, top: 36, bottom: 48 },
      legend: { top: 0, data: ["Answers", data.headline] },
      tooltip: {
        trigger: "axis",
        formatter: function (items) {
          const t = data.trend[items[0].dataIndex];
          let text = esc(t.bucket) + "<br>" + esc(data.headline) + ": " + esc(number(t.value, isNps ? 1 : 2));
          if (isNps && t.low !== null) {
            text += " (" + esc(number(t.low, 1)) + " to " + esc(number(t.high, 1)) + ")";
          }
          return text + "<br>Answers: " + esc(String(t.answers));
        },
      },
      xAxis: { type: "category", data: data.trend.map(function (t) { return t.bucket; }) },
      yAxis: [
        isNps ? { type: "value", min: -100, max: 100 } : { type: "value", scale: true },
        { type: "value", splitLine: { show: false } },
      ],
      series: series,
    }));
    return chart;
  }

  function distribution(box, data, esc) {
    const chart = window.Stagecraft.chartInit(box);
    chart.setOption({
      grid: { left: 44, right: 16, top: 16, bottom: 48 },
      tooltip: {
        trigger: "axis",
        formatter: function (items) {
          const d = data.distribution[items[0].dataIndex];
          return esc(d.label) + ": " + esc(String(d.answers));
        },
      },
      xAxis: { type: "category", data: data.distribution.map(function (d) { return String(d.score); }) },
      yAxis: { type: "value" },
      series: [{
        type: "bar", name: "Answers",
        data: data.distribution.map(function (d) {
          const category = data.categories[String(d.score)] || "";
          return { value: d.answers, itemStyle: { color: COLOURS[category] || COLOURS[""] } };
        }),
      }],
    });
    return chart;
  }

  function draw() {
    const source = document.getElementById("survey-chart");
    if (!source || !window.echarts) return;
    const data = JSON.parse(source.textContent);
    const esc = window.Stagecraft.escapeHTML;
    const charts = [];
    document.querySelectorAll("[data-survey-chart]").forEach(function (box) {
      const which = box.getAttribute("data-survey-chart");
      charts.push(which === "trend" ? trend(box, data, esc) : distribution(box, data, esc));
      box.setAttribute("data-drawn", "true");
    });
    window.addEventListener("resize", function () {
      charts.forEach(function (chart) { chart.resize(); });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
