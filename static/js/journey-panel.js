/* Stagecraft journey canvas, part 2 of 3: the side panel's form for each step kind.
 * Every input has a label; every value is put into the DOM as text or as an input's
 * value, never as HTML. A change writes the step's config and calls ctx.changed().
 *
 * ctx: {choices (the page's JSON island), catalog (the rule builder's, or null),
 *       changed(), flushers (functions to run before the form is saved),
 *       removePath(step, i), arms (turning A/B on and off, adding and removing a
 *       variant: they change the flow's shape, so the canvas does them)}
 */
(function () {
  "use strict";

  const J = window.StagecraftJourney;
  const WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
  let uid = 0;

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (key === "on") {
        for (const [event, handler] of Object.entries(value)) node.addEventListener(event, handler);
      } else if (key === "class") {
        node.className = value;
      } else if (key === "value") {
        node.value = value === null || value === undefined ? "" : value;
      } else if (key === "checked" || key === "selected") {
        node[key] = Boolean(value);
      } else if (value !== undefined && value !== null && value !== false) {
        node.setAttribute(key, value === true ? "" : value);
      }
    }
    for (const child of children.flat()) {
      if (child !== null && child !== undefined && child !== false) {
        node.append(child instanceof Node ? child : document.createTextNode(String(child)));
      }
    }
    return node;
  }

  /** A labelled control: the label wraps its text and the input (Pico's pattern). */
  function field(text, control, hint) {
    return el("label", { class: "jc-field" }, text, hint ? el("small", { class: "muted" }, " ", hint) : null, control);
  }

  function selectOf(options, value, onChange, attrs) {
    const node = el("select", Object.assign({ on: { change: (e) => onChange(e.target.value) } }, attrs || {}),
      options.map(([v, text]) => el("option", { value: v, selected: String(v) === String(value) }, text)));
    return node;
  }

  /* A value typed by the marketer: numbers and true/false become JSON numbers and
   * booleans, anything else stays text (quotes force text: "12"). */
  function scalar(text) {
    const trimmed = String(text).trim();
    if (/^-?\d+(\.\d+)?$/.test(trimmed)) return Number(trimmed);
    if (trimmed === "true") return true;
    if (trimmed === "false") return false;
    if (/^".*"$/.test(trimmed)) return trimmed.slice(1, -1);
    return trimmed;
  }

  function shown(value) {
    if (typeof value === "string" && (/^-?\d+(\.\d+)?$/.test(value) || value === "true" || value === "false")) return `"${value}"`;
    return value === null || value === undefined ? "" : String(value);
  }

  // -- shared pickers ---------------------------------------------------------------------

  function durationPicker(label, value, onChange) {
    const parts = J.durationParts(value);
    const write = () => onChange({ [unit.value]: Math.max(0, Number(amount.value) || 0) });
    const amount = el("input", { type: "number", min: 1, step: 1, value: parts.amount, "aria-label": `${label}: amount`, on: { input: write } });
    const unit = selectOf(J.DURATION_UNITS.map((u) => [u, u]), parts.unit, write, { "aria-label": `${label}: unit` });
    return el("fieldset", { class: "jc-duration" }, el("legend", {}, label), el("div", { class: "jc-inline" }, amount, unit));
  }

  /** Rows of property = value; writes an object (empty: {}). */
  function propertiesEditor(label, properties, onChange) {
    const rows = Object.entries(properties || {}).map(([k, v]) => ({ key: k, value: shown(v) }));
    const box = el("fieldset", { class: "jc-properties" });
    const write = () => {
      const out = {};
      for (const row of rows) if (row.key.trim()) out[row.key.trim()] = scalar(row.value);
      onChange(out);
    };
    const render = () => {
      J.fill(box, el("legend", {}, label),
        ...rows.map((row, i) => el("div", { class: "jc-inline jc-property" },
          el("input", { type: "text", value: row.key, placeholder: "property", "aria-label": `${label} ${i + 1}: property`, on: { input: (e) => { row.key = e.target.value; write(); } } }),
          el("span", { "aria-hidden": "true" }, "="),
          el("input", { type: "text", value: row.value, placeholder: "value", "aria-label": `${label} ${i + 1}: value`, on: { input: (e) => { row.value = e.target.value; write(); } } }),
          el("button", { type: "button", class: "secondary outline small", "aria-label": `Remove ${label.toLowerCase()} ${i + 1}`, on: { click: () => { rows.splice(i, 1); write(); render(); } } }, "✕"))),
        el("button", { type: "button", class: "outline small", on: { click: () => { rows.push({ key: "", value: "" }); render(); box.querySelector(".jc-property:last-of-type input").focus(); } } }, "+ Property filter"));
    };
    render();
    return box;
  }

  function templatePicker(ctx, channel, value, onChange, label) {
    const templates = ctx.choices.templates.filter((t) => t.channel === channel);
    if (!templates.length) return el("p", { class: "error" }, `No ${channel} templates yet: create one under Templates first.`);
    const chosen = templates.find((t) => t.id === value);
    const preview = el("a", { href: chosen ? chosen.url : "#", target: "_blank", rel: "noopener", class: "jc-preview", hidden: !chosen }, "Preview template");
    const select = selectOf([["", "— choose —"], ...templates.map((t) => [t.id, t.name])], value || "", (v) => {
      const t = templates.find((x) => String(x.id) === v);
      preview.hidden = !t;
      if (t) preview.href = t.url;
      onChange(t ? t.id : null);
    }, { "data-field": "template_id" });
    return el("div", { class: "jc-template" }, field(label || "Template", select), preview);
  }

  function rulePicker(ctx, label, rule, onChange) {
    const id = `jc-rule-${++uid}`;
    const target = el("textarea", { id, hidden: true }, JSON.stringify(rule || { all: [] }));
    const root = el("div", { class: "rule-builder", "data-manual": "true" });
    // A builder whose form was re-drawn (the wait switched to an event) no longer
    // speaks for the step, even if its debounce timer fires late.
    const read = () => {
      if (!target.isConnected) return;
      try { onChange(JSON.parse(target.value)); } catch (e) { /* half-typed JSON: keep the last rule */ }
    };
    target.addEventListener("rule-changed", read);
    ctx.flushers.push(read);
    const box = el("fieldset", { class: "jc-rule" }, el("legend", {}, label), root, target);
    if (ctx.catalog && window.StagecraftRuleBuilder) window.StagecraftRuleBuilder.mount(root, target, ctx.catalog);
    else root.append(el("p", { class: "muted" }, "Loading the rule builder…"));
    return box;
  }

  // -- one form per kind --------------------------------------------------------------------

  function sendForm(ctx, step, channel) {
    const c = step.config;
    const box = el("div");
    const render = () => {
      const ab = Array.isArray(c.variants);
      const parts = [el("label", { class: "jc-check" }, el("input", { type: "checkbox", role: "switch", checked: ab, on: { change: (e) => {
        if (e.target.checked) ctx.arms.start(step); else ctx.arms.stop(step);
      } } }), " A/B test: send variants by weight")];
      if (!ab) {
        parts.push(templatePicker(ctx, channel, c.template_id, (id) => { c.template_id = id; ctx.changed(); }));
      } else {
        c.variants.forEach((v, i) => {
          parts.push(el("fieldset", { class: "jc-variant" }, el("legend", {}, `Variant ${v.label || i + 1}`),
            el("div", { class: "jc-inline" },
              field("Label", el("input", { type: "text", value: v.label, maxlength: 40, "data-field": `variants[${i}].label`, on: { input: (e) => { v.label = e.target.value.trim(); ctx.changed(); } } })),
              field("Weight", el("input", { type: "number", min: 1, max: 1000, value: v.weight === undefined ? 1 : v.weight, "data-field": `variants[${i}].weight`, on: { input: (e) => { v.weight = parseInt(e.target.value, 10) || 0; ctx.changed(); } } }))),
            templatePicker(ctx, channel, v.template_id, (id) => { v.template_id = id; ctx.changed(); }),
            c.variants.length > 2 ? el("button", { type: "button", class: "secondary outline small", on: { click: () => ctx.arms.remove(step, i) } }, `Remove variant ${v.label || i + 1}`) : null));
        });
        parts.push(el("p", { class: "muted" }, "Each variant is an arm on the canvas: use its + to give the contacts who got it steps of their own. Arms that lead to the same step join again below."));
        if (c.variants.length < 10) {
          parts.push(el("button", { type: "button", class: "outline small", on: { click: () => {
            const used = new Set(c.variants.map((v) => v.label));
            const label = "ABCDEFGHIJ".split("").find((l) => !used.has(l)) || `V${c.variants.length + 1}`;
            ctx.arms.add(step, label);
          } } }, "+ Variant"));
        }
        const w = c.winner;
        parts.push(el("label", { class: "jc-check" }, el("input", { type: "checkbox", checked: Boolean(w), on: { change: (e) => {
          if (e.target.checked) c.winner = { pool: 1000, wait_hours: 24, metric: "clicks" }; else delete c.winner;
          ctx.changed(); render();
        } } }), " Pick a winner automatically, then send it to everyone after the test"));
        if (w) {
          parts.push(el("div", { class: "jc-inline" },
            field("Test pool (contacts)", el("input", { type: "number", min: 2, value: w.pool, "data-field": "winner.pool", on: { input: (e) => { w.pool = parseInt(e.target.value, 10) || 0; ctx.changed(); } } })),
            field("Decide after (hours)", el("input", { type: "number", min: 1, max: 720, value: w.wait_hours, "data-field": "winner.wait_hours", on: { input: (e) => { w.wait_hours = parseInt(e.target.value, 10) || 0; ctx.changed(); } } })),
            field("Winner has most", selectOf([["clicks", "clicks"], ["conversions", "conversions"]], w.metric || "clicks", (v) => { w.metric = v; ctx.changed(); }))));
        }
      }
      parts.push(el("label", { class: "jc-check" }, el("input", { type: "checkbox", checked: Boolean(c.best_time), on: { change: (e) => {
        if (e.target.checked) c.best_time = true; else delete c.best_time;
        ctx.changed();
      } } }), " Send at each contact's best time (within 24 hours)"));
      J.fill(box, ...parts);
    };
    render();
    return box;
  }

  function waitUntilForm(ctx, step) {
    const c = step.config;
    const days = new Set(c.days_of_week || []);
    return el("div", {},
      field("Time of day (the contact's time zone)", el("input", { type: "time", value: c.time || "10:00", "data-field": "time", on: { input: (e) => { c.time = e.target.value; ctx.changed(); } } })),
      el("fieldset", { class: "jc-weekdays" }, el("legend", {}, "On these days (none ticked: any day)"),
        WEEKDAYS.map((name, i) => el("label", { class: "jc-check" }, el("input", { type: "checkbox", checked: days.has(i), on: { change: (e) => {
          if (e.target.checked) days.add(i); else days.delete(i);
          c.days_of_week = [...days].sort();
          ctx.changed();
        } } }), ` ${name}`))));
  }

  function waitForForm(ctx, step) {
    const c = step.config;
    const box = el("div");
    const render = () => {
      const byEvent = "event" in c;
      const name = `jc-waitfor-${step.key}`;
      const choose = (event) => {
        if (event && !("event" in c)) { c.event = { name: (ctx.choices.events || [])[0] || "", properties: {} }; delete c.rule; }
        if (!event && !("rule" in c)) { c.rule = { all: [] }; delete c.event; }
        ctx.changed(); render();
      };
      const parts = [el("fieldset", {}, el("legend", {}, "Wait for"),
        el("label", { class: "jc-check" }, el("input", { type: "radio", name, checked: byEvent, on: { change: () => choose(true) } }), " an event"),
        el("label", { class: "jc-check" }, el("input", { type: "radio", name, checked: !byEvent, on: { change: () => choose(false) } }), " the contact to match a rule"))];
      if (byEvent) {
        parts.push(field("Event name", el("input", { type: "text", list: "jc-events", value: c.event.name, "data-field": "event.name", on: { input: (e) => { c.event.name = e.target.value.trim(); ctx.changed(); } } })));
        parts.push(propertiesEditor("Only when its properties are", c.event.properties, (p) => { c.event.properties = p; ctx.changed(); }));
      } else {
        parts.push(rulePicker(ctx, "Rule", c.rule, (rule) => { c.rule = rule; ctx.changed(); }));
      }
      parts.push(durationPicker("Give up after", c.timeout, (d) => { c.timeout = d; ctx.changed(); }));
      parts.push(el("p", { class: "muted" }, "Contacts who get there in time take the “matched” path; the others the “timed out” path."));
      J.fill(box, ...parts);
    };
    render();
    return box;
  }

  function splitForm(ctx, step) {
    const c = step.config;
    const box = el("div");
    const render = () => {
      const total = c.paths.reduce((sum, p) => sum + (Number(p.weight) || 0), 0) || 1;
      J.fill(box, el("p", { class: "muted" }, "Contacts are split at random by weight; each path is drawn as a column."),
        ...c.paths.map((p, i) => el("div", { class: "jc-inline jc-path" },
          field(`Path ${i + 1} label`, el("input", { type: "text", value: p.label, maxlength: 40, "data-field": `paths[${i}].label`, on: { input: (e) => { p.label = e.target.value.trim(); ctx.changed(); } } })),
          field(`Path ${i + 1} weight`, el("input", { type: "number", min: 1, max: 1000, value: p.weight, "data-field": `paths[${i}].weight`, on: { input: (e) => { p.weight = parseInt(e.target.value, 10) || 0; ctx.changed(); } } }),
            `(${Math.round((100 * (Number(p.weight) || 0)) / total)}%)`),
          c.paths.length > 2 ? el("button", { type: "button", class: "secondary outline small", "aria-label": `Remove path ${p.label || i + 1}`, on: { click: () => {
            if (p.next && !window.confirm("Remove this path? Steps only on it are deleted too.")) return;
            ctx.removePath(step, i);
          } } }, "✕") : null)),
        c.paths.length < 10 ? el("button", { type: "button", class: "outline small", on: { click: () => {
          const used = new Set(c.paths.map((p) => p.label));
          const label = "ABCDEFGHIJ".split("").find((l) => !used.has(l)) || `P${c.paths.length + 1}`;
          c.paths.push({ label, weight: 50, next: null });
          ctx.changed(true);
        } } }, "+ Path") : null);
    };
    render();
    return box;
  }

  function attributeForm(ctx, step) {
    const c = step.config;
    const value = el("input", { type: "text", value: shown(c.value), disabled: c.value === null, "data-field": "value", on: { input: (e) => { c.value = scalar(e.target.value); ctx.changed(); } } });
    return el("div", {},
      field("Attribute", el("input", { type: "text", list: "jc-attributes", value: c.attribute, "data-field": "attribute", on: { input: (e) => { c.attribute = e.target.value.trim(); ctx.changed(); } } })),
      el("label", { class: "jc-check" }, el("input", { type: "checkbox", checked: c.value === null, on: { change: (e) => {
        c.value = e.target.checked ? null : scalar(value.value); value.disabled = e.target.checked; ctx.changed();
      } } }), " Remove the attribute instead"),
      field("Set it to", value, "(numbers and true/false are kept as such)"));
  }

  function stageForm(ctx, step) {
    const c = step.config;
    return el("div", {},
      field("Move to stage", selectOf([["", "— choose —"], ...ctx.choices.stages.map((s) => [s.id, s.name])], c.stage_id || "", (v) => { c.stage_id = v ? parseInt(v, 10) : null; ctx.changed(); }, { "data-field": "stage_id" })),
      field("Keep them there for (days)", el("input", { type: "number", min: 1, max: 3650, value: c.pin_days || "", "data-field": "pin_days", on: { input: (e) => {
        const days = parseInt(e.target.value, 10);
        if (days) c.pin_days = days; else delete c.pin_days;
        ctx.changed();
      } } }), "(empty: the stage rules may move them on)"));
  }

  /** A survey's one-tap message by email or SMS (the survey's own question and scale). */
  function surveyForm(ctx, step) {
    const c = step.config;
    const surveys = ctx.choices.surveys || [];
    const picker = surveys.length
      ? field("Survey", selectOf([["", "— choose —"], ...surveys.map((s) => [s.id, s.name])], c.survey_id || "", (v) => { c.survey_id = v ? parseInt(v, 10) : null; ctx.changed(); }, { "data-field": "survey_id" }))
      : el("p", { class: "error" }, "No surveys yet: ", el("a", { href: ctx.choices.surveys_url, target: "_blank", rel: "noopener" }, "create one under Surveys"), " first.");
    return el("div", {}, picker,
      field("Send by", selectOf([["email", "Email"], ["sms", "SMS"]], c.channel || "email", (v) => { c.channel = v; ctx.changed(); }, { "data-field": "channel" })),
      el("p", { class: "muted" }, "Sends the survey's question with its scale as one-tap answers (by SMS, a link; replies with a number count too). Consent applies; caps and quiet hours too unless the survey is transactional."));
  }

  function webhookForm(ctx, step) {
    const c = step.config;
    return el("div", {},
      field("URL (POST, JSON)", el("input", { type: "url", value: c.url, "data-field": "url", on: { input: (e) => { c.url = e.target.value.trim(); ctx.changed(); } } })),
      field("Signing secret", el("input", { type: "text", value: c.secret || "", autocomplete: "off", "data-field": "secret", on: { input: (e) => {
        if (e.target.value) c.secret = e.target.value; else delete c.secret;
        ctx.changed();
      } } }), "(optional: signs each call, X-Stagecraft-Signature)"));
  }

  function kindForm(ctx, step) {
    const c = step.config;
    switch (step.kind) {
      case "send_email": return sendForm(ctx, step, "email");
      case "send_sms": return sendForm(ctx, step, "sms");
      case "send_survey": return surveyForm(ctx, step);
      case "wait": return durationPicker("Wait for", c.duration, (d) => { c.duration = d; ctx.changed(); });
      case "wait_until": return waitUntilForm(ctx, step);
      case "wait_for": return waitForForm(ctx, step);
      case "branch": return el("div", {}, el("p", { class: "muted" }, "Contacts who match take the “yes” path; the others the “no” path."),
        rulePicker(ctx, "Contacts who match", c.rule, (rule) => { c.rule = rule; ctx.changed(); }));
      case "split": return splitForm(ctx, step);
      case "update_attribute": return attributeForm(ctx, step);
      case "move_stage": return stageForm(ctx, step);
      case "webhook": return webhookForm(ctx, step);
      default: return el("p", {}, "Contacts who reach this step leave the journey.");
    }
  }

  /** Replace a node's children, skipping the empty ones (replaceChildren would write
   * "null"). */
  function fill(node, ...children) {
    node.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  }

  J.el = el;
  J.fill = fill;
  J.field = field;
  J.kindForm = kindForm;
  J.propertiesEditor = propertiesEditor;
})();
