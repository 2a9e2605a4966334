/* Stagecraft journey builder: shows only the trigger and goal inputs that apply, and
 * appends a step skeleton to the steps JSON (linking the last step to it when that step
 * has a single "next"). The server checks everything; this only saves typing.
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

  const textarea = document.getElementById("steps-json");
  const status = document.getElementById("steps-json-status");
  const adders = document.getElementById("step-adders");
  if (!textarea || !adders) return;
  const number = (name) => parseInt(adders.dataset[name] || "0", 10) || 0;

  function skeleton(kind) {
    switch (kind) {
      case "send_email": return { template_id: number("emailTemplate"), next: null };
      case "send_sms": return { template_id: number("smsTemplate"), next: null };
      case "wait": return { duration: { days: 1 }, next: null };
      case "wait_until": return { time: "10:00", days_of_week: [], next: null };
      case "wait_for": return { event: { name: "purchase", properties: {} }, timeout: { days: 3 }, next: null, timeout_next: null };
      case "branch": return { rule: { attr: "plan", op: "eq", value: "pro" }, yes: null, no: null };
      case "split": return { paths: [{ label: "A", weight: 50, next: null }, { label: "B", weight: 50, next: null }] };
      case "update_attribute": return { attribute: "journey_state", value: "done", next: null };
      case "move_stage": return { stage_id: number("stage"), next: null };
      case "webhook": return { url: "https://example.com/hook", next: null };
      default: return {};
    }
  }

  const SINGLE_NEXT = new Set(["send_email", "send_sms", "wait", "wait_until", "update_attribute", "move_stage", "webhook"]);

  adders.addEventListener("click", (event) => {
    const button = event.target.closest("[data-add-step]");
    if (!button) return;
    let steps;
    try {
      steps = JSON.parse(textarea.value.trim() || "[]");
      if (!Array.isArray(steps)) throw new Error("the steps must be a JSON list");
    } catch (error) {
      status.textContent = "Cannot add a step: " + error.message;
      status.className = "error";
      return;
    }
    const kind = button.dataset.addStep;
    const keys = new Set(steps.map((s) => s && s.key));
    let n = 1;
    while (keys.has(kind.replace("_", "-") + "-" + n)) n += 1;
    const key = kind.replace("_", "-") + "-" + n;
    const last = steps[steps.length - 1];
    if (last && SINGLE_NEXT.has(last.kind) && last.config && !last.config.next) last.config.next = key;
    steps.push({ key: key, kind: kind, config: skeleton(kind) });
    textarea.value = JSON.stringify(steps, null, 2);
    status.textContent = "Added step " + key + ".";
    status.className = "muted";
  });
})();
