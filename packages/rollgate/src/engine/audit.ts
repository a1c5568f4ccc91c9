/**
 * The audit trail: who changed what, when, from where, with the state before and after.
 *
 * Append-only and hash-chained: each entry's hash is HMAC-SHA256(key, prev_hash || canonical
 * JSON of its fields, seq and time included), so an edit, a deletion or a reordering breaks the
 * chain, and someone who can write the database but lacks the key cannot rebuild it. A head
 * anchor (last seq and hash, with its own MAC) is written with every append, so deleting the
 * last entries is detected too. Secret-looking keys are redacted before anything is hashed or
 * stored.
 */
import { createHmac, createHash, hkdfSync, timingSafeEqual } from 'node:crypto';
import { once } from 'node:events';
import { canonicalJson } from '../core/canonical-json.js';
import { RollgateError } from '../core/errors.js';
import { AUDIT_OUTCOMES, type AuditChainState, type AuditHead, type AuditOutcome, type AuditRow, type AuditStore } from '../store/audit-types.js';

export type { AuditOutcome, AuditHead } from '../store/audit-types.js';

/** prev_hash of the first entry. */
export const GENESIS_HASH = '0'.repeat(64);
/**
 * prev_hash prefix of an entry appended while the head anchor was missing or forged: the chain
 * goes on from the last stored entry, but verify reports the break instead of it healing over.
 */
export const LOST_HEAD_PREFIX = 'lost:';
/** Keys whose values never reach the trail (matched case-insensitively, ignoring - and _, also as a suffix: apiToken). */
export const ALWAYS_REDACTED = ['password', 'passphrase', 'token', 'secret', 'privatekey', 'apikey', 'authorization', 'cookie'] as const;
/** Redacted too in secret entries (an action with a part starting with `secret`: secret.set, app.secrets.rotate). */
export const SECRET_ENTRY_REDACTED = ['value'] as const;
export const REDACTED = '[redacted]';
/** Larger before/after states are replaced by their size and digest, so one entry stays readable. */
export const MAX_STATE_CHARS = 64 * 1024;
export const MAX_AUDIT_LIST = 1000;

const ACTION_RE = /^[a-z][a-z0-9_-]*(?:\.[a-z][a-z0-9_-]*)+$/;

/** Whether `action` can go on the trail (noun.verb, lower case, dot separated). */
export function isAuditAction(action: string): boolean {
  return ACTION_RE.test(action);
}
const PAGE = 500;
/** Below any seq, so scans include rows someone inserted with seq 0 or less. */
const FIRST = Number.MIN_SAFE_INTEGER;
/** How far from its place verify looks for a moved entry's original seq, to name a reordering. */
const MOVE_WINDOW = 64;
const MAX_DEPTH = 32;

export interface AuditSource {
  /** Client address (the socket's, or the trusted proxy's X-Forwarded-For). */
  address: string | null;
  userAgent: string | null;
}

export interface AuditInput {
  actor: string;
  /** `deployment.create`, `pipeline.approve`, `secret.set`, `token.revoke`, `auth.denied` … */
  action: string;
  /** `deployment/<id>`, `app/shop/env/production`, `user/alice` … */
  target: string;
  source?: Partial<AuditSource> | null | undefined;
  /** Default `ok`. */
  outcome?: AuditOutcome | undefined;
  /** State before and after the change (undefined/null: none). Redacted, then stored as JSON. */
  before?: unknown;
  after?: unknown;
  /** More keys to redact in before/after, on top of ALWAYS_REDACTED. */
  redact?: readonly string[] | undefined;
}

export interface AuditEntry {
  seq: number;
  at: string;
  actor: string;
  action: string;
  target: string;
  source: AuditSource;
  /** As stored: one of AUDIT_OUTCOMES unless someone edited the row. */
  outcome: AuditOutcome;
  before: unknown;
  after: unknown;
  prevHash: string;
  hash: string;
}

export type AuditVerifyResult =
  | { ok: true; entries: number; head: AuditHead | null }
  /** `entries`: how many verified before the break. */
  | { ok: false; firstBroken: number; reason: string; entries: number };

export interface AuditListFilter {
  /** ISO time: entries at or after it. */
  since?: string | undefined;
  actor?: string | undefined;
  /** Exact action, or a prefix ending in `*` (`secret.*`). */
  action?: string | undefined;
  outcome?: AuditOutcome | undefined;
  /** 1..1000, default 100. */
  limit?: number | undefined;
  /** Newest first below this seq (paging back). */
  beforeSeq?: number | undefined;
  /** Oldest first above this seq (paging forward, e.g. a whole export). */
  afterSeq?: number | undefined;
}

/** The audit key from the server's master key (HKDF, its own label, so it is no other key). */
export function deriveAuditKey(masterKey: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), 'rollgate audit trail v1', 32));
}

export class AuditTrail {
  private readonly store: AuditStore;

  constructor(
    store: { readonly audit: AuditStore },
    private readonly key: Buffer,
    private readonly now: () => Date = () => new Date(),
  ) {
    if (!Buffer.isBuffer(key) || key.length < 16) throw new RollgateError('internal', 'the audit key must be at least 16 bytes; derive it with deriveAuditKey(masterKey)');
    this.store = store.audit;
  }

  /**
   * Appends one entry (secrets redacted) and returns it as stored. `into`: the audit store of a
   * transaction the change is written in (store/audit-queries.ts auditStoreIn), so the change and
   * its entry commit together or not at all.
   */
  async record(input: AuditInput, into?: AuditStore): Promise<AuditEntry> {
    const action = cleanText(input.action, 80);
    if (!ACTION_RE.test(action)) {
      throw new RollgateError('internal', `audit action "${action}" is not of the form noun.verb (lower case, dot separated), e.g. deployment.create`);
    }
    const outcome = input.outcome ?? 'ok';
    if (!AUDIT_OUTCOMES.includes(outcome)) throw new RollgateError('internal', `audit outcome "${String(outcome)}" is not one of ${AUDIT_OUTCOMES.join(', ')}`);
    const keys = [...ALWAYS_REDACTED, ...(action.split('.').some((p) => p.startsWith('secret')) ? SECRET_ENTRY_REDACTED : []), ...(input.redact ?? [])].map(normKey);
    const before = stateText(redact(input.before, keys));
    const after = stateText(redact(input.after, keys));
    const base = {
      actor: cleanText(input.actor, 200) || 'unknown',
      action,
      target: cleanText(input.target, 500),
      sourceAddress: cleanOptional(input.source?.address, 64),
      sourceAgent: cleanOptional(input.source?.userAgent, 256),
      outcome,
      before,
      after,
    };
    const row = await (into ?? this.store).append((state) => {
      const head = this.chainHead(state);
      const partial = { ...base, seq: head.seq, at: this.now().toISOString(), prevHash: head.prevHash };
      const hash = this.entryHash(partial.prevHash, hashedFields(partial, JSON.parse(before ?? 'null'), JSON.parse(after ?? 'null')));
      return { row: { ...partial, hash }, anchor: this.anchorText({ seq: partial.seq, hash }) };
    });
    return entryFromRow(row);
  }

  /** Newest first (oldest first with afterSeq). */
  async list(f: AuditListFilter = {}): Promise<AuditEntry[]> {
    const limit = f.limit ?? 100;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_AUDIT_LIST) throw new RollgateError('invalid_input', `limit must be a whole number from 1 to ${MAX_AUDIT_LIST}`);
    if (f.beforeSeq !== undefined && f.afterSeq !== undefined) throw new RollgateError('invalid_input', 'give either before or after, not both');
    const rows = await this.store.list({
      since: f.since,
      actor: f.actor,
      action: f.action,
      outcome: f.outcome,
      beforeSeq: f.beforeSeq,
      afterSeq: f.afterSeq,
      order: f.afterSeq !== undefined ? 'asc' : 'desc',
      limit,
    });
    return rows.map(entryFromRow);
  }

  /** Every entry (after `afterSeq`), oldest first, read page by page. */
  async *entries(afterSeq = FIRST): AsyncGenerator<AuditEntry> {
    for await (const row of this.rows(afterSeq)) yield entryFromRow(row);
  }

  /** The whole trail as JSON lines (one entry each, oldest first). */
  async *jsonl(): AsyncGenerator<string> {
    for await (const e of this.entries()) yield JSON.stringify(e) + '\n';
  }

  /** Writes the trail as JSON lines to `out`, minding backpressure; returns the number of entries. */
  async exportJsonl(out: NodeJS.WritableStream): Promise<number> {
    let n = 0;
    for await (const line of this.jsonl()) {
      if (!out.write(line)) await once(out, 'drain');
      n++;
    }
    return n;
  }

  /**
   * Checks the whole chain and the head anchor. On a break, names the first broken entry by
   * seq (for a deletion: the first missing one) and says what happened.
   */
  async verify(): Promise<AuditVerifyResult> {
    let prev: AuditHead = { seq: 0, hash: GENESIS_HASH };
    let count = 0;
    // From below 1, so a row inserted with seq 0 or less is checked (and fails) too.
    let scanned = FIRST;
    // Appends may land while we read: keep reading while the store has rows past what we checked.
    for (let round = 0; ; round++) {
      for await (const row of this.rows(scanned)) {
        scanned = row.seq;
        const broken = this.checkRow(row, prev);
        if (broken) return { ok: false, ...broken, entries: count };
        count++;
        prev = { seq: row.seq, hash: row.hash };
      }
      const state = await this.store.state();
      if (state.last && state.last.seq > scanned && round < 100) continue;
      const broken = this.checkAnchor(state.anchor, count === 0 ? null : prev);
      if (broken) return { ok: false, ...broken, entries: count };
      return { ok: true, entries: count, head: count === 0 ? null : prev };
    }
  }

  // ---- chain

  private chainHead(state: AuditChainState): { seq: number; prevHash: string } {
    const anchor = this.parseAnchor(state.anchor);
    if (anchor) {
      // The anchor, not the highest row, is the head: a deleted tail then shows as a gap
      // instead of being papered over by the next append. Past a forged higher row, so the
      // insert never collides with it.
      return { seq: Math.max(anchor.seq, state.last?.seq ?? 0) + 1, prevHash: anchor.hash };
    }
    if (state.anchor === null && state.last === null) return { seq: 1, prevHash: GENESIS_HASH };
    return { seq: (state.last?.seq ?? 0) + 1, prevHash: LOST_HEAD_PREFIX + (state.last?.hash ?? GENESIS_HASH) };
  }

  private checkRow(row: AuditRow, prev: AuditHead): { firstBroken: number; reason: string } | null {
    const before = decodeJson(row.before);
    const after = decodeJson(row.after);
    if (!before.ok || !after.ok) return { firstBroken: row.seq, reason: `entry ${row.seq} was edited: its ${before.ok ? 'after' : 'before'} state is not valid JSON` };
    const fields = hashedFields(row, before.value, after.value);
    if (!this.hashMatches(row.prevHash, fields, row.hash)) {
      if (row.prevHash !== prev.hash && this.hashMatches(prev.hash, fields, row.hash)) {
        return { firstBroken: row.seq, reason: `entry ${row.seq} was edited: its prev_hash was changed` };
      }
      for (let d = 1; d <= MOVE_WINDOW; d++) {
        for (const s of [row.seq + d, row.seq - d]) {
          if (s >= 1 && this.hashMatches(row.prevHash, { ...fields, seq: s }, row.hash)) {
            return { firstBroken: row.seq, reason: `entry ${row.seq} holds the content of entry ${s}: entries were reordered or renumbered` };
          }
        }
      }
      return { firstBroken: row.seq, reason: `entry ${row.seq} does not match its hash: it was edited (or written without the audit key)` };
    }
    if (row.prevHash.startsWith(LOST_HEAD_PREFIX)) {
      return { firstBroken: row.seq, reason: `entry ${row.seq} was appended while the head anchor was missing or forged: entries before it may have been deleted` };
    }
    if (row.seq > prev.seq + 1) {
      const missing = prev.seq + 1 === row.seq - 1 ? `entry ${prev.seq + 1} is missing` : `entries ${prev.seq + 1} to ${row.seq - 1} are missing`;
      return { firstBroken: prev.seq + 1, reason: `${missing} (deleted): entry ${row.seq} ${prev.seq === 0 ? 'is the first stored' : `follows entry ${prev.seq}`}` };
    }
    if (row.prevHash !== prev.hash) {
      return { firstBroken: row.seq, reason: `entry ${row.seq} does not follow entry ${prev.seq} (prev_hash differs): entries were deleted, replaced or reordered` };
    }
    return null;
  }

  private checkAnchor(text: string | null, last: AuditHead | null): { firstBroken: number; reason: string } | null {
    const lastSeq = last?.seq ?? 0;
    if (text === null) {
      if (last === null) return null; // a trail that never had an entry
      return { firstBroken: lastSeq + 1, reason: `the head anchor is missing: the end of the trail cannot be confirmed, entries from ${lastSeq + 1} on may have been deleted` };
    }
    const anchor = this.parseAnchor(text);
    if (!anchor) return { firstBroken: lastSeq + 1, reason: `the head anchor was altered (it does not carry a valid MAC): entries from ${lastSeq + 1} on may have been deleted` };
    if (anchor.seq > lastSeq) {
      const missing = anchor.seq === lastSeq + 1 ? `entry ${anchor.seq} is missing` : `entries ${lastSeq + 1} to ${anchor.seq} are missing`;
      return { firstBroken: lastSeq + 1, reason: `${missing} (the tail was deleted): the head anchor says the trail ends at entry ${anchor.seq}, the last stored entry is ${lastSeq === 0 ? 'none' : lastSeq}` };
    }
    if (anchor.seq < lastSeq) {
      return { firstBroken: anchor.seq + 1, reason: `entries from ${anchor.seq + 1} on are not covered by the head anchor: it was rolled back to an older value` };
    }
    if (last && !safeEqual(anchor.hash, last.hash)) {
      return { firstBroken: lastSeq, reason: `entry ${lastSeq} is not the entry the head anchor names: it was replaced` };
    }
    return null;
  }

  private entryHash(prevHash: string, fields: HashedFields): string {
    return createHmac('sha256', this.key).update(prevHash).update(canonicalJson(fields)).digest('hex');
  }

  private hashMatches(prevHash: string, fields: HashedFields, hash: string): boolean {
    return safeEqual(this.entryHash(prevHash, fields), hash);
  }

  private anchorMac(h: AuditHead): string {
    // Its own label, so an anchor MAC can never pass for an entry hash or the other way round.
    return createHmac('sha256', this.key).update(`rollgate audit head\n${h.seq}\n${h.hash}`).digest('hex');
  }

  private anchorText(h: AuditHead): string {
    return JSON.stringify({ seq: h.seq, hash: h.hash, mac: this.anchorMac(h) });
  }

  /** The anchor when it parses and its MAC matches; null otherwise. */
  private parseAnchor(text: string | null): AuditHead | null {
    if (text === null) return null;
    try {
      const v = JSON.parse(text) as { seq?: unknown; hash?: unknown; mac?: unknown };
      if (typeof v.seq !== 'number' || !Number.isInteger(v.seq) || v.seq < 1 || typeof v.hash !== 'string' || typeof v.mac !== 'string') return null;
      const h = { seq: v.seq, hash: v.hash };
      return safeEqual(this.anchorMac(h), v.mac) ? h : null;
    } catch {
      return null;
    }
  }

  private async *rows(afterSeq: number): AsyncGenerator<AuditRow> {
    let after = afterSeq;
    for (;;) {
      const page = await this.store.list({ afterSeq: after, order: 'asc', limit: PAGE });
      for (const r of page) yield r;
      if (page.length < PAGE) return;
      after = page[page.length - 1]!.seq;
    }
  }
}

// ---- entry fields

interface HashedFields {
  seq: number;
  at: string;
  actor: string;
  action: string;
  target: string;
  source: AuditSource;
  outcome: string;
  before: unknown;
  after: unknown;
}

function hashedFields(r: Omit<AuditRow, 'hash' | 'prevHash' | 'before' | 'after'>, before: unknown, after: unknown): HashedFields {
  return {
    seq: r.seq,
    at: r.at,
    actor: r.actor,
    action: r.action,
    target: r.target,
    source: { address: r.sourceAddress, userAgent: r.sourceAgent },
    outcome: r.outcome,
    before,
    after,
  };
}

function entryFromRow(r: AuditRow): AuditEntry {
  const before = decodeJson(r.before);
  const after = decodeJson(r.after);
  return {
    // A row edited into invalid JSON is shown as the text it holds (verify reports it).
    ...hashedFields(r, before.ok ? before.value : r.before, after.ok ? after.value : r.after),
    outcome: r.outcome as AuditOutcome,
    prevHash: r.prevHash,
    hash: r.hash,
  };
}

function decodeJson(text: string | null): { ok: true; value: unknown } | { ok: false } {
  if (text === null) return { ok: true, value: null };
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    return { ok: false };
  }
}

/** Canonical JSON text of a state (null for none), or a stand-in naming its size and digest when too large. */
function stateText(v: unknown): string | null {
  if (v === undefined || v === null) return null;
  const text = canonicalJson(v);
  if (text === undefined) return null; // a function or symbol: nothing JSON can hold
  if (text.length <= MAX_STATE_CHARS) return text;
  return canonicalJson({ '[truncated]': true, chars: text.length, sha256: createHash('sha256').update(text).digest('hex') });
}

// ---- redaction

function normKey(k: string): string {
  return k.toLowerCase().replace(/[-_\s]/g, '');
}

/** A copy of `v` with the values of matching keys (normalized, exact or as a suffix) replaced by REDACTED. */
export function redact(v: unknown, keys: readonly string[], depth = 0, seen: WeakSet<object> = new WeakSet()): unknown {
  if (v === null || typeof v !== 'object') return typeof v === 'bigint' ? v.toString() : v;
  // Bytes may well be key material; never worth keeping in a trail.
  if (ArrayBuffer.isView(v) || v instanceof ArrayBuffer) return REDACTED;
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? null : v.toISOString();
  if (depth >= MAX_DEPTH) return '[too deep]';
  if (seen.has(v)) return '[circular]';
  seen.add(v);
  try {
    if (Array.isArray(v)) return v.map((x) => redact(x, keys, depth + 1, seen));
    if (v instanceof Map) return redact(Object.fromEntries(v), keys, depth + 1, seen);
    if (v instanceof Set) return redact([...v], keys, depth + 1, seen);
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      const n = normKey(k);
      out[k] = x !== null && x !== undefined && keys.some((r) => r !== '' && n.endsWith(r)) ? REDACTED : redact(x, keys, depth + 1, seen);
    }
    return out;
  } finally {
    seen.delete(v);
  }
}

// ---- text fields

/** One line, no control characters (nothing that could forge a log line or move a terminal cursor), bounded. */
function cleanText(s: unknown, max: number): string {
  // eslint-disable-next-line no-control-regex
  const one = String(s ?? '').replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, ' ').trim();
  return one.length > max ? `${one.slice(0, max - 1)}…` : one;
}

function cleanOptional(s: string | null | undefined, max: number): string | null {
  if (s === null || s === undefined) return null;
  const t = cleanText(s, max);
  return t === '' ? null : t;
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
