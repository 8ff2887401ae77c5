// Talking to the JSON API, and the save queue that never drops a change.
//
// Every change the annotator makes becomes an operation in a FIFO queue that is
// kept in memory AND in localStorage (keyed by user and article), so a reload
// or a crash before the server answered still sends it. Operations are sent
// one at a time, in order (a relation is sent after the spans it links).
// Transient failures (network, 5xx, 429, an expired session) are retried with
// exponential backoff; creations carry client-generated ids and label saves a
// request id, so a retry of a request that did land is answered 200 with the
// existing object or the first answer, never a duplicate or seconds counted twice. Failures the server says are final (4xx) are reported, not hidden.
//
// When two or more changes are waiting, they go as one batch (POST .../changes,
// all or nothing) instead of a request each; suggestion accepts and rejects still
// go alone, and a batch ends before a second change of the same label (it waits for the
// first one's answer, which gives it the version to send). A batch, once sent, is fixed: its ops are marked with its request id
// (in localStorage too) and nothing is merged into them, so its retry is the same
// request and the server answers it as the first time. A batch the server refuses
// at one operation stored nothing: that operation is settled as if it had been
// sent alone (a 404 on a delete is "already gone", a 409 a conflict, ...) and the
// others are sent again.

const RETRY_DELAYS_MS = [1000, 2000, 4000, 8000, 15000, 30000];
const HEARTBEAT_MS = 5000;
const STALE_MS = 20000; // a stored queue whose tab has not written for this long belongs to a closed tab
const MAX_BATCH = 200; // the server's limit of operations per batch

/** An id for this browser tab that survives reloads (sessionStorage is per tab). */
function tabId() {
  try {
    let id = window.sessionStorage.getItem("annotator.tab");
    if (!id) {
      id = newUid().slice(0, 12);
      window.sessionStorage.setItem("annotator.tab", id);
    }
    return id;
  } catch {
    return "default";
  }
}

export function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.getAttribute("content") : "";
}

/** A fresh id for a span or relation, valid for the API ([A-Za-z0-9_-]{8,64}); works outside secure contexts too. */
export function newUid() {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** fetch() with JSON in and out and the CSRF header; resolves to {status, data}, rejects only on network errors. */
export async function requestJson(method, url, body) {
  const headers = { Accept: "application/json" };
  if (method !== "GET") headers["X-CSRFToken"] = csrfToken();
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(url, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
    cache: "no-store",
  });
  let data = null;
  const type = response.headers.get("Content-Type") || "";
  if (response.status !== 204 && type.includes("json")) {
    try { data = await response.json(); } catch { data = null; }
  }
  return { status: response.status, data };
}

/** After a session change the CSRF token changes too: read the new one from a page the server renders. */
async function refreshCsrfToken() {
  const response = await fetch(window.location.href, { credentials: "same-origin", cache: "no-store" });
  const html = await response.text();
  const match = html.match(/name="csrf-token" content="([^"]+)"/);
  const meta = document.querySelector('meta[name="csrf-token"]');
  if (match && meta) meta.setAttribute("content", match[1]);
  return Boolean(match);
}

/** {retry: true, message} when an answer is worth trying again later (the session, the network, a busy server); else null. */
async function retryLater(status, error) {
  if (status === 400 && /csrf/i.test(error)) {
    try { await refreshCsrfToken(); } catch { /* retried below */ }
    return { retry: true, message: "session token renewed" };
  }
  if (status === 401) return { retry: true, message: "logged out: log in again (in another tab) and your changes will be sent" };
  if (status === 408 || status === 429 || status >= 500) return { retry: true, message: `server busy (${status})` };
  return null;
}

/** The request an operation becomes (method, path below /api/articles/<id>, body). */
export function requestFor(op) {
  switch (op.op) {
    case "label": {
      const body = { label: op.label, seconds: Math.round(op.seconds * 100) / 100 };
      if (Number.isInteger(op.version)) body.version = op.version; // 0: "I saw no label"
      if (op.bounds) body.sentence = { start: op.bounds[0], end: op.bounds[1] }; // the text we labelled (code points)
      if (op.requestId) body.request_id = op.requestId; // the same on every retry: the server counts this save once
      return ["PUT", `/labels/${op.sentence}`, body];
    }
    case "unlabel": return ["DELETE", `/labels/${op.sentence}${Number.isInteger(op.version) ? `?version=${op.version}` : ""}`, undefined];
    case "span": return ["POST", "/spans", { id: op.id, label: op.label, start: op.start, end: op.end }];
    case "span-patch": return ["PATCH", `/spans/${encodeURIComponent(op.id)}`, { ...op.fields }];
    case "span-del": return ["DELETE", `/spans/${encodeURIComponent(op.id)}`, undefined];
    case "rel": return ["POST", "/relations", { id: op.id, type: op.type, from: op.from, to: op.to }];
    case "rel-del": return ["DELETE", `/relations/${encodeURIComponent(op.id)}`, undefined];
    case "article-label": { // with the version the page saw (0: no answer): one set in another tab since is a 409
      const body = { values: op.values };
      if (Number.isInteger(op.version)) body.version = op.version;
      return ["PUT", `/article-labels/${encodeURIComponent(op.group)}`, body];
    }
    case "article-unlabel": return ["DELETE", `/article-labels/${encodeURIComponent(op.group)}${Number.isInteger(op.version) ? `?version=${op.version}` : ""}`, undefined];
    case "accept": return ["POST", "/suggestions/accept", { ids: op.ids }];
    case "reject": return ["POST", "/suggestions/reject", { ids: op.ids }];
    default: throw new Error(`unknown operation ${op.op}`);
  }
}

/** The batch operation (POST .../changes) an operation becomes; null for those that are sent alone. */
export function changeFor(op) {
  switch (op.op) {
    case "label": return { op: "put_label", sentence_index: op.sentence, ...requestFor(op)[2] };
    case "unlabel": return Number.isInteger(op.version) ? { op: "delete_label", sentence_index: op.sentence, version: op.version } : { op: "delete_label", sentence_index: op.sentence };
    case "span": return { op: "create_span", id: op.id, label: op.label, start: op.start, end: op.end };
    case "span-patch": return { op: "update_span", id: op.id, ...op.fields };
    case "span-del": return { op: "delete_span", id: op.id };
    case "rel": return { op: "create_relation", id: op.id, type: op.type, from: op.from, to: op.to };
    case "rel-del": return { op: "delete_relation", id: op.id };
    case "article-label": return { op: "put_article_label", group: op.group, ...requestFor(op)[2] };
    case "article-unlabel": return Number.isInteger(op.version) ? { op: "delete_article_label", group: op.group, version: op.version } : { op: "delete_article_label", group: op.group };
    default: return null;
  }
}

/** What a change carries a version of (a sentence's label, an article label group's answer); null: none. */
function versionKey(op) {
  if (op.op === "label" || op.op === "unlabel") return `sentence ${op.sentence}`;
  if (op.op === "article-label" || op.op === "article-unlabel") return `group ${op.group}`;
  return null;
}

/**
 * Merge a new operation into the queued ones that are not being sent yet, so
 * that a burst of edits (ten presses of "grow span") is one request. Returns
 * the new queue. Pure: tested in the browser test suite.
 */
export function coalesce(queue, op, inflight = null) {
  // in flight (one operation or a batch's), or sent in a batch that waits for its retry: never changed
  const waiting = (o) => !o.batch && (Array.isArray(inflight) ? !inflight.includes(o) : o !== inflight);
  // A label save sent once keeps its body: its retries carry the same request id, which the server refuses with another body.
  const unsent = (o) => waiting(o) && !o.requestId;
  const q = queue.slice();
  const find = (pred) => q.findIndex((o) => waiting(o) && pred(o));
  if (op.op === "label" || op.op === "unlabel") {
    const i = q.findIndex((o) => unsent(o) && (o.op === "label" || o.op === "unlabel") && o.sentence === op.sentence);
    if (i >= 0) {
      const old = q[i];
      // A label put on a sentence the server had none for (version 0), taken off before it was sent, with no other
      // change of that sentence ahead of it: the server never had it, so neither goes (a delete would be a 404).
      if (op.op === "unlabel" && old.op === "label" && old.version === 0 && !q.some((o, j) => j !== i && versionKey(o) === versionKey(op))) {
        q.splice(i, 1);
        return q;
      }
      const merged = { ...op, version: old.version };
      if (op.op === "label") merged.seconds = (old.op === "label" ? old.seconds : 0) + op.seconds;
      q[i] = merged;
      return q;
    }
  } else if (op.op === "article-label" || op.op === "article-unlabel") { // the group's latest answer is the one to send,
    // with the version the queued one carries: the server's answer has not moved since (that one was never sent)
    const i = find((o) => (o.op === "article-label" || o.op === "article-unlabel") && o.group === op.group);
    if (i >= 0 && op.op === "article-unlabel" && q[i].op === "article-label" && q[i].version === 0
        && !q.some((o, j) => j !== i && versionKey(o) === versionKey(op))) {
      q.splice(i, 1); // an answer the server never had (none before it), taken back before it was sent: neither goes
      return q;
    }
    if (i >= 0) {
      q[i] = { ...op, version: q[i].version };
      return q;
    }
  } else if (op.op === "span-patch") {
    const i = find((o) => (o.op === "span" || o.op === "span-patch") && o.id === op.id);
    if (i >= 0) {
      const old = q[i];
      q[i] = old.op === "span" ? { ...old, ...op.fields } : { ...old, fields: { ...old.fields, ...op.fields } };
      return q;
    }
  } else if (op.op === "span-del") {
    const created = find((o) => o.op === "span" && o.id === op.id);
    const rest = q.filter((o) => !(waiting(o) && (
      (o.op === "span-patch" && o.id === op.id) ||
      (o.op === "rel" && (o.from === op.id || o.to === op.id)) ||
      (o.op === "span" && o.id === op.id))));
    if (created >= 0) return rest; // never reached the server: nothing to delete there
    rest.push(op);
    return rest;
  } else if (op.op === "rel-del") {
    const created = find((o) => o.op === "rel" && o.id === op.id);
    if (created >= 0) { q.splice(created, 1); return q; }
  }
  q.push(op);
  return q;
}

export class SaveQueue {
  /**
   * @param {object} o
   * @param {string} o.baseUrl       e.g. /api/articles/12
   * @param {string} o.storagePrefix localStorage key prefix for this user and article (the tab id is appended)
   * @param {(s: {state: string, pending: number, retryIn?: number, message?: string}) => void} o.onStatus
   * @param {(op: object, data: any) => void} o.onSaved        the server's answer for an operation
   * @param {(op: object, current: any) => void} o.onConflict  409: a label or article label changed meanwhile (another tab), or the link or span exists under another id
   * @param {(op: object, message: string, status: number, data: any) => void} o.onRejected  final refusal (data: the JSON reply)
   */
  constructor(o) {
    Object.assign(this, o);
    this.ops = [];
    this.inflight = null;
    this.attempt = 0;
    this.timer = null;
    this.running = false;
    this.retryAt = 0;
    this.storageKey = this.storagePrefix + tabId();
    this.ops = this.restore();
    window.addEventListener("online", () => this.retryNow());
    window.addEventListener("pagehide", () => this.release());
    window.addEventListener("pageshow", (event) => { if (event.persisted) this.reclaim(); });
    setInterval(() => { if (this.ops.length) this.persist(); }, HEARTBEAT_MS); // "this tab is alive"
  }

  /** The tab is closing (or leaving for another page): the next tab opened on this article may send
   * what is still unsent at once, instead of waiting STALE_MS for this tab's heartbeat to stop. */
  release() {
    try {
      if (this.ops.length) window.localStorage.setItem(this.storageKey, JSON.stringify({ ops: this.ops, heartbeat: 0 }));
    } catch {
      // storage disabled: nothing was kept there either
    }
  }

  /** Back from the back/forward cache: changes another tab took over meanwhile are that tab's to send. */
  reclaim() {
    try {
      if (this.ops.length && !window.localStorage.getItem(this.storageKey)) this.ops = [];
      else this.persist();
    } catch {
      // storage disabled: keep the in-memory queue
    }
    this.status();
  }

  /**
   * This tab's queue (kept across reloads: the tab id lives in sessionStorage),
   * plus the queues of tabs of the same user and article that were closed
   * before their changes got through (their heartbeat stopped).
   */
  restore() {
    const ops = [];
    try {
      const mine = window.localStorage.getItem(this.storageKey);
      if (mine) ops.push(...(JSON.parse(mine).ops || []));
      for (let i = window.localStorage.length - 1; i >= 0; i--) {
        const key = window.localStorage.key(i);
        if (!key || key === this.storageKey || !key.startsWith(this.storagePrefix)) continue;
        const other = JSON.parse(window.localStorage.getItem(key) || "{}");
        if (!(Date.now() - (other.heartbeat || 0) > STALE_MS)) continue; // a live tab sends its own
        ops.push(...(other.ops || []));
        window.localStorage.removeItem(key);
      }
    } catch {
      // unreadable storage: start empty
    }
    const valid = ops.filter((o) => o && typeof o.op === "string");
    if (valid.length) {
      this.ops = valid;
      this.persist();
    }
    return valid;
  }

  persist() {
    try {
      if (this.ops.length) window.localStorage.setItem(this.storageKey, JSON.stringify({ ops: this.ops, heartbeat: Date.now() }));
      else window.localStorage.removeItem(this.storageKey);
    } catch {
      // storage full or disabled: the in-memory queue still retries while the page is open
    }
  }

  get pending() { return this.ops.length; }

  push(op) {
    this.ops = coalesce(this.ops, op, this.inflight);
    this.persist();
    if (this.timer === null && !this.running) this.run();
    else this.status(); // waiting to retry, or a request on its way: the status still counts this change
  }

  /** Queued label operations for a sentence get the version the server just gave it. */
  rebase(sentence, version) {
    for (const o of this.ops) {
      if (o !== this.inflight && !o.batch && !o.requestId && (o.op === "label" || o.op === "unlabel") && o.sentence === sentence && Number.isInteger(o.version)) o.version = version;
    }
    this.persist();
  }

  /** Queued operations on an article label group get the version the server just gave its answer (0: none). */
  rebaseArticleLabel(group, version) {
    for (const o of this.ops) {
      if (o !== this.inflight && !o.batch && (o.op === "article-label" || o.op === "article-unlabel") && o.group === group && Number.isInteger(o.version)) o.version = version;
    }
    this.persist();
  }

  retryNow() {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      clearInterval(this.ticker);
      this.timer = null;
    }
    this.run();
  }

  status(extra = {}) {
    let state = this.ops.length ? "saving" : "saved";
    let message;
    if (this.timer !== null) { // while waiting to retry, every status says why (a change made meanwhile too)
      state = "retrying";
      message = this.retryMessage;
    }
    this.onStatus({ state, pending: this.ops.length, retryIn: Math.max(0, Math.ceil((this.retryAt - Date.now()) / 1000)), message, ...extra });
  }

  async run() {
    if (this.running) return;
    this.running = true;
    try {
      while (this.ops.length) {
        const batch = this.nextBatch();
        if (batch) {
          this.inflight = batch;
          this.status();
          const outcome = await this.sendBatch(batch);
          this.inflight = null;
          if (outcome.retry) {
            this.scheduleRetry(outcome.message);
            return;
          }
          this.attempt = 0;
          this.ops = this.ops.filter((o) => !outcome.done.includes(o));
          this.persist();
          continue;
        }
        const op = this.ops[0];
        this.inflight = op;
        this.status();
        const outcome = await this.send(op);
        this.inflight = null;
        if (outcome.retry) {
          this.scheduleRetry(outcome.message);
          return;
        }
        this.attempt = 0;
        this.ops = this.ops.filter((o) => o !== op);
        this.persist();
      }
      this.status();
    } finally {
      this.inflight = null;
      this.running = false;
    }
  }

  scheduleRetry(message) {
    this.retryMessage = message;
    const delay = RETRY_DELAYS_MS[Math.min(this.attempt, RETRY_DELAYS_MS.length - 1)];
    const jittered = Math.round(delay * (0.8 + Math.random() * 0.4));
    this.attempt += 1;
    this.retryAt = Date.now() + jittered;
    this.timer = setTimeout(() => {
      clearInterval(this.ticker);
      this.timer = null;
      this.run();
    }, jittered);
    this.ticker = setInterval(() => this.status({ message }), 1000);
    this.status({ message });
  }

  /**
   * The batch to send next: the one sent before (its ops lead the queue, marked with its id) for its retry, or
   * the leading changes that can go in a batch when there are two or more; null: send the first alone.
   */
  nextBatch() {
    const head = this.ops[0];
    if (head.batch) {
      const ops = this.ops.filter((o) => o.batch === head.batch);
      return ops.length > 1 ? ops : this.unbatch(ops);
    }
    if (this.aloneNext) return null;
    const ops = [];
    const versioned = new Set();
    for (const o of this.ops) {
      if (ops.length === MAX_BATCH || !changeFor(o)) break;
      // A second change of the same label carries the version the page saw, which the first one moves on: it waits
      // for that answer (rebase gives it the new version), else the batch is a 409 ("changed in another tab").
      const key = versionKey(o);
      if (key !== null && versioned.has(key)) break;
      if (key !== null) versioned.add(key);
      ops.push(o);
    }
    if (ops.length < 2) return null;
    const id = newUid();
    for (const o of ops) {
      o.batch = id;
      if (o.op === "label" && !o.requestId) o.requestId = newUid(); // the label's own key, as when it is sent alone
    }
    this.persist();
    return ops;
  }

  /** These ops are no batch's any more (nothing of it was stored): they may be merged, batched or sent alone again. */
  unbatch(ops) {
    for (const o of ops) delete o.batch;
    this.persist();
    return null;
  }

  /** One attempt at a batch: {retry: true, message}, or {done: the ops finished with}. */
  async sendBatch(ops) {
    let response;
    try {
      response = await requestJson("POST", `${this.baseUrl}/changes`, { operations: ops.map(changeFor), request_id: ops[0].batch });
    } catch {
      return { retry: true, message: "network error" };
    }
    const { status, data } = response;
    if (status >= 200 && status < 300 && data && Array.isArray(data.results) && data.results.length === ops.length) {
      ops.forEach((op, i) => this.onSaved(op, data.results[i].body));
      return { done: ops };
    }
    const failed = data && Number.isInteger(data.index) ? ops[data.index] : undefined;
    if (failed && status >= 400 && status < 500 && status !== 401 && status !== 408 && status !== 429) {
      this.unbatch(ops); // nothing of the batch was stored: settle the failing op as if sent alone, send the others again
      await this.settle(failed, requestFor(failed)[0], status, data);
      return { done: [failed] };
    }
    const later = await retryLater(status, (data && data.error) || "");
    if (later) return later;
    this.unbatch(ops); // refused as a whole (not a batch the server takes): send them one at a time
    this.aloneNext = ops.length;
    return { done: [] };
  }

  /** One attempt: {retry: true, message} to try again later, {} when the operation is finished with. */
  async send(op) {
    if (this.aloneNext) this.aloneNext -= 1;
    if (op.op === "label" && !op.requestId) { // one id per save, kept (in localStorage too) for its retries
      op.requestId = newUid();
      this.persist();
    }
    const [method, path, body] = requestFor(op);
    let response;
    try {
      response = await requestJson(method, this.baseUrl + path, body);
    } catch {
      return { retry: true, message: "network error" };
    }
    return this.settle(op, method, response.status, response.data);
  }

  /** What the server's answer to an op (alone, or the op a batch failed at) means. */
  async settle(op, method, status, data) {
    const error = (data && data.error) || `HTTP ${status}`;
    if (status >= 200 && status < 300) {
      this.onSaved(op, data);
      return {};
    }
    if (status === 404 && method === "DELETE") { // already gone: what we wanted
      this.onSaved(op, null);
      return {};
    }
    if (status === 409 && ["label", "unlabel", "article-label", "article-unlabel", "rel", "span"].includes(op.op) && data && "current" in data) {
      this.onConflict(op, data.current); // label, article label: changed elsewhere (or null: deleted); rel, span: the existing one
      return {};
    }
    const later = await retryLater(status, error);
    if (later) return later;
    this.onRejected(op, error, status, data);
    return {};
  }
}
