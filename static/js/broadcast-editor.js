/* The broadcast editor: find-as-you-type in the audience pickers with each segment's
 * count (fetched once after the page, as JSON, written with textContent), and the
 * parts of the form that only apply to a choice (the A/B test, each kind of schedule,
 * the conversion event of a conversion or revenue test, subject lines for email)
 * shown only when chosen. The form works without it (everything shown); htmx keeps
 * the audience count and the preview live. */
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

  function segmentCounts(form) {
    const url = form.dataset.segmentCounts;
    const spans = form.querySelectorAll("[data-segment-count]");
    if (!url || spans.length === 0) return;
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : { counts: {} }; })
      .then(function (data) {
        spans.forEach(function (span) {
          const count = data.counts[span.dataset.segmentCount];
          span.textContent = count === undefined ? "—" : Number(count).toLocaleString("en");
        });
      })
      .catch(function () {
        spans.forEach(function (span) { span.textContent = "—"; });
      });
  }

  function showEmailOnly(form) {
    const channel = form.querySelector("[data-channel]");
    const email = !channel || channel.value === "email";
    form.querySelectorAll("[data-email-only]").forEach(function (part) { part.hidden = !email; });
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
    segmentCounts(form);
    form.addEventListener("change", function (event) {
      if (event.target.matches("[data-toggle]")) showChosen(form);
      if (event.target.matches("[data-channel]")) showEmailOnly(form);
    });
    showChosen(form);
    showEmailOnly(form);
  });
})();
