// Undo and redo on the annotation page: what each change of the annotator's takes to take it back.
//
// A step is what one action did (a label key, a span marked, a span deleted with its links, a relabel that
// dropped links no longer allowed), as save-queue operations, together with the operations that undo it. Undoing
// a step sends those through the same save queue and API as any edit, and the step moves to the redo stack with
// the two lists swapped. Nothing new is kept on the server: every inverse is an ordinary operation (a span deleted
// is created again under its id, offsets and label, and its links under theirs), and a label or article label put
// back or removed carries the version the page last saw (annotate.js adds it), so another tab's change meanwhile
// is the same visible 409 as any stale save.
//
// The history starts empty with each page load: changes made before it (or replayed from the save queue) are
// never undone. Accepting or rejecting suggestions cannot be expressed by the API's operations (a decided
// suggestion stays decided), so it is a barrier: undo stops there once and says so. A step whose effect is no
// longer what the page shows (another tab's label won a conflict) is not undone over it. Pure: no DOM; `state`
// is the page's {labels, spans, relations, articleLabels} (Maps), as annotate.js keeps them.

const LIMIT = 500; // steps kept: hours of work, a few hundred kilobytes at most

/** The operations that take `op` back, from `state` as it is before `op` is applied. */
export function inverseOf(op, state) {
  switch (op.op) {
    case "label":
    case "unlabel": {
      const before = state.labels.get(op.sentence);
      // a label taken away comes back with the time it had (annotate.js adds none when a label is still there)
      return before && before.label ? [{ op: "label", sentence: op.sentence, label: before.label, seconds: before.seconds || 0 }] : [{ op: "unlabel", sentence: op.sentence }];
    }
    case "span": return [{ op: "span-del", id: op.id }];
    case "span-patch": {
      const span = state.spans.get(op.id);
      if (!span) return [];
      const fields = {};
      for (const name of Object.keys(op.fields)) fields[name] = span[name];
      return [{ op: "span-patch", id: op.id, fields }];
    }
    case "span-del": {
      const span = state.spans.get(op.id);
      if (!span) return [];
      const links = [...state.relations.values()].filter((r) => r.from === op.id || r.to === op.id);
      return [{ op: "span", id: span.id, label: span.label, start: span.start, end: span.end },
        ...links.map((r) => ({ op: "rel", id: r.id, type: r.type, from: r.from, to: r.to }))];
    }
    case "rel": return [{ op: "rel-del", id: op.id }];
    case "rel-del": {
      const r = state.relations.get(op.id);
      return r ? [{ op: "rel", id: r.id, type: r.type, from: r.from, to: r.to }] : [];
    }
    case "article-label":
    case "article-unlabel": {
      const values = state.articleLabels.get(op.group);
      return values && values.length ? [{ op: "article-label", group: op.group, values: values.slice() }] : [{ op: "article-unlabel", group: op.group }];
    }
    default: return null; // not undoable (suggestion decisions)
  }
}

/** Whether the page still shows what `op` made: undoing it over a change made since would undo that change instead. */
export function holds(op, state) {
  const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
  switch (op.op) {
    case "label": return state.labels.get(op.sentence)?.label === op.label;
    case "unlabel": return !state.labels.get(op.sentence)?.label;
    case "span": {
      const span = state.spans.get(op.id);
      return Boolean(span && span.label === op.label && span.start === op.start && span.end === op.end);
    }
    case "span-patch": {
      const span = state.spans.get(op.id);
      return Boolean(span && Object.entries(op.fields).every(([k, v]) => span[k] === v));
    }
    case "span-del": return !state.spans.has(op.id);
    case "rel": return state.relations.has(op.id);
    case "rel-del": return !state.relations.has(op.id);
    case "article-label": return same((state.articleLabels.get(op.group) || []).slice().sort(), op.values.slice().sort());
    case "article-unlabel": return !(state.articleLabels.get(op.group) || []).length;
    default: return false;
  }
}

/** A copy of an operation for the history: the save queue marks the ones it holds (request ids, batches). */
function copy(op) {
  const out = { ...op };
  if (op.fields) out.fields = { ...op.fields };
  if (op.values) out.values = op.values.slice();
  return out;
}

export class UndoHistory {
  constructor() {
    this.undoStack = []; // steps, oldest first: {done: [ops], undo: [ops]} or {barrier: "accept" | "reject"}
    this.redoStack = [];
    this.open = null; // the step the current action adds to
  }

  get canUndo() { return this.undoStack.length > 0; }
  get canRedo() { return this.redoStack.length > 0; }

  /** The annotator's next action starts a step of its own (called as each key press, click or change begins). */
  cut() { this.open = null; }

  /**
   * Record `op`, about to be applied to `state`. The operations of one action (one event, and at most one task)
   * make one step; a new change ends what could be redone.
   */
  record(op, state) {
    const inverse = inverseOf(op, state);
    this.redoStack = [];
    if (inverse === null) {
      this.open = null;
      const top = this.peek();
      if (top && top.barrier) top.barrier = op.op; // decisions in a row: one stop, named after the last
      else this.push({ barrier: op.op });
      return;
    }
    if (!this.open) {
      this.open = { done: [], undo: [] };
      this.push(this.open);
      const step = this.open;
      queueMicrotask(() => { if (this.open === step) this.open = null; });
    }
    this.open.done.push(copy(op));
    this.open.undo.unshift(...inverse.map(copy)); // undone last-first
  }

  push(step) {
    this.undoStack.push(step);
    if (this.undoStack.length > LIMIT) this.undoStack.shift();
  }

  /** The step the next undo (or redo) takes, without taking it. */
  peek(redo = false) {
    const stack = redo ? this.redoStack : this.undoStack;
    return stack[stack.length - 1] || null;
  }

  /**
   * Take the next step to undo (or redo): {barrier}, {stale: step} when the page no longer shows what it made,
   * or {ops, step}: the operations to perform. The step moves to the other stack, its lists swapped.
   */
  take(state, redo = false) {
    this.open = null;
    const from = redo ? this.redoStack : this.undoStack;
    const to = redo ? this.undoStack : this.redoStack;
    const step = from.pop();
    if (!step) return null;
    if (step.barrier) return { barrier: step.barrier };
    if (!step.done.every((op) => holds(op, state))) return { stale: step };
    to.push({ done: step.undo, undo: step.done });
    return { ops: step.undo.map(copy), step };
  }

  /** A span's or a link's id changed (the server named its own, or another tab's copy was adopted). */
  rekey(kind, oldId, newId) {
    const fix = (id) => (id === oldId ? newId : id);
    for (const step of [...this.undoStack, ...this.redoStack]) {
      for (const op of [...(step.done || []), ...(step.undo || [])]) {
        if (kind === "span") {
          if (op.op === "span" || op.op === "span-patch" || op.op === "span-del") op.id = fix(op.id);
          else if (op.op === "rel") { op.from = fix(op.from); op.to = fix(op.to); }
        } else if (op.op === "rel" || op.op === "rel-del") op.id = fix(op.id);
      }
    }
  }
}
