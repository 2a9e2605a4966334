/* Stagecraft rule builder: edits a rule (the JSON of docs/rules.md) as rows of
 * conditions in nested "all"/"any" groups, with a JSON view for everything the rows
 * cannot show. It writes the rule into a (hidden) textarea and fires "rule-changed"
 * on it, which htmx uses to refresh the live count.
 *
 * Besides its own kinds of condition it offers the counts other apps register in the
 * catalog's `counts` (loyalty's points earned, referrals): a node
 * {"<key>": {"gte": 500}, "within_days": 90} edited as "at least 500 <unit> in the
 * last 90 days"; `window` says whether the days are "required" or "optional".
 *
 *   <div class="rule-builder" data-target="rule-json" data-catalog="/w/x/rules/catalog.json"></div>
 *   <textarea id="rule-json" name="rule" hidden>{"all": []}</textarea>
 */
(function () {
  "use strict";

  const OP_LABELS = {
    eq: "is", neq: "is not", in: "is one of", contains: "contains", starts_with: "starts with",
    gt: ">", gte: "≥", lt: "<", lte: "≤", exists: "is set", is_true: "is true",
    is_false: "is false", before: "is before", after: "is after",
    within_last_days: "within the last (days)", more_than_days_ago: "more than (days) ago",
  };
  const CMP_LABELS = { gte: "at least", lte: "at most", eq: "exactly", gt: "more than", lt: "fewer than", neq: "not" };
  const KINDS = [
    ["attr", "Attribute"], ["field", "Contact field"], ["event", "Event"],
    ["revenue", "Revenue"], ["purchases", "Purchases"], ["segment", "Segment"],
    ["message", "Engagement"],
  ];
  const ENGAGEMENT_ORIGINS = [
    ["", "any message"], ["broadcast_id", "of the broadcast"], ["journey_id", "of the journey"],
    ["template_id", "of the template"],
  ];
  const NO_VALUE = new Set(["is_true", "is_false"]);

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (key === "on") {
        for (const [event, handler] of Object.entries(value)) node.addEventListener(event, handler);
      } else if (key === "class") {
        node.className = value;
      } else if (value !== undefined && value !== null && value !== false) {
        node.setAttribute(key, value === true ? "" : value);
      }
    }
    for (const child of children.flat()) {
      if (child !== null && child !== undefined) {
        node.append(child instanceof Node ? child : document.createTextNode(String(child)));
      }
    }
    return node;
  }

  function select(options, value, onChange, label) {
    const node = el("select", { "aria-label": label, on: { change: (e) => onChange(e.target.value) } },
      options.map(([v, text]) => el("option", { value: v, selected: String(v) === String(value) }, text)));
    return node;
  }

  function input(type, value, onChange, attrs) {
    return el("input", Object.assign({ type, value: value === undefined || value === null ? "" : value,
      on: { input: (e) => onChange(e.target.value) } }, attrs || {}));
  }

  /* A scalar typed by the marketer: numbers and true/false become JSON numbers and
   * booleans, everything else stays text (quote it to force text: "12"). */
  function parseScalar(text) {
    const trimmed = String(text).trim();
    if (/^-?\d+(\.\d+)?$/.test(trimmed)) return Number(trimmed);
    if (trimmed === "true") return true;
    if (trimmed === "false") return false;
    if (/^".*"$/.test(trimmed)) return trimmed.slice(1, -1);
    return trimmed;
  }

  function showScalar(value) {
    if (typeof value === "string" && (/^-?\d+(\.\d+)?$/.test(value) || value === "true" || value === "false")) {
      return `"${value}"`;
    }
    return value === undefined || value === null ? "" : String(value);
  }

  // -- the model: groups of conditions --------------------------------------------------

  function toTree(rule, kinds) {
    if (rule && typeof rule === "object" && !Array.isArray(rule)) {
      if (Array.isArray(rule.all) || Array.isArray(rule.any)) {
        const mode = Array.isArray(rule.all) ? "all" : "any";
        const children = rule[mode].map((child) => toTree(child, kinds));
        if (children.some((c) => c === null)) return null;
        return { group: true, mode, negate: false, children };
      }
      if (rule.not && typeof rule.not === "object") {
        const inner = toTree(rule.not, kinds);
        if (inner === null || inner.negate) return null;
        inner.negate = true;
        return inner;
      }
      const kind = kinds.map(([k]) => k).find((k) => k in rule);
      if (kind) return { group: false, negate: false, rule: JSON.parse(JSON.stringify(rule)) };
    }
    return null;
  }

  function toRule(node) {
    let rule;
    if (node.group) rule = { [node.mode]: node.children.map(toRule) };
    else rule = node.rule;
    return node.negate ? { not: rule } : rule;
  }

  function blank(kind, catalog) {
    const count = (catalog.counts || []).find((c) => c.key === kind);
    if (count) return count.window === "required" ? { [kind]: { gte: 1 }, within_days: 30 } : { [kind]: { gte: 1 } };
    switch (kind) {
      case "field": return { field: "email_status", op: "eq", value: "subscribed" };
      case "event": return { event: (catalog.events[0] || "purchase") };
      case "revenue": return { revenue: { gte: 100 } };
      case "purchases": return { purchases: { gte: 1 } };
      case "segment": return { segment: (catalog.segments[0] || {}).id || 0 };
      case "message": return { message: "opened", within_days: 30 };
      default: return { attr: catalog.attributes[0] || "plan", op: "eq", value: "" };
    }
  }

  // -- rendering -------------------------------------------------------------------------

  class RuleBuilder {
    constructor(root, target, catalog) {
      this.root = root;
      this.target = target;
      this.catalog = catalog;
      this.jsonMode = false;
      this.counts = catalog.counts || [];
      this.kinds = KINDS.concat(this.counts.map((c) => [c.key, c.label]));
      let rule;
      try { rule = JSON.parse(target.value || '{"all": []}'); } catch (e) { rule = { all: [] }; }
      this.tree = toTree(rule, this.kinds);
      if (this.tree && !this.tree.group) this.tree = { group: true, mode: "all", negate: false, children: [this.tree] };
      if (this.tree === null) this.jsonMode = true;
      this.render();
    }

    changed() {
      if (!this.jsonMode) this.target.value = JSON.stringify(toRule(this.tree));
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.target.dispatchEvent(new Event("rule-changed", { bubbles: true })), 250);
    }

    update() { this.changed(); this.render(); }

    render() {
      const datalists = [
        el("datalist", { id: `${this.target.id}-attributes` }, this.catalog.attributes.map((a) => el("option", { value: a }))),
        el("datalist", { id: `${this.target.id}-events` }, this.catalog.events.map((a) => el("option", { value: a }))),
      ];
      const tabs = el("div", { class: "rb-tabs" },
        el("button", { type: "button", class: this.jsonMode ? "outline small" : "small", on: { click: () => this.toRows() } }, "Conditions"),
        el("button", { type: "button", class: this.jsonMode ? "small" : "outline small", on: { click: () => this.toJson() } }, "JSON"));
      let body;
      if (this.jsonMode) {
        body = el("textarea", { class: "rb-json", rows: 10, "aria-label": "Rule as JSON", spellcheck: "false",
          on: { input: (e) => { this.target.value = e.target.value; this.changed(); } } }, this.target.value);
      } else {
        body = this.group(this.tree, null);
      }
      this.root.replaceChildren(tabs, body, ...datalists);
    }

    toJson() {
      this.jsonMode = true;
      this.target.value = JSON.stringify(toRule(this.tree), null, 2);
      this.render();
    }

    toRows() {
      let tree = null;
      try { tree = toTree(JSON.parse(this.target.value), this.kinds); } catch (e) { tree = null; }
      if (tree === null) {
        alert("This rule uses parts the rows cannot show; keep editing it as JSON.");
        return;
      }
      this.tree = tree.group ? tree : { group: true, mode: "all", negate: false, children: [tree] };
      this.jsonMode = false;
      this.update();
    }

    group(node, parent) {
      const add = (child) => { node.children.push(child); this.update(); };
      const header = el("div", { class: "rb-group-head" },
        parent ? this.negate(node) : null,
        select([["all", "All"], ["any", "Any"]], node.mode, (v) => { node.mode = v; this.update(); }, "All or any"),
        el("span", {}, " of these are true"),
        el("span", { class: "rb-actions" },
          el("button", { type: "button", class: "outline small", on: { click: () => add({ group: false, negate: false, rule: blank("attr", this.catalog) }) } }, "+ Condition"),
          el("button", { type: "button", class: "outline small", on: { click: () => add({ group: true, mode: "any", negate: false, children: [] }) } }, "+ Group"),
          parent ? el("button", { type: "button", class: "secondary outline small", "aria-label": "Remove group",
            on: { click: () => { parent.children.splice(parent.children.indexOf(node), 1); this.update(); } } }, "✕") : null));
      const items = node.children.map((child) => (child.group ? this.group(child, node) : this.condition(child, node)));
      if (!items.length) items.push(el("p", { class: "muted rb-empty" }, node.mode === "all" ? "No conditions: everyone matches." : "No conditions: no one matches."));
      return el("div", { class: "rb-group" }, header, el("div", { class: "rb-children" }, items));
    }

    negate(node) {
      return el("label", { class: "rb-not" },
        el("input", { type: "checkbox", role: "switch", checked: node.negate, on: { change: (e) => { node.negate = e.target.checked; this.update(); } } }), "not");
    }

    condition(node, parent) {
      const rule = node.rule;
      const kind = this.kinds.map(([k]) => k).find((k) => k in rule);
      const count = this.counts.find((c) => c.key === kind);
      const kindSelect = select(this.kinds, kind, (v) => { node.rule = blank(v, this.catalog); this.update(); }, "Kind of condition");
      const remove = el("button", { type: "button", class: "secondary outline small", "aria-label": "Remove condition",
        on: { click: () => { parent.children.splice(parent.children.indexOf(node), 1); this.update(); } } }, "✕");
      const inputs = count ? this.countInputs(rule, count) : this[`${kind}Inputs`](rule);
      return el("div", { class: "rb-row" }, this.negate(node), kindSelect, inputs, remove);
    }

    opSelect(ops, rule, onChange) {
      return select(ops.map((o) => [o, OP_LABELS[o] || o]), rule.op, (v) => {
        rule.op = v;
        if (NO_VALUE.has(v)) delete rule.value;
        else if (v === "exists") rule.value = true;
        else if (v === "in") rule.value = [];
        else if (["within_last_days", "more_than_days_ago"].includes(v)) rule.value = 30;
        else if (Array.isArray(rule.value) || typeof rule.value === "boolean") rule.value = "";
        if (onChange) onChange();
        this.update();
      }, "Operator");
    }

    valueInput(rule, kind, choices) {
      const op = rule.op;
      if (NO_VALUE.has(op)) return null;
      if (op === "exists") {
        return select([["true", "yes"], ["false", "no"]], String(rule.value !== false), (v) => { rule.value = v === "true"; this.changed(); }, "Is set");
      }
      if (["within_last_days", "more_than_days_ago"].includes(op)) {
        return input("number", rule.value, (v) => { rule.value = parseInt(v, 10) || 1; this.changed(); }, { min: 1, class: "rb-days", "aria-label": "Days" });
      }
      if (["before", "after"].includes(op)) {
        return input("date", String(rule.value || "").slice(0, 10), (v) => { rule.value = v; this.changed(); }, { "aria-label": "Date" });
      }
      if (choices && op !== "in") {
        return select(choices.map((c) => [c, c]), rule.value, (v) => { rule.value = v; this.changed(); }, "Value");
      }
      if (op === "in") {
        const shown = (rule.value || []).map(kind === "attribute" ? showScalar : String).join(", ");
        return input("text", shown, (v) => {
          rule.value = v.split(",").map((s) => s.trim()).filter(Boolean).map(kind === "attribute" ? parseScalar : String);
          this.changed();
        }, { placeholder: "a, b, c", "aria-label": "Values, separated by commas" });
      }
      if (["gt", "gte", "lt", "lte"].includes(op) || kind === "number") {
        return input("number", rule.value, (v) => { rule.value = Number(v); this.changed(); }, { step: "any", "aria-label": "Number" });
      }
      const shown = kind === "attribute" ? showScalar(rule.value) : rule.value;
      return input("text", shown, (v) => { rule.value = kind === "attribute" && !["contains", "starts_with"].includes(op) ? parseScalar(v) : v; this.changed(); }, { "aria-label": "Value" });
    }

    attrInputs(rule) {
      return el("span", { class: "rb-inputs" },
        input("text", rule.attr, (v) => { rule.attr = v.trim(); this.changed(); }, { list: `${this.target.id}-attributes`, placeholder: "attribute", "aria-label": "Attribute", class: "rb-name" }),
        this.opSelect(this.catalog.ops.attribute, rule),
        this.valueInput(rule, "attribute", null));
    }

    fieldInputs(rule) {
      const spec = this.catalog.fields.find((f) => f.name === rule.field) || this.catalog.fields[0];
      const fieldSelect = select(this.catalog.fields.map((f) => [f.name, f.label]), rule.field, (v) => {
        const next = this.catalog.fields.find((f) => f.name === v);
        rule.field = v;
        rule.op = this.catalog.ops[next.kind][0];
        rule.value = next.choices ? next.choices[0] : (next.kind === "number" ? 0 : (next.kind === "datetime" ? 30 : ""));
        if (rule.op === "within_last_days" || rule.op === "before") rule.op = "within_last_days";
        this.update();
      }, "Field");
      return el("span", { class: "rb-inputs" }, fieldSelect,
        this.opSelect(this.catalog.ops[spec.kind], rule),
        this.valueInput(rule, spec.kind, spec.choices));
    }

    cmpInputs(cmp, onChange, unit, ops) {
      const [key, value] = Object.entries(cmp)[0] || ["gte", 1];
      const labels = Object.entries(CMP_LABELS).filter(([k]) => !ops || ops.includes(k));
      return el("span", { class: "rb-cmp" },
        select(labels, key, (k) => { onChange({ [k]: value }); this.update(); }, "Comparison"),
        input("number", value, (v) => { onChange({ [key]: Number(v) }); this.changed(); }, { min: 0, step: unit === "money" ? "0.01" : "1", "aria-label": "Amount", class: "rb-days" }));
    }

    windowInputs(rule) {
      const mode = "within_days" in rule ? "within" : ("between" in rule ? "between" : "ever");
      const parts = [select([["ever", "at any time"], ["within", "in the last (days)"], ["between", "between"]], mode, (v) => {
        delete rule.within_days; delete rule.between;
        if (v === "within") rule.within_days = 30;
        if (v === "between") rule.between = ["2026-01-01", "2026-02-01"];
        this.update();
      }, "When")];
      if (mode === "within") parts.push(input("number", rule.within_days, (v) => { rule.within_days = parseInt(v, 10) || 1; this.changed(); }, { min: 1, class: "rb-days", "aria-label": "Days" }));
      if (mode === "between") {
        parts.push(input("date", rule.between[0].slice(0, 10), (v) => { rule.between[0] = v; this.changed(); }, { "aria-label": "From" }));
        parts.push(input("date", rule.between[1].slice(0, 10), (v) => { rule.between[1] = v; this.changed(); }, { "aria-label": "To" }));
      }
      return parts;
    }

    eventInputs(rule) {
      const recency = "last" in rule ? "last" : ("first" in rule ? "first" : "count");
      const parts = [input("text", rule.event, (v) => { rule.event = v.trim(); this.changed(); }, { list: `${this.target.id}-events`, placeholder: "event name", "aria-label": "Event", class: "rb-name" }),
        select([["count", "happened"], ["last", "last time was"], ["first", "first time was"]], recency, (v) => {
          delete rule.first; delete rule.last;
          if (v !== "count") { rule[v] = { older_than_days: 90 }; delete rule.count; }
          this.update();
        }, "Which occurrence")];
      if (recency === "count") {
        parts.push(this.cmpInputs(rule.count || { gte: 1 }, (cmp) => { rule.count = cmp; }));
        parts.push(el("span", {}, "times"));
        parts.push(...this.windowInputs(rule));
      } else {
        const [kind, days] = Object.entries(rule[recency])[0];
        parts.push(select([["older_than_days", "more than (days) ago"], ["within_days", "within the last (days)"]], kind, (k) => { rule[recency] = { [k]: days }; this.update(); }, "Recency"));
        parts.push(input("number", days, (v) => { rule[recency] = { [kind]: parseInt(v, 10) || 1 }; this.changed(); }, { min: 1, class: "rb-days", "aria-label": "Days" }));
      }
      if (rule.where && rule.where.length) parts.push(el("span", { class: "muted" }, `(+${rule.where.length} property filter${rule.where.length > 1 ? "s" : ""}: edit as JSON)`));
      return el("span", { class: "rb-inputs" }, parts);
    }

    revenueInputs(rule) {
      return el("span", { class: "rb-inputs" }, el("span", {}, "total"),
        this.cmpInputs(rule.revenue, (cmp) => { rule.revenue = cmp; }, "money"), ...this.windowInputs(rule));
    }

    purchasesInputs(rule) {
      return el("span", { class: "rb-inputs" },
        this.cmpInputs(rule.purchases, (cmp) => { rule.purchases = cmp; }), ...this.windowInputs(rule));
    }

    messageInputs(rule) {
      const lists = (this.catalog.engagement || {});
      const listFor = { broadcast_id: lists.broadcasts, journey_id: lists.journeys, template_id: lists.templates };
      const origin = ENGAGEMENT_ORIGINS.map(([k]) => k).find((k) => k && k in rule) || "";
      const parts = [
        select([["received", "received"], ["opened", "opened"], ["clicked", "clicked"]], rule.message,
          (v) => { rule.message = v; this.changed(); }, "Engagement"),
        select([["", "any channel"], ["email", "an email"], ["sms", "an SMS"]], rule.channel || "",
          (v) => { if (v) rule.channel = v; else delete rule.channel; this.changed(); }, "Channel"),
        select(ENGAGEMENT_ORIGINS, origin, (v) => {
          ENGAGEMENT_ORIGINS.forEach(([k]) => { if (k) delete rule[k]; });
          const first = ((listFor[v] || [])[0] || {}).id;
          if (v && first) rule[v] = first;
          this.update();
        }, "Which messages"),
      ];
      if (origin) {
        const options = (listFor[origin] || []).map((item) => [item.id, item.name]);
        parts.push(select(options, rule[origin], (v) => { rule[origin] = parseInt(v, 10); this.changed(); }, "Which one"));
      }
      const windowed = "within_days" in rule;
      parts.push(select([["ever", "ever"], ["within", "in the last (days)"]], windowed ? "within" : "ever", (v) => {
        if (v === "within") rule.within_days = 30; else delete rule.within_days;
        this.update();
      }, "When"));
      if (windowed) {
        parts.push(input("number", rule.within_days, (v) => { rule.within_days = parseInt(v, 10) || 1; this.changed(); },
          { min: 1, class: "rb-days", "aria-label": "Days" }));
      }
      return el("span", { class: "rb-inputs" }, ...parts);
    }

    /* A registered count: "at least 500 points in the last 90 days". */
    countInputs(rule, count) {
      const windowed = "within_days" in rule;
      const parts = [this.cmpInputs(rule[count.key], (cmp) => { rule[count.key] = cmp; }, "", count.ops), el("span", {}, count.unit)];
      if (count.window === "optional") {
        parts.push(select([["ever", "ever"], ["within", "in the last (days)"]], windowed ? "within" : "ever", (v) => {
          if (v === "within") rule.within_days = 30; else delete rule.within_days;
          this.update();
        }, "When"));
      } else {
        parts.push(el("span", {}, "in the last"));
      }
      if (windowed) {
        parts.push(input("number", rule.within_days, (v) => { rule.within_days = Math.min(parseInt(v, 10) || 1, count.max_days || 3650); this.changed(); },
          { min: 1, max: count.max_days || 3650, class: "rb-days", "aria-label": "Days" }));
        if (count.window !== "optional") parts.push(el("span", {}, "days"));
      }
      return el("span", { class: "rb-inputs" }, ...parts);
    }

    segmentInputs(rule) {
      const options = this.catalog.segments.map((s) => [s.id, s.name]);
      if (!options.length) return el("span", { class: "muted" }, "No segments yet.");
      return el("span", { class: "rb-inputs" }, el("span", {}, "is in"),
        select(options, rule.segment, (v) => { rule.segment = parseInt(v, 10); this.changed(); }, "Segment"));
    }
  }

  // One request per catalog URL however many builders a page has; each gets a copy.
  const catalogs = {};
  async function catalogAt(url) {
    if (!catalogs[url]) {
      catalogs[url] = fetch(url, { credentials: "same-origin" }).then((response) => {
        if (!response.ok) throw new Error(`HTTP ${response.status}`);
        return response.json();
      });
    }
    return JSON.parse(JSON.stringify(await catalogs[url]));
  }

  async function start(root) {
    const target = document.getElementById(root.dataset.target);
    const catalog = await catalogAt(root.dataset.catalog);
    const exclude = root.dataset.excludeSegment;
    if (exclude) catalog.segments = catalog.segments.filter((s) => String(s.id) !== exclude);
    root.builder = new RuleBuilder(root, target, catalog);
    root.dataset.ready = "true";
  }

  // Other islands (the journey canvas) mount builders of their own with a catalog
  // they already fetched; roots marked data-manual are theirs.
  window.StagecraftRuleBuilder = {
    catalog: catalogAt,
    mount(root, target, catalog) {
      root.builder = new RuleBuilder(root, target, catalog);
      root.dataset.ready = "true";
      return root.builder;
    },
  };

  document.addEventListener("DOMContentLoaded", () => {
    document.querySelectorAll(".rule-builder:not([data-manual])").forEach(start);
  });
})();
