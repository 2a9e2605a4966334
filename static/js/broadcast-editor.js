/* The broadcast editor: find-as-you-type in the audience pickers, and the parts of the
 * form that only apply to a choice (the A/B test, each kind of schedule) shown only
 * when chosen. The form works without it (everything shown); htmx keeps the audience
 * count and the preview live. */
(function () {
  "use strict";

  function filterLists(form) {
    form.querySelectorAll("[data-filter]").forEach(function (input) {
      const list = form.querySelector('[data-filter-list="' + input.dataset.filter + '"]');
      input.addEventListener("input", function () {
        const wanted = input.value.trim().toLowerCase();
        list.querySelectorAll("label[data-name]").forEach(function (label) {
          label.hidden = wanted !== "" && label.dataset.name.indexOf(wanted) === -1;
        });
      });
    });
  }

  function chosen(form) {
    const on = new Set();
    form.querySelectorAll("[data-toggle]").forEach(function (input) {
      if (input.type === "checkbox" && input.checked) on.add(input.dataset.toggle);
      if (input.type === "radio" && input.checked) on.add(input.dataset.toggle + ":" + input.value);
    });
    return on;
  }

  function showChosen(form) {
    const on = chosen(form);
    form.querySelectorAll("[data-when]").forEach(function (part) {
      part.hidden = !part.dataset.when.split(" ").some(function (key) { return on.has(key); });
    });
  }

  document.querySelectorAll("[data-broadcast-editor]").forEach(function (form) {
    filterLists(form);
    form.addEventListener("change", function (event) {
      if (event.target.matches("[data-toggle]")) showChosen(form);
    });
    showChosen(form);
  });
})();
