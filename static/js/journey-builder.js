/* Stagecraft journey form: shows only the trigger and goal inputs that apply. The
 * steps are edited on the canvas (journey-canvas.js).
 */
(function () {
  "use strict";

  const form = document.getElementById("journey-form");
  if (!form) return;

  function toggle(selectId, attribute) {
    const select = document.getElementById(selectId);
    if (!select) return;
    const apply = () => {
      form.querySelectorAll("[" + attribute + "]").forEach((node) => {
        const kinds = node.getAttribute(attribute).split(" ");
        node.hidden = !kinds.includes(select.value);
      });
    };
    select.addEventListener("change", apply);
    apply();
  }
  toggle("trigger-kind", "data-when-trigger");
  toggle("goal-kind", "data-when-goal");
})();
