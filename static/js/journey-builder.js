/* Stagecraft journey form: shows only the trigger and goal inputs that apply (a node
 * with several data-when-* conditions shows when all hold). The steps are edited on
 * the canvas (journey-canvas.js).
 */
(function () {
  "use strict";

  const form = document.getElementById("journey-form");
  if (!form) return;

  const CONDITIONS = [
    ["data-when-trigger", "trigger-kind"],
    ["data-when-goal", "goal-kind"],
    ["data-when-answer", "trigger-answer"],
  ];

  function apply() {
    const selector = CONDITIONS.map((c) => "[" + c[0] + "]").join(",");
    form.querySelectorAll(selector).forEach((node) => {
      node.hidden = !CONDITIONS.every(([attribute, selectId]) => {
        const select = document.getElementById(selectId);
        if (!node.hasAttribute(attribute) || !select) return true;
        return node.getAttribute(attribute).split(" ").includes(select.value);
      });
    });
  }
  CONDITIONS.forEach(([, selectId]) => {
    const select = document.getElementById(selectId);
    if (select) select.addEventListener("change", apply);
  });
  apply();
})();
