/* The stage editor's what-if: two stacked-bar "funnels" side by side (contacts per
 * stage at each of the last 12 month ends, under the current and the proposed rules),
 * drawn from the data-chart attribute of the fragment htmx swaps in when the worker is
 * done. Stage names come from users: the tooltip escapes every value
 * (Stagecraft.escapeHTML); legend and axis labels are canvas text. A preview no longer
 * matching the rule being edited is taken away. */
(function () {
  "use strict";

  function draw(box) {
    if (!window.echarts || box.hasAttribute("data-drawn")) return;
    const data = JSON.parse(box.getAttribute("data-chart"));
    const esc = window.Stagecraft.escapeHTML;
    // One scale for both sides, so the eye can compare them.
    let top = 0;
    data.months.forEach(function (month) {
      ["current", "proposed"].forEach(function (side) {
        let total = 0;
        Object.keys(month[side]).forEach(function (key) { total += month[side][key]; });
        top = Math.max(top, total);
      });
    });
    box.querySelectorAll(".whatif-chart").forEach(function (node) {
      const side = node.getAttribute("data-side");
      const chart = window.Stagecraft.chartInit(node);
      chart.setOption({
        color: data.stages.map(function (s) { return s.colour; }),
        grid: { left: 48, right: 8, top: 56, bottom: 40 },
        legend: { top: 0, type: "scroll" },
        tooltip: {
          trigger: "axis",
          formatter: function (items) {
            return esc(items.length ? items[0].axisValue : "") + "<br>" + items
              .filter(function (item) { return item.value !== null; })
              .map(function (item) { return esc(item.seriesName) + ": " + esc(String(item.value)); })
              .join("<br>");
          },
        },
        xAxis: { type: "category", data: data.labels, axisLabel: { rotate: 45 } },
        yAxis: { type: "value", max: top || null },
        series: data.stages.map(function (stage) {
          return {
            name: stage.name,
            type: "bar",
            stack: "contacts",
            data: data.months.map(function (month) {
              const value = month[side][stage.key];
              return value === undefined ? null : value;
            }),
          };
        }),
      });
      window.addEventListener("resize", function () { chart.resize(); });
    });
    box.setAttribute("data-drawn", "true");
  }

  function drawAll() {
    document.querySelectorAll("[data-whatif-chart]").forEach(draw);
  }

  function forgetStalePreview() {
    const rule = document.getElementById("rule-json");
    if (!rule) return;
    // Each preview remembers the rule it was made for; the builder announces changes
    // a moment after making them, so compare rather than clear on every event.
    document.body.addEventListener("htmx:afterSwap", function (event) {
      const target = event.detail.target;
      if (target && (target.id === "whatif" || target.id === "whatif-funnel")) {
        target.setAttribute("data-rule", rule.value);
      }
    });
    rule.addEventListener("rule-changed", function () {
      ["whatif", "whatif-funnel"].forEach(function (id) {
        const node = document.getElementById(id);
        if (!node || !node.firstChild || node.getAttribute("data-rule") === rule.value) return;
        node.replaceChildren();
        if (id === "whatif") {
          const note = document.createElement("p");
          note.className = "muted";
          note.textContent = "The rule changed: preview its impact again.";
          node.appendChild(note);
        }
      });
    });
  }

  function start() {
    drawAll();
    forgetStalePreview();
    document.body.addEventListener("htmx:afterSettle", drawAll);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
