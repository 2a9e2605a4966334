/* Stagecraft journey canvas, part 1 of 3: the steps as a graph, and the edits a
 * marketer makes to it. No DOM here.
 *
 * The steps are the server's format (campaigns/journeys/definition.py): a list, the
 * first is the entry; each step names its successors by key ("next"; "yes"/"no" for a
 * branch; "next"/"timeout_next" for wait_for; "paths[].next" for a split;
 * "variants[].next" for an A/B send, one per variant; none for exit); a missing
 * successor (null) ends the journey there. An A/B send's variants each carry their
 * own "next" here (a variant without one, as the API may store it, takes the step's
 * "next" when the canvas loads it).
 *
 * A "slot" is one successor pointer: {owner: key, field: "next"|"yes"|"no"|
 * "timeout_next"}, {owner: key, path: i} (a split's path), {owner: key, arm: i} (an
 * A/B variant's), or {owner: null} (the entry). Adding a step puts it into a slot; {before: key} puts it before a step on
 * every way that leads there (below a fork's columns, where they join again).
 */
(function () {
  "use strict";

  const FORKS = new Set(["branch", "split", "wait_for"]);
  const DURATION_UNITS = ["days", "hours", "minutes"];

  function clone(value) { return JSON.parse(JSON.stringify(value)); }

  function isAB(step) {
    return (step.kind === "send_email" || step.kind === "send_sms") && Array.isArray((step.config || {}).variants);
  }

  /** A step with more than one way on: its ways are drawn as columns. */
  function isFork(step) { return FORKS.has(step.kind) || isAB(step); }

  /** An A/B send's variants each get their own "next" (from the step's), and the
   * step's own "next" goes: one pointer per way on, as for a split's paths. */
  function armsOwnNext(step) {
    if (!isAB(step)) return;
    for (const variant of step.config.variants) {
      if (variant && typeof variant === "object" && !("next" in variant)) variant.next = step.config.next || null;
    }
    delete step.config.next;
  }

  function slotsOf(step) {
    const config = step.config || {};
    if (isAB(step)) return config.variants.map((v, i) => ({ owner: step.key, arm: i }));
    switch (step.kind) {
      case "exit": return [];
      case "branch": return [{ owner: step.key, field: "yes" }, { owner: step.key, field: "no" }];
      case "wait_for": return [{ owner: step.key, field: "next" }, { owner: step.key, field: "timeout_next" }];
      case "split": return (config.paths || []).map((p, i) => ({ owner: step.key, path: i }));
      default: return [{ owner: step.key, field: "next" }];
    }
  }

  class Journey {
    constructor(steps) {
      this.steps = Array.isArray(steps) ? steps.filter((s) => s && typeof s === "object") : [];
      this.steps.forEach((s) => { if (!s.config || typeof s.config !== "object") s.config = {}; armsOwnNext(s); });
    }

    byKey(key) { return this.steps.find((s) => s.key === key) || null; }
    entry() { return this.steps.length ? this.steps[0].key : null; }

    get(slot) {
      if (slot.owner === null || slot.owner === undefined) return this.entry();
      const config = this.byKey(slot.owner).config;
      if (slot.path !== undefined) return (config.paths[slot.path] || {}).next || null;
      if (slot.arm !== undefined) return (config.variants[slot.arm] || {}).next || null;
      return config[slot.field] || null;
    }

    set(slot, key) {
      if (slot.owner === null || slot.owner === undefined) {
        const step = this.byKey(key);
        if (step) this.steps = [step, ...this.steps.filter((s) => s !== step)];
        return;
      }
      const config = this.byKey(slot.owner).config;
      if (slot.path !== undefined) config.paths[slot.path].next = key;
      else if (slot.arm !== undefined) config.variants[slot.arm].next = key;
      else config[slot.field] = key;
    }

    successors(step) { return slotsOf(step).map((slot) => this.get(slot)); }

    /** Every slot that points at `key` (the entry counts as one). */
    referrers(key) {
      const out = this.entry() === key ? [{ owner: null }] : [];
      for (const step of this.steps) {
        for (const slot of slotsOf(step)) if (this.get(slot) === key) out.push(slot);
      }
      return out;
    }

    reachable(from) {
      const seen = new Set();
      const stack = from ? [from] : [];
      while (stack.length) {
        const key = stack.pop();
        const step = this.byKey(key);
        if (!step || seen.has(key)) continue;
        seen.add(key);
        stack.push(...this.successors(step).filter(Boolean));
      }
      return seen;
    }

    newKey(kind) {
      const stem = kind.replace(/_/g, "-");
      let n = 1;
      while (this.byKey(`${stem}-${n}`)) n += 1;
      return `${stem}-${n}`;
    }

    /** Put a new step of `kind` with `config` into `where` (a slot or {before: key});
     * every way out of it goes on to what the slot led to. Returns its key. */
    insert(where, kind, config) {
      const key = this.newKey(kind);
      const target = where.before !== undefined ? where.before : this.get(where);
      const slots = where.before !== undefined ? this.referrers(where.before) : [where];
      const step = { key, kind, config: clone(config) };
      this.steps.push(step);
      for (const slot of slotsOf(step)) this.set(slot, target);
      for (const slot of slots) this.set(slot, key);
      this.tidy();
      return key;
    }

    /** Where contacts go instead when `step` is deleted: its only way on, or its
     * first outcome's (yes, matched, the first path). */
    continuation(step) {
      const next = this.successors(step);
      return next.length ? next[0] : null;
    }

    /** The steps that deleting `key` would leave unreachable (besides itself). */
    orphansOf(key) {
      const before = this.reachable(this.entry());
      const copy = new Journey(clone(this.steps));
      copy.remove(key, false);
      const after = copy.reachable(copy.entry());
      return [...before].filter((k) => k !== key && !after.has(k));
    }

    remove(key, tidy = true) {
      const step = this.byKey(key);
      if (!step) return;
      const before = this.reachable(this.entry());
      const next = this.continuation(step);
      const wasEntry = this.entry() === key;
      for (const slot of this.referrers(key)) if (slot.owner !== null) this.set(slot, next);
      this.steps = this.steps.filter((s) => s !== step);
      if (wasEntry && next) this.set({ owner: null }, next);
      const after = this.reachable(this.entry());
      this.steps = this.steps.filter((s) => after.has(s.key) || !before.has(s.key));
      if (tidy) this.tidy();
    }

    /** Run `change`, then drop the steps it left unreachable (those only on a
     * removed path or arm). */
    pruned(change) {
      const before = this.reachable(this.entry());
      change();
      const after = this.reachable(this.entry());
      this.steps = this.steps.filter((s) => after.has(s.key) || !before.has(s.key));
      this.tidy();
    }

    /** Drop a split's path i; steps only on that path go too. */
    removePath(key, i) { this.pruned(() => this.byKey(key).config.paths.splice(i, 1)); }

    /** Drop an A/B send's variant i; steps only on its arm go too. */
    removeArm(key, i) { this.pruned(() => this.byKey(key).config.variants.splice(i, 1)); }

    /** A send step becomes an A/B test: two variants of its template, each going on
     * where the step went. */
    startAB(key) {
      const c = this.byKey(key).config;
      const next = c.next || null;
      c.variants = [{ label: "A", template_id: c.template_id || null, weight: 50, next }, { label: "B", template_id: c.template_id || null, weight: 50, next }];
      delete c.template_id; delete c.next;
    }

    /** An A/B send becomes a plain send of its first variant, going on where that
     * variant went; steps only on the other arms go. */
    stopAB(key) {
      this.pruned(() => {
        const c = this.byKey(key).config;
        const first = c.variants[0] || {};
        c.template_id = first.template_id || null;
        c.next = first.next || null;
        delete c.variants; delete c.winner;
      });
    }

    /** A new variant, going on where the first one goes. */
    addArm(key, label) {
      const c = this.byKey(key).config;
      const first = c.variants[0] || {};
      c.variants.push({ label, template_id: first.template_id || null, weight: 50, next: first.next || null });
    }

    /** A step can move up when it does not fork and is reached only from one step
     * that does not fork either (it swaps places with that step). */
    canMoveUp(key) {
      const step = this.byKey(key);
      if (!step || isFork(step) || step.kind === "exit") return false;
      const refs = this.referrers(key);
      if (refs.length !== 1 || refs[0].owner === null) return false;
      const parent = this.byKey(refs[0].owner);
      return !isFork(parent) && parent.kind !== "exit";
    }

    canMoveDown(key) {
      const step = this.byKey(key);
      const next = step && !isFork(step) ? step.config.next : null;
      return Boolean(next) && this.canMoveUp(next);
    }

    moveUp(key) {
      if (!this.canMoveUp(key)) return;
      const step = this.byKey(key);
      const parent = this.byKey(this.referrers(key)[0].owner);
      const after = step.config.next || null;
      for (const slot of this.referrers(parent.key)) this.set(slot, key);
      step.config.next = parent.key;
      parent.config.next = after;
      this.tidy();
    }

    moveDown(key) {
      if (this.canMoveDown(key)) this.moveUp(this.byKey(key).config.next);
    }

    /** Order the list so that every step comes after the steps leading to it (the
     * entry first): the saved JSON reads top to bottom, and the server's flow picks
     * the first step in list order where columns join. */
    tidy() {
      const index = new Map(this.steps.map((s, i) => [s.key, i]));
      const indegree = new Map(this.steps.map((s) => [s.key, 0]));
      for (const step of this.steps) {
        for (const next of this.successors(step)) if (indegree.has(next)) indegree.set(next, indegree.get(next) + 1);
      }
      const entry = this.entry();
      const ready = this.steps.filter((s) => indegree.get(s.key) === 0).map((s) => s.key);
      const out = [];
      while (ready.length) {
        ready.sort((a, b) => (a === entry ? -1 : b === entry ? 1 : index.get(a) - index.get(b)));
        const key = ready.shift();
        const step = this.byKey(key);
        out.push(step);
        for (const next of this.successors(step)) {
          if (!indegree.has(next)) continue;
          indegree.set(next, indegree.get(next) - 1);
          if (indegree.get(next) === 0) ready.push(next);
        }
      }
      if (out.length === this.steps.length) this.steps = out;  // else a loop: the server says so
    }
  }

  // -- what a new step starts with -------------------------------------------------------

  function skeleton(kind, choices) {
    const first = (channel) => (choices.templates.find((t) => t.channel === channel) || {}).id || null;
    switch (kind) {
      case "send_email": return { template_id: first("email") };
      case "send_sms": return { template_id: first("sms") };
      case "send_survey": return { survey_id: ((choices.surveys || [])[0] || {}).id || null, channel: "email" };
      case "wait": return { duration: { days: 1 } };
      case "wait_until": return { time: "10:00", days_of_week: [] };
      case "wait_for": return { event: { name: (choices.events || [])[0] || "purchase", properties: {} }, timeout: { days: 3 } };
      case "branch": return { rule: { all: [] } };
      case "split": return { paths: [{ label: "A", weight: 50 }, { label: "B", weight: 50 }] };
      case "update_attribute": return { attribute: "", value: "" };
      case "move_stage": return { stage_id: (choices.stages[0] || {}).id || null };
      case "webhook": return { url: "https://" };
      default: return {};
    }
  }

  // -- durations: one number and a unit ---------------------------------------------------

  function durationParts(value) {
    const seconds = DURATION_UNITS.reduce((sum, unit) => sum + Number((value || {})[unit] || 0) * { days: 86400, hours: 3600, minutes: 60 }[unit], 0)
      + Number((value || {}).seconds || 0);
    for (const [unit, size] of [["days", 86400], ["hours", 3600], ["minutes", 60]]) {
      if (seconds && seconds % size === 0) return { amount: seconds / size, unit };
    }
    return { amount: Math.max(1, Math.round(seconds / 60)), unit: "minutes" };
  }

  function durationWords(value) {
    const { amount, unit } = durationParts(value);
    return `${amount} ${amount === 1 ? unit.slice(0, -1) : unit}`;
  }

  window.StagecraftJourney = Object.assign(window.StagecraftJourney || {}, {
    Journey, FORKS, isAB, isFork, DURATION_UNITS, skeleton, durationParts, durationWords, clone,
  });
})();
