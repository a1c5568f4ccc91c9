/**
 * The replay bound (pure) and the hub's shared reads: streams that open on the same range at
 * about the same time share one store read, and an event delivered between that read and a
 * later stream's opening still reaches that stream, once and in order.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { EventRecord } from '../core/domain.js';
import { RollgateError } from '../core/errors.js';
import { EventBus } from '../engine/events.js';
import { silentLogger } from '../engine/logger.js';
import type { NewEvent, Store } from '../store/types.js';
import { boundReplay } from './event-replay.js';
import { EventHub } from './event-hub.js';
import { MemorySink } from '../test/memory-sink.js';

const NOW = Date.parse('2024-05-01T12:00:00.000Z');
const ev = (id: number, minutesAgo: number): EventRecord => ({ id, at: new Date(NOW - minutesAgo * 60_000).toISOString(), type: 't', app: null, env: null, deploymentId: null, data: null });

test('boundReplay: whole when within bounds, cut by count from the old end, cut by age', () => {
  const bounds = { maxEvents: 3, maxAgeMs: 60 * 60_000 };
  const three = [ev(5, 3), ev(7, 2), ev(9, 1)];
  assert.deepEqual(boundReplay(4, three, bounds, NOW), { events: three, truncated: null });
  // maxEvents + 1 read: one more than the bound means some were cut.
  const four = [ev(2, 4), ...three];
  assert.deepEqual(boundReplay(0, four, bounds, NOW), { events: three, truncated: { requestedAfter: 0, resumedAfter: 2, reason: 'count' } });
  // Older than an hour: cut, even when the count allows them.
  const old = [ev(5, 120), ev(7, 61), ev(9, 1)];
  assert.deepEqual(boundReplay(1, old, bounds, NOW), { events: [ev(9, 1)], truncated: { requestedAfter: 1, resumedAfter: 7, reason: 'age' } });
  // Both: the age cut reaches further, so it is the reason.
  assert.deepEqual(boundReplay(0, [ev(1, 200), ...old], bounds, NOW).truncated, { requestedAfter: 0, resumedAfter: 7, reason: 'age' });
  // All too old: nothing to replay, and the marker says up to where.
  assert.deepEqual(boundReplay(0, [ev(3, 90)], bounds, NOW), { events: [], truncated: { requestedAfter: 0, resumedAfter: 3, reason: 'age' } });
});

test('hub: one store read for streams opening on the same range; an event between the read and a later stream reaches it once, in order', async () => {
  let nextId = 10;
  const fresh = (id: number): EventRecord => ({ ...ev(id, 0), at: new Date().toISOString() });
  const stored: EventRecord[] = [fresh(1), fresh(2)];
  const store = {
    appendEvent: async (e: NewEvent) => {
      const rec: EventRecord = { id: nextId++, at: new Date().toISOString(), type: e.type, app: null, env: null, deploymentId: null, data: e.data ?? null };
      stored.push(rec);
      return rec;
    },
  } as unknown as Store;
  const bus = new EventBus(store);
  let reads = 0;
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const hub = new EventHub(
    bus,
    async (after) => {
      reads++;
      const snapshot = stored.filter((e) => e.id > after);
      await gate;
      return snapshot;
    },
    silentLogger,
  );
  const a = hub.open(0, 'user:a');
  await bus.emit({ type: 'live-1' }); // delivered while a's read is in flight
  const b = hub.open(0, 'user:b');
  await bus.emit({ type: 'live-2' });
  release();
  const ids = (text: string) => [...text.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));
  const [ta, tb] = await Promise.all([a, b].map((s) => new MemorySink(s).until((t) => /event: live-2/.test(t))));
  assert.equal(reads, 1, 'one read shared');
  assert.doesNotMatch(ta!, /replay\.truncated/);
  assert.deepEqual(ids(ta!), [1, 2, 10, 11]);
  assert.deepEqual(ids(tb!), [1, 2, 10, 11], 'b gets live-1 although it opened after it was delivered');
  assert.equal(hub.openStreams, 2);
  hub.close();
  assert.equal(hub.openStreams, 0);
});

test('hub: past the server-wide cap a stream is refused with too_many_requests naming the limit; a closed one frees its slot', async () => {
  const store = { appendEvent: async () => ({}) } as unknown as Store;
  const hub = new EventHub(new EventBus(store), async () => [], silentLogger, { total: 2 });
  const a = hub.open(0, 'user:a');
  hub.open(0, 'user:b');
  assert.throws(
    () => hub.open(0, 'user:c'),
    (e: unknown) => e instanceof RollgateError && e.code === 'too_many_requests' && e.status === 429 && /2 event streams, its limit/.test(e.message) && /close other event streams/.test(e.message),
  );
  a.close('client');
  hub.open(0, 'user:c');
  assert.equal(hub.openStreams, 2);
  hub.close();
  assert.throws(() => new EventHub(new EventBus(store), async () => [], silentLogger, { perPrincipal: 0 }), /perPrincipal/);
});
