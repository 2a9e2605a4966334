/* Analytics charts: reads the report's figures from the json_script blocks
 * #report-data and #report-meta and draws every [data-chart] container with ECharts.
 * No inline scripts; the table view under each chart is plain HTML.
 *
 * ECharts takes a tooltip formatter's return value as HTML: every value in one goes
 * through esc() (names of stages, sources, cohorts come from users and API keys).
 * Labels, axes and legends are drawn on the canvas as text. */
(function () {
  "use strict";

  const esc = window.Stagecraft.escapeHTML;

  const PALETTE = ["#2a6f97", "#e07a5f", "#3d9970", "#f2cc8f", "#6d597a", "#81b29a",
    "#b56576", "#468faf", "#eaac8b", "#355070", "#9c6644", "#5f0f40"];
  const RAMP = ["#d8ecf3", "#a9d3e4", "#72b3cf", "#3f8fb5", "#2a6f97", "#184e6e", "#0b2f45"];

  function readJSON(id) {
    const el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }

  function num(value) {
    return value === null || value === undefined || value === "" ? null : Number(value);
  }

  function percent(value) {
    return value === null || value === undefined ? "—" : (value * 100).toFixed(1) + "%";
  }

  function makeContext(meta) {
    const stages = {};
    meta.stages.forEach(function (s, i) { stages[s.key] = Object.assign({ order: i }, s); });
    let money;
    try {
      money = new Intl.NumberFormat(undefined, { style: "currency", currency: meta.currency });
    } catch (e) {
      money = new Intl.NumberFormat(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
    }
    return {
      stages: stages,
      stageName: function (key, none) { return key && stages[key] ? stages[key].name : (key || none || "New"); },
      stageColour: function (key, i) { return key && stages[key] ? stages[key].colour : PALETTE[(i || 0) % PALETTE.length]; },
      byStageOrder: function (rows, field) {
        return rows.slice().sort(function (a, b) {
          const x = stages[a[field]], y = stages[b[field]];
          return (x ? x.order : 999) - (y ? y.order : 999);
        });
      },
      money: function (v) { return v === null || v === undefined ? "—" : money.format(Number(v)); },
    };
  }

  function empty(option, isEmpty, text) {
    if (isEmpty) {
      option.graphic = [{
        type: "text", left: "center", top: "middle",
        style: { text: text || "Nothing to show for these filters.", fill: "#888", fontSize: 14 },
      }];
    }
    return option;
  }

  const base = {
    textStyle: { fontFamily: "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif" },
    animationDuration: 400,
  };

  function uniq(values) {
    return values.filter(function (v, i, all) { return all.indexOf(v) === i; });
  }

  // --- stages -----------------------------------------------------------------------

  function funnelBars(data, ctx) {
    const rows = ctx.byStageOrder(data.funnel || data.stages, "stage");
    return empty(Object.assign({}, base, {
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      grid: { left: 24, right: 48, top: 8, bottom: 8, containLabel: true },
      xAxis: { type: "value", minInterval: 1 },
      yAxis: { type: "category", inverse: true, data: rows.map(function (r) { return r.name; }) },
      series: [{
        type: "bar", name: "Contacts", barMaxWidth: 28,
        label: { show: true, position: "right" },
        data: rows.map(function (r) { return { value: r.contacts, itemStyle: { color: r.colour } }; }),
      }],
    }), rows.length === 0);
  }

  function funnelMovement(data, ctx) {
    const rows = data.movement;
    const buckets = uniq(rows.map(function (r) { return r.bucket; }));
    const keys = uniq(ctx.byStageOrder(rows, "stage").map(function (r) { return r.stage; }));
    const index = {};
    rows.forEach(function (r) { index[r.bucket + "|" + r.stage] = r; });
    const series = [];
    keys.forEach(function (key, i) {
      const common = {
        type: "line", name: ctx.stageName(key), showSymbol: buckets.length < 40, smooth: false,
        itemStyle: { color: ctx.stageColour(key, i) },
      };
      series.push(Object.assign({}, common, {
        xAxisIndex: 0, yAxisIndex: 0,
        data: buckets.map(function (b) { return (index[b + "|" + key] || {}).entries || 0; }),
      }));
      series.push(Object.assign({}, common, {
        xAxisIndex: 1, yAxisIndex: 1, lineStyle: { type: "dashed" },
        data: buckets.map(function (b) { return (index[b + "|" + key] || {}).exits || 0; }),
      }));
    });
    return empty(Object.assign({}, base, {
      tooltip: { trigger: "axis" },
      legend: { top: 0, type: "scroll" },
      axisPointer: { link: [{ xAxisIndex: "all" }] },
      title: [
        { text: "Entries", left: 8, top: 30, textStyle: { fontSize: 13, fontWeight: 500 } },
        { text: "Exits", left: 8, top: "54%", textStyle: { fontSize: 13, fontWeight: 500 } },
      ],
      grid: [
        { left: 48, right: 24, top: 56, height: "30%" },
        { left: 48, right: 24, top: "60%", height: "30%" },
      ],
      xAxis: [
        { type: "category", gridIndex: 0, data: buckets, axisLabel: { show: false } },
        { type: "category", gridIndex: 1, data: buckets },
      ],
      yAxis: [
        { type: "value", gridIndex: 0, minInterval: 1 },
        { type: "value", gridIndex: 1, minInterval: 1 },
      ],
      series: series,
    }), buckets.length === 0);
  }

  function flowSankey(data, ctx) {
    const moves = (data.flow || data.transitions).filter(function (m) { return m.moves > 0; });
    // A stage is on both sides (contacts move back and forth), and a Sankey needs a
    // graph without cycles: the left column is where a move came from, the right
    // column where it went.
    const nodes = {};
    function node(side, key, i) {
      const id = side + ":" + (key || "new");
      if (!nodes[id]) {
        nodes[id] = {
          name: id, depth: side === "from" ? 0 : 1, display: key ? ctx.stageName(key) : "New",
          itemStyle: { color: key ? ctx.stageColour(key, i) : "#9aa5b1" },
        };
      }
      return id;
    }
    const links = moves.map(function (m, i) {
      return { source: node("from", m.from, i), target: node("to", m.to, i), value: m.moves };
    });
    const nodeList = Object.keys(nodes).map(function (k) { return nodes[k]; });
    nodeList.sort(function (a, b) {
      const ka = a.name.split(":")[1], kb = b.name.split(":")[1];
      const oa = ctx.stages[ka] ? ctx.stages[ka].order : -1, ob = ctx.stages[kb] ? ctx.stages[kb].order : -1;
      return oa - ob;
    });
    function display(id) { return nodes[id] ? nodes[id].display : id; }
    return empty(Object.assign({}, base, {
      tooltip: {
        trigger: "item",
        formatter: function (p) {
          if (p.dataType === "edge") {
            return esc(display(p.data.source)) + " → " + esc(display(p.data.target)) + ": " +
              esc(p.data.value.toLocaleString());
          }
          return (p.data.depth === 0 ? "From " : "Into ") + esc(p.data.display) + ": " +
            esc(Number(p.value).toLocaleString());
        },
      },
      series: [{
        type: "sankey", left: 16, right: 120, top: 16, bottom: 16, nodeAlign: "justify",
        layoutIterations: 0, nodeGap: 10, draggable: false,
        emphasis: { focus: "adjacency" },
        label: { formatter: function (p) { return p.data.display; } },
        lineStyle: { color: "source", opacity: 0.35, curveness: 0.5 },
        data: nodeList, links: links,
      }],
    }), links.length === 0, "No stage moves in this period.");
  }

  function conversion(data, ctx) {
    const steps = data.steps;
    const labels = steps.map(function (s) { return ctx.stageName(s.from) + " → " + ctx.stageName(s.to); });
    return empty(Object.assign({}, base, {
      tooltip: {
        trigger: "axis",
        formatter: function (items) {
          const s = steps[items[0].dataIndex];
          return esc(labels[items[0].dataIndex]) + "<br>" + esc(s.converted) + " of " +
            esc(s.entered) + " (" + esc(percent(s.rate)) + ")<br>median " +
            esc(s.median_days ?? "—") + " d, p90 " + esc(s.p90_days ?? "—") + " d";
        },
      },
      legend: { top: 0 },
      grid: { left: 8, right: 8, top: 40, bottom: 8, containLabel: true },
      xAxis: { type: "category", data: labels, axisLabel: { interval: 0, rotate: labels.length > 5 ? 20 : 0 } },
      yAxis: [
        { type: "value", name: "converted", max: 100, axisLabel: { formatter: "{value}%" } },
        { type: "value", name: "days", splitLine: { show: false } },
      ],
      series: [
        {
          type: "bar", name: "Conversion rate", barMaxWidth: 48, itemStyle: { color: PALETTE[0] },
          label: { show: true, position: "top", formatter: function (p) { return p.value === null ? "" : p.value.toFixed(1) + "%"; } },
          data: steps.map(function (s) { return s.rate === null ? null : s.rate * 100; }),
        },
        {
          type: "line", name: "Median days", yAxisIndex: 1, symbolSize: 9, itemStyle: { color: PALETTE[1] },
          data: steps.map(function (s) { return s.median_days; }),
        },
        {
          type: "line", name: "p90 days", yAxisIndex: 1, symbolSize: 9, lineStyle: { type: "dashed" },
          itemStyle: { color: PALETTE[4] }, data: steps.map(function (s) { return s.p90_days; }),
        },
      ],
    }), steps.length === 0);
  }

  function timeInStage(data, ctx) {
    const rows = ctx.byStageOrder(data.stages, "stage");
    const labels = rows.length ? Object.keys(rows[0].histogram) : [];
    const names = rows.map(function (r) { return r.name; });
    const series = labels.map(function (label, i) {
      return {
        type: "bar", stack: "stays", name: label, barMaxWidth: 56,
        itemStyle: { color: RAMP[Math.min(i, RAMP.length - 1)] },
        data: rows.map(function (r) { return r.histogram[label]; }),
      };
    });
    series.push({
      type: "line", name: "Median days", yAxisIndex: 1, symbolSize: 10, itemStyle: { color: PALETTE[1] },
      lineStyle: { width: 0 }, data: rows.map(function (r) { return r.median_days; }),
    });
    series.push({
      type: "line", name: "Median age of open stays", yAxisIndex: 1, symbol: "diamond", symbolSize: 10,
      itemStyle: { color: PALETTE[4] }, lineStyle: { width: 0 },
      data: rows.map(function (r) { return r.current_median_days; }),
    });
    return empty(Object.assign({}, base, {
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      legend: { top: 0, type: "scroll" },
      grid: { left: 8, right: 8, top: 48, bottom: 8, containLabel: true },
      xAxis: { type: "category", data: names, axisLabel: { interval: 0 } },
      yAxis: [
        { type: "value", name: "stays ended", minInterval: 1 },
        { type: "value", name: "days", splitLine: { show: false } },
      ],
      series: series,
    }), rows.length === 0);
  }

  // --- customers --------------------------------------------------------------------

  let cohortMeasure = "active_share";

  function cohorts(data) {
    const rows = data.cohorts;
    const labels = rows.map(function (c) { return c.cohort + " (" + c.size + ")"; });
    let maxOffset = 0;
    const cells = [];
    rows.forEach(function (c, y) {
      c.months.forEach(function (m) {
        maxOffset = Math.max(maxOffset, m.offset);
        const share = m[cohortMeasure];
        if (share !== null) { cells.push([m.offset, y, Math.round(share * 1000) / 10]); }
      });
    });
    const offsets = [];
    for (let i = 0; i <= maxOffset; i++) { offsets.push(String(i)); }
    const top = cells.reduce(function (m, c) { return c[0] > 0 ? Math.max(m, c[2]) : m; }, 1);
    return empty(Object.assign({}, base, {
      tooltip: {
        formatter: function (p) {
          const c = rows[p.value[1]], m = c.months[p.value[0]];
          return "Cohort " + esc(c.cohort) + ", month " + esc(p.value[0]) + "<br>" +
            esc(cohortMeasure === "active_share" ? m.active + " active" : m.purchasing + " purchasing") +
            " of " + esc(c.size) + " (" + esc(p.value[2]) + "%)";
        },
      },
      grid: { left: 20, right: 96, top: 16, bottom: 32, containLabel: true },
      xAxis: { type: "category", data: offsets, name: "months since", nameLocation: "middle", nameGap: 28, splitArea: { show: true } },
      yAxis: { type: "category", data: labels, inverse: true, splitArea: { show: true } },
      visualMap: {
        show: cells.length > 0, min: 0, max: Math.max(top, 1), calculable: true, orient: "vertical", right: 0, top: "middle",
        itemHeight: 200, inRange: { color: ["#f4f8fb", "#72b3cf", "#184e6e"] },
        formatter: function (v) { return v.toFixed(0) + "%"; },
      },
      series: [{
        type: "heatmap", name: cohortMeasure, data: cells,
        label: { show: cells.length <= 200, fontSize: 10, formatter: function (p) { return p.value[2].toFixed(0); } },
        emphasis: { itemStyle: { borderColor: "#333", borderWidth: 1 } },
      }],
    }), rows.length === 0);
  }

  function churn(data) {
    const rows = data.periods;
    return empty(Object.assign({}, base, {
      tooltip: { trigger: "axis" },
      legend: { top: 0 },
      grid: { left: 8, right: 8, top: 40, bottom: 8, containLabel: true },
      xAxis: { type: "category", data: rows.map(function (r) { return r.bucket; }) },
      yAxis: [
        { type: "value", name: "at risk", minInterval: 1 },
        { type: "value", name: "churn rate", axisLabel: { formatter: "{value}%" }, splitLine: { show: false } },
      ],
      series: [
        {
          type: "bar", name: "At risk at end", barMaxWidth: 32, itemStyle: { color: "#f2cc8f" },
          data: rows.map(function (r) { return r.at_risk_at_end; }),
        },
        {
          type: "line", name: "Churn rate", yAxisIndex: 1, itemStyle: { color: "#b3261e" },
          data: rows.map(function (r) { return r.churn_rate === null ? null : Math.round(r.churn_rate * 1000) / 10; }),
        },
      ],
    }), rows.length === 0);
  }

  function acquisition(data, ctx) {
    const rows = data.rows;
    const buckets = uniq(rows.map(function (r) { return r.bucket; })).sort();
    const sources = uniq(rows.map(function (r) { return r.source; })).sort();
    const index = {};
    rows.forEach(function (r) { index[r.bucket + "|" + r.source] = r; });
    const series = sources.map(function (source, i) {
      return {
        type: "bar", stack: "new", name: source || "(none)", barMaxWidth: 40,
        itemStyle: { color: PALETTE[i % PALETTE.length] },
        data: buckets.map(function (b) { return (index[b + "|" + source] || {}).new_contacts || 0; }),
      };
    });
    const withSpend = sources.filter(function (s) {
      return rows.some(function (r) { return r.source === s && r.cac !== null; });
    });
    withSpend.forEach(function (source) {
      const i = sources.indexOf(source);
      series.push({
        type: "line", name: "CAC " + source, yAxisIndex: 1, connectNulls: false,
        itemStyle: { color: PALETTE[i % PALETTE.length] }, lineStyle: { type: "dashed" },
        data: buckets.map(function (b) { return num((index[b + "|" + source] || {}).cac); }),
      });
    });
    const yAxis = [{ type: "value", name: "new contacts", minInterval: 1 }];
    if (withSpend.length) {
      yAxis.push({ type: "value", name: "CAC", splitLine: { show: false }, axisLabel: { formatter: function (v) { return ctx.money(v); } } });
    }
    return empty(Object.assign({}, base, {
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      legend: { top: 0, type: "scroll" },
      grid: { left: 8, right: 8, top: 48, bottom: 8, containLabel: true },
      xAxis: { type: "category", data: buckets },
      yAxis: yAxis,
      series: series,
    }), rows.length === 0);
  }

  function bars(labels, values, opts) {
    return empty(Object.assign({}, base, {
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" }, valueFormatter: opts.format },
      grid: { left: 8, right: 16, top: 24, bottom: 8, containLabel: true },
      xAxis: { type: "category", data: labels, name: opts.xName || "", axisLabel: { interval: opts.interval ?? "auto", rotate: opts.rotate || 0 } },
      yAxis: { type: "value", name: opts.yName || "", axisLabel: opts.format ? { formatter: opts.format } : {} },
      series: [{
        type: "bar", name: opts.name, barMaxWidth: 40,
        itemStyle: { color: opts.colour || PALETTE[0] },
        data: values.map(function (v, i) {
          const value = num(v);
          return opts.colours ? { value: value, itemStyle: { color: opts.colours[i] } } : value;
        }),
      }],
    }), labels.length === 0);
  }

  function clvCohorts(data, ctx) {
    const rows = data.historic.by_cohort;
    return bars(rows.map(function (r) { return r.cohort; }), rows.map(function (r) { return r.revenue_per_customer; }),
      { name: "Revenue per customer", format: ctx.money, rotate: rows.length > 12 ? 45 : 0 });
  }

  function clvPredicted(data, ctx) {
    const rows = ctx.byStageOrder(data.predicted.by_stage, "stage");
    return bars(rows.map(function (r) { return ctx.stageName(r.stage, "No stage"); }),
      rows.map(function (r) { return r.predicted_clv_per_customer; }),
      { name: "Predicted CLV per customer", format: ctx.money, interval: 0, rotate: rows.length > 5 ? 30 : 0,
        colours: rows.map(function (r, i) { return ctx.stageColour(r.stage, i); }) });
  }

  function clvHistogram(data, ctx) {
    const rows = data.predicted.histogram;
    const labels = rows.map(function (r) {
      return r.to === null ? ctx.money(r.from).replace(/\.00$/, "") + "+" :
        ctx.money(r.from).replace(/\.00$/, "") + "–" + ctx.money(r.to).replace(/\.00$/, "");
    });
    const nonEmpty = rows.some(function (r) { return r.customers > 0; });
    return bars(nonEmpty ? labels : [], rows.map(function (r) { return r.customers; }),
      { name: "Customers", interval: 0, colour: PALETTE[2] });
  }

  function messagesByStage(data, ctx) {
    const rows = ctx.byStageOrder(data.stages, "stage");
    const any = rows.some(function (r) { return r.email + r.sms > 0; });
    const series = [["email", "Email", PALETTE[0]], ["sms", "SMS", PALETTE[2]]].map(function (c) {
      return {
        type: "bar", stack: "messages", name: c[1], barMaxWidth: 56, itemStyle: { color: c[2] },
        data: rows.map(function (r) { return r[c[0]]; }),
      };
    });
    return empty(Object.assign({}, base, {
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      legend: { top: 0 },
      grid: { left: 8, right: 8, top: 36, bottom: 8, containLabel: true },
      xAxis: { type: "category", data: rows.map(function (r) { return r.name; }), axisLabel: { interval: 0 } },
      yAxis: { type: "value", name: "Messages" },
      series: series,
    }), !any);
  }

  const BUILDERS = {
    "messages-by-stage": messagesByStage,
    "funnel-bars": funnelBars,
    "funnel-movement": funnelMovement,
    "flow-sankey": flowSankey,
    "conversion": conversion,
    "time-in-stage": timeInStage,
    "cohorts": cohorts,
    "churn": churn,
    "acquisition": acquisition,
    "clv-cohorts": clvCohorts,
    "clv-predicted": clvPredicted,
    "clv-histogram": clvHistogram,
  };

  function init() {
    const data = readJSON("report-data");
    const meta = readJSON("report-meta");
    if (!data || !meta || typeof window.echarts === "undefined") { return; }
    const ctx = makeContext(meta);
    const charts = [];
    document.querySelectorAll("[data-chart]").forEach(function (el) {
      const build = BUILDERS[el.dataset.chart];
      if (!build) { return; }
      const chart = window.Stagecraft.chartInit(el);
      chart.setOption(window.Stagecraft.localiseAxes(build(data, ctx)));
      el.dataset.drawn = "true";
      charts.push({ el: el, chart: chart, build: build });
    });
    document.querySelectorAll("[data-cohort-measure]").forEach(function (button) {
      button.addEventListener("click", function () {
        cohortMeasure = button.dataset.cohortMeasure;
        document.querySelectorAll("[data-cohort-measure]").forEach(function (b) {
          const on = b === button;
          b.setAttribute("aria-pressed", on ? "true" : "false");
          b.classList.toggle("secondary", !on);
        });
        charts.forEach(function (c) {
          if (c.el.dataset.chart === "cohorts") { c.chart.setOption(window.Stagecraft.localiseAxes(c.build(data, ctx)), true); }
        });
      });
    });
    let pending = null;
    window.addEventListener("resize", function () {
      if (pending) { cancelAnimationFrame(pending); }
      pending = requestAnimationFrame(function () {
        charts.forEach(function (c) { c.chart.resize(); });
      });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
