/* Loaded on every dashboard page (base.html), before the page's own scripts.
 *
 * - Stagecraft.escapeHTML: the one escape for a value a script puts into HTML (ECharts
 *   tooltips take HTML strings). Scripts that build DOM nodes use textContent instead.
 * - Stagecraft.dateLabel: a day ("2026-12-05") or a month ("2026-12") as the page's date
 *   locale writes it (`<html data-date-locale>`, the workspace's or member's choice);
 *   anything else unchanged. Stagecraft.localiseAxes gives a chart's category axes it.
 * - Stagecraft.chartInit: every chart's ECharts instance. For a reader whose system asks
 *   for less motion (prefers-reduced-motion) its options are drawn without ECharts'
 *   entry animations (a Sankey's bands sweeping in, bars growing).
 * - data-confirm="…" on a form, or on the button that submits it: asks first.
 * - data-autosubmit on a <select>: submits its form when it changes.
 * - data-busy="…" on a submit button: shows it working, and disables it, once sent.
 * - data-nav-toggle: the Menu button that opens the top navigation on narrow screens.
 *
 * The Content-Security-Policy refuses inline script (onsubmit=, onclick=, <script>
 * blocks), so behaviour is declared with data-* attributes and lives here. */
(function () {
  "use strict";

  const ENTITIES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

  function escapeHTML(value) {
    return String(value === null || value === undefined ? "" : value).replace(/[&<>"']/g, function (c) {
      return ENTITIES[c];
    });
  }

  // Per locale: a day and a month in the server's formats (workspaces/dates.py: the
  // month formats there, and the day without its year: an axis spans under a year).
  const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  const DATE_PATTERNS = {
    "en-GB": ["j M", "M Y"],
    "en-US": ["M j", "M Y"],
    "de-DE": ["d.m.", "m.Y"],
    "fr-FR": ["d/m", "m/Y"],
  };

  function dateLabel(value) {
    const text = String(value === null || value === undefined ? "" : value);
    const match = /^(\d{4})-(\d{2})(?:-(\d{2}))?$/.exec(text);
    const patterns = DATE_PATTERNS[document.documentElement.dataset.dateLocale || "en-GB"];
    if (!match || !patterns) return text; // ISO, or not a date
    const parts = {
      Y: match[1], m: match[2], M: MONTHS[+match[2] - 1] || match[2],
      d: match[3], j: match[3] && String(+match[3]),
    };
    const pattern = patterns[match[3] === undefined ? 1 : 0];
    return pattern.replace(/[YmMdj]/g, function (letter) { return parts[letter]; });
  }

  function localiseAxes(option) {
    ["xAxis", "yAxis"].forEach(function (name) {
      [].concat(option[name] || []).forEach(function (axis) {
        if (axis.type !== "category" || !Array.isArray(axis.data)) return;
        if (!axis.data.some(function (v) { return dateLabel(v) !== String(v); })) return;
        axis.axisLabel = Object.assign({}, axis.axisLabel);
        if (!axis.axisLabel.formatter) axis.axisLabel.formatter = dateLabel;
      });
    });
    return option;
  }

  const lessMotion = window.matchMedia ? window.matchMedia("(prefers-reduced-motion: reduce)") : null;

  function chartInit(element) {
    const chart = window.echarts.init(element, null, { renderer: "canvas" });
    const setOption = chart.setOption.bind(chart);
    chart.setOption = function (option) {
      const args = Array.prototype.slice.call(arguments);
      if (lessMotion && lessMotion.matches) args[0] = Object.assign({}, option, { animation: false });
      return setOption.apply(null, args);
    };
    return chart;
  }

  window.Stagecraft = Object.assign(window.Stagecraft || {}, {
    escapeHTML: escapeHTML,
    dateLabel: dateLabel,
    localiseAxes: localiseAxes,
    chartInit: chartInit,
  });

  document.addEventListener("submit", function (event) {
    const form = event.target;
    const button = event.submitter;
    const message = (button && button.dataset.confirm) || (form && form.dataset ? form.dataset.confirm : "");
    if (message && !window.confirm(message)) {
      event.preventDefault();
      event.stopImmediatePropagation();
      return;
    }
    // A button with data-busy="…" says the work has started and cannot be sent twice.
    if (button && button.dataset.busy && !event.defaultPrevented) {
      window.setTimeout(function () {
        button.setAttribute("aria-busy", "true");
        button.disabled = true;
        button.textContent = button.dataset.busy;
      }, 0);
    }
  }, true);

  // The top navigation's "Menu" button on narrow screens.
  document.addEventListener("click", function (event) {
    const toggle = event.target instanceof Element ? event.target.closest("[data-nav-toggle]") : null;
    if (!toggle) return;
    const bar = toggle.closest("[data-topbar]");
    const open = !bar.classList.contains("nav-open");
    bar.classList.toggle("nav-open", open);
    toggle.setAttribute("aria-expanded", open ? "true" : "false");
  });

  document.addEventListener("change", function (event) {
    const select = event.target;
    if (select instanceof HTMLSelectElement && select.hasAttribute("data-autosubmit") && select.form) {
      select.form.requestSubmit();
    }
  });
})();
