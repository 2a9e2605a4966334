/* The loyalty report's charts: reads #report-data and draws every [data-chart="loyalty-…"] (analytics.js leaves them alone)
 * with ECharts. Tier names come from users: they are drawn as canvas text (axes,
 * legends), and the one tooltip that shows them builds its text with escapeHTML. */
(function () {
  "use strict";

  const esc = window.Stagecraft.escapeHTML;
  const COLOURS = { issued: "#3d9970", redeemed: "#2a6f97", expired: "#e07a5f", reversed: "#b56576", active: "#6d597a", members: "#355070" };
  const base = { animation: false, textStyle: { fontFamily: "inherit" } };

  function readJSON(id) {
    const el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }

  function bar(name, key, rows, colour) {
    return { type: "bar", name: name, barMaxWidth: 28, itemStyle: { color: colour }, data: rows.map(function (r) { return r[key]; }) };
  }

  function empty(option, isEmpty) {
    if (isEmpty) {
      option.graphic = { type: "text", left: "center", top: "middle", style: { text: "Nothing in this period", fill: "#6b7280", fontSize: 14 } };
    }
    return option;
  }

  function points(data) {
    const rows = data.series;
    const quiet = rows.every(function (r) { return !r.issued && !r.redeemed && !r.expired && !r.reversed; });
    return empty(Object.assign({}, base, {
      tooltip: { trigger: "axis" },
      legend: { top: 0 },
      grid: { left: 8, right: 8, top: 56, bottom: 8, containLabel: true },
      xAxis: { type: "category", data: rows.map(function (r) { return r.bucket; }) },
      yAxis: [
        { type: "value" },
        { type: "value", axisLabel: { formatter: "{value}%" }, splitLine: { show: false } },
      ],
      series: [
        bar("Issued", "issued", rows, COLOURS.issued),
        bar("Redeemed", "redeemed", rows, COLOURS.redeemed),
        bar("Expired", "expired", rows, COLOURS.expired),
        bar("Reversed", "reversed", rows, COLOURS.reversed),
        {
          type: "line", name: "Redemption rate", yAxisIndex: 1, itemStyle: { color: "#1f2937" },
          data: rows.map(function (r) { return r.redemption_rate === null ? null : Math.round(r.redemption_rate * 1000) / 10; }),
        },
      ],
    }), quiet);
  }

  function members(data) {
    const rows = data.series;
    return empty(Object.assign({}, base, {
      tooltip: { trigger: "axis" },
      legend: { top: 0 },
      grid: { left: 8, right: 8, top: 40, bottom: 8, containLabel: true },
      xAxis: { type: "category", data: rows.map(function (r) { return r.bucket; }) },
      yAxis: { type: "value", minInterval: 1 },
      series: [
        { type: "line", name: "Members", itemStyle: { color: COLOURS.members }, data: rows.map(function (r) { return r.members; }) },
        bar("Active members", "active_members", rows, COLOURS.active),
        bar("New members", "new_members", rows, COLOURS.issued),
      ],
    }), rows.every(function (r) { return !r.members; }));
  }

  function tierName(name) { return name === "" ? "No tier" : name; }

  function tiers(data) {
    const rows = data.tiers;
    return empty(Object.assign({}, base, {
      tooltip: { trigger: "axis" },
      grid: { left: 8, right: 24, top: 8, bottom: 8, containLabel: true },
      yAxis: { type: "category", inverse: true, data: rows.map(function (r) { return tierName(r.tier); }) },
      xAxis: { type: "value", minInterval: 1 },
      series: [{ type: "bar", name: "Members", barMaxWidth: 28, itemStyle: { color: COLOURS.members }, data: rows.map(function (r) { return r.members; }) }],
    }), rows.length === 0);
  }

  function tierMoves(data) {
    const rows = data.tier_moves;
    const labels = rows.map(function (r) { return tierName(r.from) + " → " + tierName(r.to); });
    return empty(Object.assign({}, base, {
      tooltip: {
        trigger: "item",
        formatter: function (p) { return esc(labels[p.dataIndex]) + ": " + esc(p.value); },
      },
      grid: { left: 8, right: 24, top: 8, bottom: 8, containLabel: true },
      yAxis: { type: "category", inverse: true, data: labels },
      xAxis: { type: "value", minInterval: 1 },
      series: [{
        type: "bar", barMaxWidth: 28,
        data: rows.map(function (r) { return { value: r.moves, itemStyle: { color: r.kind === "down" ? COLOURS.expired : COLOURS.issued } }; }),
      }],
    }), rows.length === 0);
  }

  const BUILDERS = { "loyalty-points": points, "loyalty-members": members, "loyalty-tiers": tiers, "loyalty-tier-moves": tierMoves };

  function init() {
    const data = readJSON("report-data");
    if (!data || !data.series || typeof window.echarts === "undefined") { return; }
    const charts = [];
    document.querySelectorAll("[data-chart^=\"loyalty-\"]").forEach(function (el) {
      const build = BUILDERS[el.dataset.chart];
      if (!build) { return; }
      const chart = window.Stagecraft.chartInit(el);
      chart.setOption(window.Stagecraft.localiseAxes(build(data)));
      el.dataset.drawn = "true";
      charts.push(chart);
    });
    window.addEventListener("resize", function () {
      charts.forEach(function (c) { c.resize(); });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
