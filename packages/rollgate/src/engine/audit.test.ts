/**
 * The audit trail's own rules, on a real SQLite store: redaction (by key name, before hashing or
 * storing), text hygiene, canonical hashing, size bounds, export, the key, and the mapping of
 * platform events. The chain under concurrency and tampering is in test/store-audit.suite.ts.
 */
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { finished } from 'node:stream/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import type { EventRecord } from '../core/domain.js';
import { RollgateError } from '../core/errors.js';
import { KyselyStore, openStore } from '../store/index.js';
import type { Store } from '../store/types.js';
import { AuditTrail, MAX_STATE_CHARS, REDACTED, deriveAuditKey, redact } from './audit.js';
import { SYSTEM_ACTOR, eventToAudit, feedAuditFromEvents } from './audit-hooks.js';
import { EventBus } from './events.js';

let dir: string;
let store: Store;
let trail: AuditTrail;
const key = randomBytes(32);

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'rollgate-audit-'));
  store = await openStore({ dataDir: join(dir, 'data') });
  trail = new AuditTrail(store, key);
});

after(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

function uid(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

describe('redaction', () => {
  test('always-secret keys, in any case or spelling, at any depth, also as a suffix', () => {
    const keys = ['password', 'token', 'secret', 'privatekey', 'authorization'];
    const out = redact(
      {
        password: 'p',
        Password: 'p',
        db_password: 'p',
        'api-token': 't',
        apiToken: 't',
        clientSecret: 's',
        private_key: 'k',
        headers: { Authorization: 'Bearer x', accept: 'json' },
        list: [{ token: 't', name: 'ok' }, 'plain'],
        tokens: 3,
        tokenId: 'tok-1',
        secrets: ['DB_URL'],
        nothing: null,
      },
      keys,
    );
    assert.deepEqual(out, {
      password: REDACTED,
      Password: REDACTED,
      db_password: REDACTED,
      'api-token': REDACTED,
      apiToken: REDACTED,
      clientSecret: REDACTED,
      private_key: REDACTED,
      headers: { Authorization: REDACTED, accept: 'json' },
      list: [{ token: REDACTED, name: 'ok' }, 'plain'],
      // Not secrets: a count, an id, a list of names; and null stays null (nothing to hide).
      tokens: 3,
      tokenId: 'tok-1',
      secrets: ['DB_URL'],
      nothing: null,
    });
  });

  test('bytes are never kept; maps, sets, dates and cycles come out as plain JSON', () => {
    const cyclic: Record<string, unknown> = { name: 'a' };
    cyclic.self = cyclic;
    const out = redact({ key: Buffer.from('k3y'), m: new Map<string, unknown>([['password', 'x'], ['ok', 1]]), s: new Set([1, 2]), at: new Date('2024-01-02T03:04:05Z'), cyclic, big: 10n }, ['password']);
    assert.deepEqual(out, { key: REDACTED, m: { password: REDACTED, ok: 1 }, s: [1, 2], at: '2024-01-02T03:04:05.000Z', cyclic: { name: 'a', self: '[circular]' }, big: '10' });
  });

  test('record: `value` is redacted in secret entries only, extra keys on request, and the database never holds the plaintext', async () => {
    const plain = `pl41n-${randomBytes(8).toString('hex')}`;
    const actor = uid('alice');
    const s = await trail.record({ actor, action: 'secret.rotate', target: 'app/shop/env/production/secret/API_KEY', before: { version: 3, value: plain }, after: { version: 4, value: plain } });
    assert.deepEqual([s.before, s.after], [{ version: 3, value: REDACTED }, { version: 4, value: REDACTED }]);
    const f = await trail.record({ actor, action: 'flag.set', target: 'flag/checkout', after: { value: true, webhookKey: plain }, redact: ['webhookKey'] });
    assert.deepEqual(f.after, { value: true, webhookKey: REDACTED }, 'a flag value is no secret; the named extra key is');
    const u = await trail.record({ actor, action: 'user.create', target: 'user/bob', after: { name: 'bob', role: 'viewer', password: plain, session: { cookie: plain } } });
    assert.deepEqual(u.after, { name: 'bob', role: 'viewer', password: REDACTED, session: { cookie: REDACTED } });

    // Force everything to the main file, then look at every byte the database keeps.
    assert.ok(store instanceof KyselyStore);
    await sql`pragma wal_checkpoint(truncate)`.execute(store.db);
    for (const f of readdirSync(join(dir, 'data'))) {
      assert.ok(!readFileSync(join(dir, 'data', f)).includes(plain), `${f} holds no plaintext`);
    }
  });
});

describe('record', () => {
  test('text fields are one line, without control characters, and bounded', async () => {
    const e = await trail.record({
      actor: 'eve\n2024-01-01 admin did nothing\u001b[2J',
      action: 'settings.change',
      target: 'x'.repeat(2000),
      source: { address: ' 10.1.2.3 ', userAgent: 'curl/8\r\nX-Injected: 1' },
    });
    assert.equal(e.actor, 'eve 2024-01-01 admin did nothing [2J');
    assert.equal(e.target.length, 500);
    assert.ok(e.target.endsWith('…'));
    assert.deepEqual(e.source, { address: '10.1.2.3', userAgent: 'curl/8  X-Injected: 1' });
  });

  test('a malformed action or outcome is a programming error, and nothing is written', async () => {
    const actor = uid('bob');
    for (const action of ['Deploy', 'deployment', 'deployment.', 'a..b', 'x.y z']) {
      await assert.rejects(trail.record({ actor, action, target: 't' }), (e) => e instanceof RollgateError && e.code === 'internal' && /noun\.verb/.test(e.message));
    }
    await assert.rejects(trail.record({ actor, action: 'a.b', target: 't', outcome: 'maybe' as never }), /outcome/);
    assert.deepEqual(await trail.list({ actor }), []);
  });

  test('states are stored as canonical JSON: key order does not matter', async () => {
    const actor = uid('carol');
    const e = await trail.record({ actor, action: 'spec.apply', target: 'spec', after: { b: 1, a: { d: [2, { z: 1, y: 2 }], c: undefined } } });
    assert.ok(store instanceof KyselyStore);
    const row = await store.db.selectFrom('audit_log').select(['after']).where('seq', '=', e.seq).executeTakeFirstOrThrow();
    assert.equal(row.after, '{"a":{"d":[2,{"y":2,"z":1}]},"b":1}');
    assert.equal((await trail.verify()).ok, true);
  });

  test('a state too large is replaced by its size and digest', async () => {
    const e = await trail.record({ actor: uid('dave'), action: 'spec.apply', target: 'spec', after: { blob: 'x'.repeat(MAX_STATE_CHARS) } });
    const after = e.after as Record<string, unknown>;
    assert.equal(after['[truncated]'], true);
    assert.equal(after.chars, MAX_STATE_CHARS + '{"blob":""}'.length);
    assert.match(String(after.sha256), /^[0-9a-f]{64}$/);
    assert.equal((await trail.verify()).ok, true);
  });

  test('the key must be real: too short is refused; the derived key is stable and its own', () => {
    assert.throws(() => new AuditTrail(store, Buffer.alloc(8)), /at least 16 bytes/);
    const master = randomBytes(32);
    const k = deriveAuditKey(master);
    assert.equal(k.length, 32);
    assert.deepEqual(deriveAuditKey(master), k);
    assert.notDeepEqual(k, master);
    assert.notDeepEqual(deriveAuditKey(randomBytes(32)), k);
  });
});

describe('export and an empty trail', () => {
  test('exportJsonl writes every entry, oldest first, one JSON line each', async () => {
    await trail.record({ actor: uid('erin'), action: 'token.create', target: 'token/t1', after: { role: 'viewer', token: 'rg_secret' } });
    const file = join(dir, 'audit.jsonl');
    const out = createWriteStream(file);
    const n = await trail.exportJsonl(out);
    out.end();
    await finished(out);
    const lines = readFileSync(file, 'utf8').split('\n');
    assert.equal(lines.pop(), '', 'ends with a newline');
    assert.equal(lines.length, n);
    const all = lines.map((l) => JSON.parse(l) as { seq: number; prevHash: string; hash: string });
    assert.deepEqual(all, await trail.list({ afterSeq: 0, limit: 1000 }));
    for (let i = 1; i < all.length; i++) assert.equal(all[i]!.prevHash, all[i - 1]!.hash);
    assert.ok(!readFileSync(file, 'utf8').includes('rg_secret'));
  });

  test('a trail with no entries verifies', async () => {
    const empty = await openStore({ dataDir: join(dir, 'empty') });
    try {
      assert.deepEqual(await new AuditTrail(empty, key).verify(), { ok: true, entries: 0, head: null });
    } finally {
      await empty.close();
    }
  });
});

describe('platform events', () => {
  const ev = (type: string, data: unknown, extra: Partial<EventRecord> = {}): EventRecord => ({ id: 1, at: '2024-05-01T10:00:00.000Z', type, app: 'shop', env: 'production', deploymentId: null, data, ...extra });

  test('changes map to entries; progress does not', () => {
    const dep = { deploymentId: 'dep-1' };
    const cases: [EventRecord, { actor: string; action: string; target: string; outcome?: string } | null][] = [
      [ev('deployment.created', { version: '1.2', kind: 'deploy', previousVersion: '1.1' }, dep), { actor: SYSTEM_ACTOR, action: 'deployment.create', target: 'deployment/dep-1' }],
      [ev('deployment.promote', { actor: 'token:alice' }, dep), { actor: 'token:alice', action: 'deployment.promote', target: 'deployment/dep-1' }],
      [ev('deployment.abort', { actor: 'bob' }, dep), { actor: 'bob', action: 'deployment.abort', target: 'deployment/dep-1' }],
      [ev('deployment.reverting', { message: 'error rate', status: 'rolled_back' }, dep), { actor: SYSTEM_ACTOR, action: 'deployment.revert', target: 'deployment/dep-1' }],
      [ev('deployment.finished', { status: 'rolled_back', version: '1.2' }, dep), { actor: SYSTEM_ACTOR, action: 'deployment.finish', target: 'deployment/dep-1', outcome: 'failed' }],
      [ev('deployment.finished', { status: 'succeeded', version: '1.2' }, dep), { actor: SYSTEM_ACTOR, action: 'deployment.finish', target: 'deployment/dep-1', outcome: 'ok' }],
      [ev('pipeline.approved', { runId: 'run-1', stage: 'prod', actor: 'carol', reason: null }), { actor: 'carol', action: 'pipeline.approve', target: 'run/run-1' }],
      [ev('pipeline.rejected', { runId: 'run-1', stage: 'prod', actor: 'carol' }), { actor: 'carol', action: 'pipeline.reject', target: 'run/run-1' }],
      [ev('pipeline.queued', { runId: 'run-2', actor: 'dave', trigger: 'cli' }), { actor: 'dave', action: 'pipeline.run', target: 'run/run-2' }],
      [ev('chaos.started', { id: 'chaos-1', kind: 'fault', actor: 'erin' }), { actor: 'erin', action: 'chaos.start', target: 'chaos/chaos-1' }],
      [ev('chaos.stopped', { id: 'chaos-1', kind: 'fault', reason: 'expired' }), { actor: SYSTEM_ACTOR, action: 'chaos.stop', target: 'chaos/chaos-1' }],
      [ev('incident.opened', { id: 'inc-1', source: 'rollback' }), { actor: SYSTEM_ACTOR, action: 'incident.open', target: 'incident/inc-1' }],
      [ev('incident.resolved', { id: 'inc-1', resolvedBy: 'frank' }), { actor: 'frank', action: 'incident.resolve', target: 'incident/inc-1' }],
      [ev('spec.applied', { apps: ['shop'], actor: 'token:admin' }, { app: null, env: null }), { actor: 'token:admin', action: 'spec.apply', target: 'spec' }],
      [ev('release.created', { version: '1.2', releaseId: 'r1' }), { actor: SYSTEM_ACTOR, action: 'release.create', target: 'app/shop/release/1.2' }],
      [ev('deployment.progress', { message: 'step 2' }, dep), null],
      [ev('deployment.step', { stepIndex: 1 }, dep), null],
      [ev('instance.changed', { instance: 'i1' }), null],
      [ev('traffic.changed', { weights: {} }), null],
      [ev('analysis.updated', {}), null],
      [ev('pipeline.stage.finished', { runId: 'run-1' }), null],
    ];
    for (const [e, want] of cases) {
      const got = eventToAudit(e);
      if (want === null) {
        assert.equal(got, null, e.type);
        continue;
      }
      assert.ok(got, e.type);
      assert.deepEqual({ actor: got.actor, action: got.action, target: got.target, ...(want.outcome ? { outcome: got.outcome } : {}) }, want, e.type);
      assert.ok(!('actor' in (got.after as object)), 'the actor is not repeated in the state');
    }
    assert.deepEqual(eventToAudit(ev('deployment.created', { version: '1.2', kind: 'deploy', previousVersion: null }, { deploymentId: 'd' }))?.after, {
      app: 'shop',
      env: 'production',
      version: '1.2',
      kind: 'deploy',
      previousVersion: null,
    });
  });

  test('feedAuditFromEvents records mapped events from a live bus, in order, and stops cleanly', async () => {
    const bus = new EventBus(store);
    const actor = uid('gina');
    const errors: unknown[] = [];
    const feed = feedAuditFromEvents(bus, trail, { onError: (e) => errors.push(e) });
    await bus.emit({ type: 'chaos.started', app: 'shop', env: 'staging', data: { id: 'c1', kind: 'fault', actor } });
    await bus.emit({ type: 'deployment.progress', app: 'shop', env: 'staging', data: { message: 'x' } });
    await bus.emit({ type: 'chaos.stopped', app: 'shop', env: 'staging', data: { id: 'c1', kind: 'fault', reason: 'stopped', actor } });
    await feed.stop();
    await bus.emit({ type: 'chaos.started', app: 'shop', env: 'staging', data: { id: 'c2', kind: 'fault', actor } });
    assert.deepEqual(errors, []);
    const got = await trail.list({ actor });
    assert.deepEqual(got.map((e) => [e.action, e.target]), [['chaos.stop', 'chaos/c1'], ['chaos.start', 'chaos/c1']], 'newest first; nothing after stop');
  });
});
