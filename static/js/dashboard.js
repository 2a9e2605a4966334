/* Loaded on every dashboard page (base.html), before the page's own scripts.
 *
 * - Stagecraft.escapeHTML: the one escape for a value a script puts into HTML (ECharts
 *   tooltips take HTML strings). Scripts that build DOM nodes use textContent instead.
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

  window.Stagecraft = Object.assign(window.Stagecraft || {}, { escapeHTML: escapeHTML });

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
