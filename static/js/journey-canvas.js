/* Stagecraft journey canvas, part 3 of 3: draws the flow (top to bottom; a branch, a
 * wait-for, a random split or an A/B send puts its paths side by side: an A/B
 * send's variants are arms with their weights, each with its own next steps), with a "+" on every way between steps that opens a menu of
 * step kinds, and opens a step's form in the side panel. It keeps the steps in the
 * form's hidden "steps" field, which the server checks as before; the server's errors
 * (by path, steps[3].config.template_id) are put on the step they belong to.
 *
 * For a live journey it asks the server, as the marketer edits, how many contacts each
 * change affects, and asks before saving a change that takes contacts out.
 *
 * Plain DOM and CSS (no graph library): the flow is a tree of columns that joins again,
 * which HTML lists lay out and wrap well down to 390 px; see docs/architecture.md.
 */
(function () {
  "use strict";

  const J = window.StagecraftJourney;
  const el = J.el;
  const form = document.getElementById("journey-form");
  const island = document.getElementById("journey-canvas-data");
  if (!form || !island) return;

  const data = JSON.parse(island.textContent);
  const target = document.getElementById("steps-json");
  const canvas = document.getElementById("journey-canvas");
  const panel = document.getElementById("journey-panel");
  const errorBox = document.getElementById("steps-errors");
  const journey = new J.Journey(J.clone(data.steps));
  const kindLabel = Object.fromEntries(data.kinds);
  const WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
  const FIELD_LABELS = {
    template_id: "Template", duration: "Wait", timeout: "Give up after", rule: "Rule", event: "Event",
    time: "Time of day", days_of_week: "Days", paths: "Paths", url: "URL", attribute: "Attribute",
    value: "Value", stage_id: "Stage", pin_days: "Days kept there", variants: "Variants", winner: "Winner",
    label: "Label", weight: "Weight", survey_id: "Survey", channel: "Send by", pool: "Test pool", wait_hours: "Decide after", key: "Key", kind: "Kind",
  };
  const ONE_OF = { paths: "Path", variants: "Variant" };
  const state = { selected: null, catalog: null, menuFor: null };
  const ctx = { choices: data, catalog: null, flushers: [], changed, removePath, arms: null };

  // -- the server's errors, moved from list indexes to step keys --------------------------------

  const stepErrors = new Map();
  const general = [];
  for (const [path, reasons] of Object.entries(data.errors || {})) {
    const match = /^steps\[(\d+)\](?:\.(.*))?$/.exec(path);
    const step = match ? data.steps[Number(match[1])] : null;
    if (step && typeof step.key === "string" && journey.byKey(step.key)) {
      const list = stepErrors.get(step.key) || [];
      for (const reason of reasons) list.push({ field: (match[2] || "").replace(/^config\.?/, ""), reason });
      stepErrors.set(step.key, list);
    } else {
      general.push(...reasons.map((r) => `${path === "entry_key" ? "First step" : "Steps"}: ${r}`));
    }
  }

  function errorText(error) {
    const parts = error.field.split(".").filter(Boolean).map((p, i) => {
      const m = /^(\w+)\[(\d+)\]$/.exec(p);
      const name = m ? `${ONE_OF[m[1]] || m[1]} ${Number(m[2]) + 1}` : (FIELD_LABELS[p] || p);
      return i ? name.toLowerCase() : name;
    });
    return parts.length ? `${parts.join(" ")}: ${error.reason}` : error.reason;
  }

  function stepTitle(step) { return step.name || `${kindLabel[step.kind] || step.kind} (${step.key})`; }

  function renderErrors() {
    if (!errorBox) return;
    const items = general.map((text) => el("li", {}, text));
    for (const [key, list] of stepErrors) {
      const step = journey.byKey(key);
      if (!step) continue;
      items.push(el("li", {}, el("button", { type: "button", class: "jc-linkish", on: { click: () => openPanel(key) } }, stepTitle(step)),
        `: ${list.map(errorText).join("; ")}`));
    }
    J.fill(errorBox, ...(items.length ? [el("ul", { class: "field-errors", role: "alert" }, items)] : []));
  }

  // -- words and numbers on a step ---------------------------------------------------------------

  function templateName(id) { return (data.templates.find((t) => t.id === id) || {}).name || "no template chosen"; }

  const OPS = {
    eq: "is", neq: "is not", in: "is one of", contains: "contains", starts_with: "starts with", gt: ">",
    gte: "≥", lt: "<", lte: "≤", exists: "is set", is_true: "is true", is_false: "is false",
    before: "is before", after: "is after", within_last_days: "within the last (days)", more_than_days_ago: "more than (days) ago",
  };

  function ruleWords(rule) {
    if (!rule || typeof rule !== "object") return "a rule";
    const value = (v) => (v === undefined || v === true ? "" : Array.isArray(v) ? v.join(", ") : String(v));
    if (rule.attr) return `${rule.attr} ${OPS[rule.op] || rule.op || "is"} ${value(rule.value)}`.trim();
    if (rule.field) return `${rule.field} ${OPS[rule.op] || rule.op || "is"} ${value(rule.value)}`.trim();
    if (rule.not) return `not (${ruleWords(rule.not)})`;
    if (rule.event) return `did “${rule.event}”`;
    const list = rule.all || rule.any;
    if (Array.isArray(list)) {
      if (list.length === 1) return ruleWords(list[0]);
      return list.length ? `${rule.all ? "all" : "any"} of ${list.length} conditions` : "everyone (no conditions yet)";
    }
    return "a rule";
  }

  function words(step) {
    const c = step.config;
    switch (step.kind) {
      case "send_email": case "send_sms":
        return [Array.isArray(c.variants) ? `A/B test of ${c.variants.length} variants${c.winner ? ", then the winner" : ""}` : `Template “${templateName(c.template_id)}”`]
          .concat(c.best_time ? ["at the contact's best time"] : []);
      case "send_survey": return [`Survey “${((data.surveys || []).find((x) => x.id === c.survey_id) || {}).name || "no survey chosen"}” by ${c.channel === "sms" ? "SMS" : "email"}`];
      case "wait": return [`for ${J.durationWords(c.duration)}`];
      case "wait_until": {
        const days = (c.days_of_week || []).map((d) => WEEKDAYS[d]).join(", ");
        return [`until ${c.time || "?"} local time${days ? `, on ${days}` : ""}`];
      }
      case "wait_for": {
        const props = Object.entries((c.event || {}).properties || {}).map(([k, v]) => `${k} = ${v}`).join(", ");
        const what = "event" in c ? `“${(c.event || {}).name || "?"}”${props ? ` where ${props}` : ""}` : ruleWords(c.rule);
        return [`for ${what}`, `at most ${J.durationWords(c.timeout)}`];
      }
      case "branch": return [`if ${ruleWords(c.rule)}`];
      case "split": return ["at random, by weight"];
      case "update_attribute": return [c.value === null ? `remove ${c.attribute || "?"}` : `set ${c.attribute || "?"} = ${c.value}`];
      case "move_stage": return [`to ${(data.stages.find((s) => s.id === c.stage_id) || {}).name || "?"}`];
      case "webhook": return [`POST ${c.url || "?"}`];
      default: return ["leave the journey"];
    }
  }

  function percent(rate) { return rate === null || rate === undefined ? "–" : `${Math.round(rate * 1000) / 10}%`; }

  function numbers(step) {
    const n = data.numbers[step.key];
    if (!n) return null;
    const rows = [["entered", n.entered], ["waiting", n.waiting], ["exited", n.exited], ["converted", n.converted]];
    if ("sent" in n) rows.push(["sent", n.sent], ["open_rate", percent(n.open_rate), "open rate"], ["click_rate", percent(n.click_rate), "click rate"]);
    return el("dl", { class: "jstep-counts" }, rows.map(([name, value, label]) =>
      el("div", {}, el("dt", {}, label || name), el("dd", { "data-count": name }, value))));
  }

  function share(weight, list) {
    const total = list.reduce((sum, x) => sum + (Number(x.weight === undefined ? 1 : x.weight) || 0), 0) || 1;
    return Math.round((100 * (Number(weight === undefined ? 1 : weight) || 0)) / total);
  }

  /** A variant's numbers: assigned, and sent with open and click rates of its
   * template's messages from this step. */
  function variantNumbers(n, variant, assigned) {
    const parts = [];
    if (assigned[variant.label] !== undefined) parts.push(`${assigned[variant.label]} assigned`);
    const sent = (n.templates || {})[String(variant.template_id)];
    if (sent) parts.push(`${sent.sent} sent`, `${percent(sent.open_rate)} open`, `${percent(sent.click_rate)} click`);
    return parts.length ? el("small", { class: "muted jc-arm-numbers" }, parts.join(" · ")) : null;
  }

  /** An A/B send's arms: per variant its label, weight, template and numbers, and
   * the slot of its own next step. */
  function armOutcomes(step) {
    const variants = step.config.variants;
    const n = data.numbers[step.key] || {};
    const assigned = n.assigned || {};
    return variants.map((v, i) => [v.label || `variant ${i + 1}`, `${share(v.weight, variants)}%`, { owner: step.key, arm: i },
      [n.winner === v.label ? el("mark", {}, " winner") : null,
        el("div", { class: "jc-arm", "data-variant": v.label || "" }, templateName(v.template_id), variantNumbers(n, v, assigned))]]);
  }

  /** [label, detail, slot, extra nodes under the label] per way on of a fork, else null. */
  function outcomes(step) {
    const c = step.config;
    if (J.isAB(step)) return armOutcomes(step);
    if (step.kind === "branch") return [["yes", "matches", { owner: step.key, field: "yes" }], ["no", "does not match", { owner: step.key, field: "no" }]];
    if (step.kind === "wait_for") return [["matched", "in time", { owner: step.key, field: "next" }], ["timed out", `after ${J.durationWords(c.timeout)}`, { owner: step.key, field: "timeout_next" }]];
    if (step.kind === "split") {
      const assigned = (data.numbers[step.key] || {}).assigned || {};
      return (c.paths || []).map((p, i) => [p.label || `path ${i + 1}`, `${share(p.weight, c.paths)}%${assigned[p.label] !== undefined ? ` · ${assigned[p.label]} assigned` : ""}`, { owner: step.key, path: i }]);
    }
    return null;
  }

  // -- drawing ------------------------------------------------------------------------------------

  function node(step) {
    const errors = stepErrors.get(step.key) || [];
    const classes = ["jstep", `jstep-${step.kind}`, "jc-node"];
    if (errors.length) classes.push("jc-invalid");
    if (state.selected === step.key) classes.push("jc-selected");
    const open = el("button", { type: "button", class: "jc-open", "aria-expanded": String(state.selected === step.key), "aria-controls": "journey-panel",
      "aria-invalid": errors.length ? "true" : null, on: { click: () => openPanel(step.key) } },
      el("span", { class: "jstep-head" }, el("span", { class: "jstep-kind" }, kindLabel[step.kind] || step.kind), el("code", {}, step.key)),
      step.name ? el("span", { class: "jstep-name" }, step.name) : null,
      words(step).map((w) => el("span", { class: "jc-word" }, w)));
    return el("div", { class: classes.join(" "), id: `step-${step.key}`, "data-step": step.key },
      open,
      errors.length ? el("p", { class: "jc-error" }, `⚠ ${errorText(errors[0])}${errors.length > 1 ? ` (+${errors.length - 1} more)` : ""}`) : null,
      numbers(step));
  }

  function slotId(where) {
    if (where.before !== undefined) return `before:${where.before}`;
    const index = where.path !== undefined ? where.path : where.arm !== undefined ? `arm${where.arm}` : "";
    return `${where.owner}:${where.field || ""}:${index}`;
  }

  function adder(where, leadsTo, description) {
    const id = slotId(where);
    const open = state.menuFor === id;
    const button = el("button", { type: "button", class: "jc-add", "aria-expanded": String(open), "aria-label": `Add a step ${description}`, title: `Add a step ${description}`, "data-slot": id,
      on: { click: () => { state.menuFor = open ? null : id; render(); focusSlot(id, !open); } } }, "+");
    const item = el("li", { class: "jc-slot" }, button);
    if (open) {
      const kinds = data.kinds.filter(([kind]) => kind !== "exit" || !leadsTo);
      item.append(el("div", { class: "jc-menu", role: "group", "aria-label": `Step kinds to add ${description}`,
        on: { keydown: (e) => { if (e.key === "Escape") { state.menuFor = null; render(); focusSlot(id, false); } } } },
        kinds.map(([kind, label]) => el("button", { type: "button", class: "outline small", "data-add-step": kind,
          on: { click: () => add(where, kind) } }, label))));
    }
    return item;
  }

  function focusSlot(id, intoMenu) {
    const button = canvas.querySelector(`[data-slot="${CSS.escape(id)}"]`);
    if (!button) return;
    const first = intoMenu ? button.parentElement.querySelector(".jc-menu button") : null;
    (first || button).focus();
  }

  class Layout {
    constructor() {
      this.drawn = new Set();
      this.order = new Map(journey.steps.map((s, i) => [s.key, i]));
    }

    join(targets, stop) {
      if (!targets.length || targets.some((t) => !t || !journey.byKey(t))) return stop;
      const sets = targets.map((t) => journey.reachable(t));
      const common = [...sets[0]].filter((k) => sets.every((s) => s.has(k)));
      if (!common.length) return stop;
      return common.sort((a, b) => this.order.get(a) - this.order.get(b))[0];
    }

    chain(start, stop, where, description) {
      const list = el("ol", { class: "jflow jc-chain" });
      let key = start;
      let slot = where;
      let words = description;
      for (;;) {
        if (slot) list.append(adder(slot, key && journey.byKey(key) ? key : null, words));
        if (!key || !journey.byKey(key)) { list.append(el("li", {}, el("div", { class: "jflow-end" }, "End · completed"))); return list; }
        if (key === stop) return list;
        const step = journey.byKey(key);
        if (this.drawn.has(key)) {
          list.append(el("li", {}, el("a", { class: "jflow-goto", href: `#step-${key}` }, "→ continues at ", el("code", {}, key))));
          return list;
        }
        this.drawn.add(key);
        const item = el("li", {}, node(step));
        list.append(item);
        if (step.kind === "exit") return list;
        const outs = outcomes(step);
        if (!outs) {
          slot = { owner: key, field: "next" };
          words = `after “${stepTitle(step)}”`;
          key = step.config.next || null;
          continue;
        }
        const join = this.join(outs.map(([, , s]) => journey.get(s)), stop);
        const ab = J.isAB(step);
        const fork = el("div", { class: ab ? "jflow-fork jc-arms" : "jflow-fork", "aria-label": ab ? "A/B variants" : null }, outs.map(([label, detail, s, extra]) => {
          const way = ab ? `on the “${label}” arm of “${stepTitle(step)}”` : `on the “${label}” path of “${stepTitle(step)}”`;
          const column = this.chain(journey.get(s), join, s, way);
          if (column.children.length === 1) column.append(el("li", {}, el("p", { class: "jflow-joins muted" }, "↓ joins below")));
          return el("div", { class: "jflow-column" }, el("div", { class: "jflow-label" }, el("strong", {}, label), " ", el("small", {}, detail), extra || null), column);
        }));
        fork.style.setProperty("--columns", String(outs.length));
        item.append(fork);
        if (!join || join === stop) return list;
        key = join;
        slot = { before: join };
        words = `where the paths of “${stepTitle(step)}” join`;
      }
    }
  }

  function triggerWords() {
    const select = document.getElementById("trigger-kind");
    const option = select && select.selectedOptions[0];
    let text = option ? option.textContent : "the trigger";
    const detail = {
      event: "[name=trigger_event]", stage_entered: "[name=trigger_stage_id]", stage_exited: "[name=trigger_stage_id]",
      segment_joined: "[name=trigger_segment_id]", date_attribute: "[name=trigger_attribute]",
    }[select ? select.value : ""];
    const input = detail ? form.querySelector(detail) : null;
    const value = input instanceof HTMLSelectElement ? (input.value && input.selectedOptions[0].textContent) : input && input.value;
    if (value) text += ` “${value}”`;
    return text;
  }

  function render() {
    const layout = new Layout();
    const parts = [el("div", { class: "jflow-start" }, "Contacts enter: ", triggerWords()),
      layout.chain(journey.entry(), null, { owner: null }, "at the start")];
    const apart = journey.steps.filter((s) => !layout.drawn.has(s.key));
    if (apart.length) {
      parts.push(el("h3", {}, "Not reached from the first step"));
      for (const step of apart) if (!layout.drawn.has(step.key)) parts.push(layout.chain(step.key, null, null, ""));
    }
    // The stage is as wide as the flow and at least as wide as the canvas, so a wide
    // fork scrolls inside the canvas instead of being cut off on its left.
    J.fill(canvas, el("div", { class: "jc-stage" }, parts));
    renderErrors();
    renderToolbar();
  }

  // -- editing --------------------------------------------------------------------------------------

  function sync() {
    target.value = JSON.stringify(journey.steps);
    scheduleImpact();
  }

  // -- undo: the steps before each change of shape (adding, deleting, moving) --------------

  const history = [];
  let statusText = "";
  const toolbar = el("div", { class: "jc-toolbar" });
  canvas.before(toolbar);

  function remember(what) {
    for (const flush of ctx.flushers) flush();
    history.push({ steps: J.clone(journey.steps), what });
    statusText = "";
    if (history.length > 50) history.shift();
  }

  function renderToolbar() {
    const last = history[history.length - 1];
    J.fill(toolbar,
      el("button", { type: "button", class: "secondary outline small", "data-undo": "", disabled: !last,
        "aria-label": last ? `Undo: ${last.what}` : "Undo (nothing to undo)", on: { click: undo } }, "↶ Undo"),
      el("span", { class: "muted", role: "status" }, statusText));
  }

  function undo() {
    const last = history.pop();
    if (!last) return;
    closePanel(false);
    journey.steps = last.steps;
    statusText = `Undone: ${last.what}.`;
    sync();
    render();
    toolbar.querySelector("button").focus();
  }

  function add(where, kind) {
    remember(`add “${kindLabel[kind] || kind}”`);
    const key = journey.insert(where, kind, J.skeleton(kind, Object.assign({}, data, { events: (ctx.catalog || {}).events })));
    state.menuFor = null;
    sync();
    openPanel(key);
  }

  function changed(structural) {
    if (state.selected) stepErrors.delete(state.selected);
    sync();
    render();
    if (structural && state.selected) openPanel(state.selected);
  }

  function removePath(step, i) {
    remember(`remove path ${(step.config.paths[i] || {}).label || i + 1} of “${stepTitle(step)}”`);
    journey.removePath(step.key, i);
    changed(true);
  }

  /** Confirms a change that deletes the steps only on the arms it removes. */
  function armsChange(step, what, change) {
    const copy = new J.Journey(J.clone(journey.steps));
    const before = copy.reachable(copy.entry());
    change(copy);
    const after = copy.reachable(copy.entry());
    const lost = [...before].filter((k) => !after.has(k));
    if (lost.length && !window.confirm(`${what}? ${lost.length === 1 ? "The step only on that arm is" : `The ${lost.length} steps only on those arms are`} deleted too.`)) {
      changed(true);  // the checkbox goes back to what the step still is
      return;
    }
    remember(`${what.charAt(0).toLowerCase()}${what.slice(1)} (“${stepTitle(step)}”)`);
    change(journey);
    changed(true);
  }

  ctx.arms = {
    start: (step) => { remember(`A/B test on “${stepTitle(step)}”`); journey.startAB(step.key); changed(true); },
    stop: (step) => armsChange(step, "Stop the A/B test", (j) => j.stopAB(step.key)),
    add: (step, label) => { remember(`add variant ${label} to “${stepTitle(step)}”`); journey.addArm(step.key, label); changed(true); },
    remove: (step, i) => armsChange(step, `Remove variant ${(step.config.variants[i] || {}).label || i + 1}`, (j) => j.removeArm(step.key, i)),
  };

  function remove(key) {
    const step = journey.byKey(key);
    const orphans = journey.orphansOf(key);
    const message = orphans.length
      ? `Delete “${stepTitle(step)}” and the ${orphans.length} step${orphans.length > 1 ? "s" : ""} only on its other paths?`
      : `Delete “${stepTitle(step)}”?`;
    if (!window.confirm(message)) return;
    remember(`delete “${stepTitle(step)}”`);
    const next = journey.continuation(step);
    journey.remove(key);
    stepErrors.delete(key);
    closePanel(false);
    sync();
    render();
    const focus = next && canvas.querySelector(`[data-step="${CSS.escape(next)}"] .jc-open`);
    (focus || canvas.querySelector(".jc-add")).focus();
  }

  function move(key, up) {
    remember(`move “${stepTitle(journey.byKey(key))}” ${up ? "up" : "down"}`);
    if (up) journey.moveUp(key); else journey.moveDown(key);
    changed(true);
    const again = panel.querySelector(up ? "[data-move=up]" : "[data-move=down]");
    (again && !again.disabled ? again : panel.querySelector("h3")).focus();
  }

  /** The step's numbers in words, in its panel (the node has them too). */
  function panelNumbers(step) {
    const n = data.numbers[step.key];
    if (!n) return null;
    const parts = [`${n.entered} entered`, `${n.waiting} waiting here now`, `${n.exited} left the journey here`, `${n.converted} converted`];
    if ("sent" in n) parts.push(`${n.sent} sent`, `${percent(n.open_rate)} opened`, `${percent(n.click_rate)} clicked`);
    return el("p", { class: "muted jc-panel-numbers" }, `So far: ${parts.join(" · ")}.`);
  }

  function openPanel(key, focus = true) {
    const step = journey.byKey(key);
    if (!step) return;
    for (const flush of ctx.flushers) flush();
    state.selected = key;
    state.menuFor = null;
    ctx.flushers = [];
    ctx.catalog = state.catalog;
    const errors = stepErrors.get(key) || [];
    const title = el("h3", { id: "journey-panel-title", tabindex: "-1" }, kindLabel[step.kind] || step.kind, " ", el("code", {}, step.key));
    const body = J.kindForm(ctx, step);
    J.fill(panel, 
      el("div", { class: "jc-panel-head" }, title,
        el("button", { type: "button", class: "secondary outline small", "aria-label": "Close the step's settings", on: { click: () => closePanel(true) } }, "✕")),
      errors.length ? el("ul", { class: "field-errors", role: "alert" }, errors.map((e) => el("li", {}, errorText(e)))) : null,
      J.field("Step name (optional)", el("input", { type: "text", maxlength: 200, value: step.name || "", on: { input: (e) => {
        if (e.target.value.trim()) step.name = e.target.value.trim(); else delete step.name;
        changed();
      } } })),
      body,
      panelNumbers(step),
      el("div", { class: "jc-panel-actions" },
        el("button", { type: "button", class: "secondary outline small", "data-move": "up", disabled: !journey.canMoveUp(key), on: { click: () => move(key, true) } }, "↑ Move up"),
        el("button", { type: "button", class: "secondary outline small", "data-move": "down", disabled: !journey.canMoveDown(key), on: { click: () => move(key, false) } }, "↓ Move down"),
        el("button", { type: "button", class: "contrast outline small", "data-delete-step": key, on: { click: () => remove(key) } }, "Delete step"),
        el("button", { type: "button", class: "small", on: { click: () => closePanel(true) } }, "Done")));
    for (const error of errors) {
      const input = panel.querySelector(`[data-field="${CSS.escape(error.field)}"]`);
      if (input) input.setAttribute("aria-invalid", "true");
    }
    panel.hidden = false;
    panel.parentElement.classList.add("jc-open-panel");
    render();
    const shown = canvas.querySelector(`[data-step="${CSS.escape(key)}"]`);
    if (shown && shown.scrollIntoView) shown.scrollIntoView({ block: "nearest", inline: "center" });
    if (focus) title.focus({ preventScroll: window.matchMedia("(min-width: 901px)").matches });
  }

  function closePanel(focus) {
    for (const flush of ctx.flushers) flush();
    ctx.flushers = [];
    const key = state.selected;
    state.selected = null;
    panel.hidden = true;
    J.fill(panel);
    panel.parentElement.classList.remove("jc-open-panel");
    sync();
    render();
    if (focus && key) {
      const button = canvas.querySelector(`[data-step="${CSS.escape(key)}"] .jc-open`);
      if (button) button.focus();
    }
  }

  // The open panel drawn again (the catalog arrived): the focus, if it was in the panel,
  // goes back to the same control, not to the page (where Escape would reach nothing).
  function redrawPanel() {
    const controls = () => [...panel.querySelectorAll("input, select, textarea, button, a[href], [tabindex]")];
    const at = controls().indexOf(document.activeElement);
    openPanel(state.selected, false);
    const again = at >= 0 ? controls()[at] : null;
    if (again) again.focus({ preventScroll: true });
  }

  panel.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && !e.target.closest(".jc-menu")) closePanel(true);
  });

  // -- the rest of the form: property filters, the exit rule's switch ----------------------------------

  for (const box of form.querySelectorAll("[data-properties-for]")) {
    const input = form.querySelector(`[name="${CSS.escape(box.dataset.propertiesFor)}"]`);
    let value = {};
    try { value = JSON.parse(input.value || "{}") || {}; } catch (e) { value = {}; }
    J.fill(box, J.propertiesEditor(box.dataset.label || "Properties", value, (props) => {
      input.value = Object.keys(props).length ? JSON.stringify(props) : "";
      input.dispatchEvent(new Event("change", { bubbles: true }));
    }));
  }

  const exitSwitch = document.getElementById("exit-rule-on");
  const exitBox = document.getElementById("exit-rule-box");
  if (exitSwitch && exitBox) {
    const apply = () => { exitBox.hidden = !exitSwitch.checked; };
    exitSwitch.addEventListener("change", apply);
    apply();
  }

  form.addEventListener("submit", () => {
    for (const flush of ctx.flushers) flush();
    target.value = JSON.stringify(journey.steps);
    if (exitSwitch && !exitSwitch.checked) form.querySelector("[name=exit_rule]").value = "";
  }, true);

  for (const type of ["input", "change"]) {
    form.addEventListener(type, (e) => {
      if (e.target.closest && !e.target.closest("#journey-canvas, #journey-panel")) {
        const start = canvas.querySelector(".jflow-start");
        if (start) J.fill(start, "Contacts enter: ", triggerWords());
        scheduleImpact();
      }
    });
  }

  // -- a live journey: who each change affects ----------------------------------------------------------

  const impactBox = document.getElementById("journey-impact");
  let impactTimer = null;

  function scheduleImpact() {
    if (!data.impact_url || !impactBox) return;
    clearTimeout(impactTimer);
    impactTimer = setTimeout(refreshImpact, 400);
  }

  function contacts(n) { return `${n} contact${n === 1 ? "" : "s"}`; }

  async function refreshImpact() {
    for (const flush of ctx.flushers) flush();
    target.value = JSON.stringify(journey.steps);
    const body = new FormData(form);
    if (exitSwitch && !exitSwitch.checked) body.set("exit_rule", "");
    let impact;
    try {
      const response = await fetch(data.impact_url, { method: "POST", body, credentials: "same-origin" });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      impact = await response.json();
    } catch (error) {
      J.fill(impactBox, el("p", { class: "muted" }, "Could not count the contacts affected just now."));
      return;
    }
    const moveTo = impact.move_removed_to;
    const lines = [];
    let leaving = 0;
    for (const change of impact.steps) {
      const name = change.name ? `“${change.name}” (${change.key})` : `“${change.key}”`;
      if (change.change === "added") { lines.push([`Step ${name} is new.`, "added"]); continue; }
      if (change.change === "changed") {
        const waits = ["wait", "wait_until", "wait_for"].includes(change.kind);
        lines.push([`Step ${name} changes: ${contacts(change.contacts)} there now ${waits
          ? "keep the time they were given; contacts who arrive later wait the new way"
          : "get the new settings from their next run there"}.`, "changed"]);
        continue;
      }
      const why = change.change === "removed" ? "is removed" : "changes kind";
      if (!moveTo) leaving += change.contacts;
      lines.push([`Step ${name} ${why}: ${contacts(change.contacts)} there now ${moveTo ? `move to step “${moveTo}”` : "leave the journey"}.`, "removed"]);
    }
    if (impact.goal_changed) lines.push([`The goal changes: it applies to all ${contacts(impact.inside)} inside from their next run.`, "changed"]);
    if (impact.exit_changed) lines.push([`The exit rule changes: it applies to all ${contacts(impact.inside)} inside from their next run.`, "changed"]);
    if (impact.trigger_changed) lines.push(["The trigger changes: it applies to contacts who enter from now on.", "changed"]);
    J.fill(impactBox, 
      el("p", {}, el("strong", {}, lines.length ? "If you save now:" : `No change yet; ${contacts(impact.inside)} inside.`)),
      lines.length ? el("ul", { class: "jc-impact" }, lines.map(([text, kind]) => el("li", { "data-impact": kind }, text))) : null);
    if (leaving) form.dataset.confirm = `${contacts(leaving)} will leave the journey because their step is removed or changes kind. Save anyway?`;
    else delete form.dataset.confirm;
  }

  // -- start -------------------------------------------------------------------------------------------

  function datalist(id, values) {
    const list = document.getElementById(id) || document.body.appendChild(el("datalist", { id }));
    J.fill(list, ...values.map((v) => el("option", { value: v })));
  }

  async function loadCatalog() {
    try {
      state.catalog = await window.StagecraftRuleBuilder.catalog(data.catalog_url);
    } catch (error) {
      return;
    }
    ctx.catalog = state.catalog;
    data.events = state.catalog.events;
    datalist("jc-events", state.catalog.events || []);
    datalist("jc-attributes", state.catalog.attributes || []);
    if (state.selected) redrawPanel();
    canvas.dataset.ready = "true";
  }

  sync();
  render();
  canvas.dataset.drawn = "true";
  loadCatalog();
})();
