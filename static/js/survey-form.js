// The survey form: shows the scale and choices fields only for the types that use
// them, and swaps the suggested question when the type changes (only while the
// question is still the suggestion of the type before). The form works without it.
(function () {
  "use strict";
  var form = document.querySelector("form.survey-form");
  var island = document.getElementById("survey-default-questions");
  if (!form || !island) return;
  var defaults = JSON.parse(island.textContent);
  var question = form.querySelector("input[name=question]");
  function kind() {
    var checked = form.querySelector("input[name=kind]:checked");
    return checked ? checked.value : "";
  }
  var previous = kind();
  function update() {
    var now = kind();
    form.querySelectorAll("[data-kind-only]").forEach(function (node) {
      node.hidden = node.getAttribute("data-kind-only") !== now;
    });
    if (question && question.value === (defaults[previous] || "") && defaults[now]) {
      question.value = defaults[now];
    } else if (question && question.value === (defaults[previous] || "") && !defaults[now]) {
      question.value = "";
    }
    previous = now;
  }
  form.querySelectorAll("input[name=kind]").forEach(function (radio) {
    radio.addEventListener("change", update);
  });
  update();
})();
