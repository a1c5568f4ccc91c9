/**
 * GET /v1/events against the real server (real agent process, real store: SQLite and
 * PostgreSQL), with real users and tokens: the per-principal cap answers 429 and frees when a
 * stream closes; a replay past the bound starts with a replay.truncated marker; a small range is
 * replayed whole and in order; a client that does not read is cut off while the others go on.
 * The server runs with small bounds so the tests stay small; events are written to the store
 * beside the server (as another replica would), live ones come from API calls.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EventRecord } from '../core/domain.js';
import { ApiClient } from '../cli/client.js';
import { createToken, createUser } from '../cli/client-auth.js';
import { parseSse, type SseMessage } from '../cli/sse.js';
import { freePort } from '../demo/fixtures.js';
import { silentLogger } from '../engine/logger.js';
import { runServer, type RunningServer } from '../server/main.js';
import { openStore } from '../store/index.js';
import type { Store } from '../store/types.js';
import { withPostgres } from '../test/pg.js';
import { SplitPlatform, until } from '../test/split-platform.js';

const PER_PRINCIPAL = 2;
const REPLAY_MAX = 30;

interface Opened {
  status: number;
  /** Held: undici cancels the body of a fetch Response that is garbage collected. */
  res: Response;
  body: unknown;
  /** The next message (keep-alives are skipped by the parser). */
  next(): Promise<SseMessage>;
  close(): void;
}

async function openStream(base: string, token: string, where: { after?: number; lastEventId?: number } = {}): Promise<Opened> {
  const ac = new AbortController();
  const headers: Record<string, string> = { authorization: `Bearer ${token}`, accept: 'text/event-stream' };
  if (where.lastEventId !== undefined) headers['last-event-id'] = String(where.lastEventId);
  const q = where.after !== undefined ? `?after=${where.after}` : '';
  const res = await fetch(`${base}/v1/events${q}`, { headers, signal: ac.signal });
  if (!(res.headers.get('content-type') ?? '').includes('text/event-stream')) {
    const text = await res.text();
    return { status: res.status, res, body: JSON.parse(text) as unknown, next: () => Promise.reject(new Error('no stream')), close: () => undefined };
  }
  const it = parseSse(res.body as unknown as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
  return {
    status: res.status,
    res,
    body: null,
    async next() {
      const r = await it.next();
      if (r.done) throw new Error('the stream ended');
      return r.value;
    },
    close: () => ac.abort(),
  };
}

/** Messages until `n` of the given event type were seen (others, e.g. the platform's own events, are skipped). */
async function take(s: Opened, n: number, type: string): Promise<SseMessage[]> {
  const got: SseMessage[] = [];
  while (got.length < n) {
    const m = await s.next();
    if (m.event === type) got.push(m);
  }
  return got;
}

function eventsSuite(name: string, databaseUrl: () => string | undefined): void {
  describe(name, () => {
    let work: string;
    let platform: SplitPlatform;
    let server: RunningServer;
    let admin: ApiClient;
    let store: Store;
    const tokens: Record<string, string> = {};

    before(async () => {
      work = await mkdtemp(join(tmpdir(), 'rollgate-events-'));
      const dataDir = join(work, '.rollgate');
      platform = new SplitPlatform(dataDir);
      await platform.startAgent();
      const agent = await platform.agentConnection();
      const url = databaseUrl();
      server = await runServer({
        dataDir,
        port: await freePort(),
        agent,
        log: silentLogger,
        ...(url ? { databaseUrl: url } : {}),
        // A quicker beat than the default 15 s, so a stalled client is found in about two seconds
        // (not much quicker: the reading clients share this busy process with the server).
        eventStreams: { perPrincipal: PER_PRINCIPAL, replayMaxEvents: REPLAY_MAX, keepAliveMs: 1000, maxBufferedBytes: 256 * 1024 },
      });
      admin = new ApiClient(server.url, server.token!);
      store = await openStore(url ? { url } : { dataDir });
      for (const user of ['ann', 'bob', 'cid', 'dee', 'slow', 'fast']) {
        await createUser(admin, { name: user, roles: ['viewer'], generatePassword: true });
        tokens[user] = (await createToken(admin, { user, name: 'events', expires: '1d' })).token;
      }
    });

    after(async () => {
      await store?.close();
      await server?.stop();
      await platform?.stopAll();
      await rm(work, { recursive: true, force: true });
    });

    async function head(): Promise<number> {
      return (await store.listLatestEvents(0, 1))[0]?.id ?? 0;
    }

    async function append(type: string, n: number, data: (i: number) => unknown = (i) => ({ i })): Promise<EventRecord[]> {
      const out: EventRecord[] = [];
      for (let i = 0; i < n; i++) out.push(await store.appendEvent({ type, data: data(i) }));
      return out;
    }

    test('per principal: past the cap the next stream answers 429 naming the limit, and is let in once one closes', async () => {
      const mark = await head();
      const open = [await openStream(server.url, tokens.ann!, { after: mark }), await openStream(server.url, tokens.ann!, { after: mark })];
      for (const s of open) assert.equal(s.status, 200);
      const refused = await openStream(server.url, tokens.ann!, { after: mark });
      assert.equal(refused.status, 429);
      const err = (refused.body as { error: { code: string; message: string } }).error;
      assert.equal(err.code, 'too_many_requests');
      assert.match(err.message, /user:ann/);
      assert.match(err.message, new RegExp(`limit per principal is ${PER_PRINCIPAL}`));
      assert.match(err.message, /close other event streams/);
      // Another principal is not held back by ann's streams.
      const bob = await openStream(server.url, tokens.bob!, { after: mark });
      assert.equal(bob.status, 200);
      bob.close();

      open[0]!.close();
      const again = await until('a stream for ann once one of hers closed', async () => {
        const s = await openStream(server.url, tokens.ann!, { after: mark });
        return s.status === 200 ? s : null;
      });
      // The one that stayed open still works: a live event reaches both.
      await admin.applySpec({ apps: {}, environments: {} });
      for (const s of [open[1]!, again]) assert.equal((await take(s, 1, 'spec.applied')).length, 1);
      open[1]!.close();
      again.close();
    });

    test('a small range is replayed whole and in order, then live events follow; Last-Event-ID resumes', async () => {
      const mark = await head();
      const type = `small-${Date.now()}`;
      const stored = await append(type, 5);
      const s = await openStream(server.url, tokens.cid!, { after: mark });
      assert.equal(s.status, 200);
      const first = await s.next();
      assert.notEqual(first.event, 'replay.truncated', 'nothing was cut');
      const rest = first.event === type ? [first, ...(await take(s, 4, type))] : await take(s, 5, type);
      assert.deepEqual(rest.map((m) => Number(m.id)), stored.map((e) => e.id));
      assert.deepEqual(rest.map((m) => JSON.parse(m.data) as unknown), stored);
      await admin.applySpec({ apps: {}, environments: {} });
      const live = (await take(s, 1, 'spec.applied'))[0]!;
      assert.ok(Number(live.id) > stored[4]!.id);
      s.close();

      const resumed = await openStream(server.url, tokens.cid!, { lastEventId: stored[2]!.id });
      const next = await take(resumed, 2, type);
      assert.deepEqual(next.map((m) => Number(m.id)), [stored[3]!.id, stored[4]!.id]);
      resumed.close();
    });

    test('a replay past the bound starts with replay.truncated {requestedAfter, resumedAfter, reason}, then the newest events in order', async () => {
      const mark = await head();
      const type = `many-${Date.now()}`;
      const stored = await append(type, REPLAY_MAX + 20);
      const s = await openStream(server.url, tokens.dee!, { after: mark });
      const marker = await s.next();
      assert.equal(marker.event, 'replay.truncated');
      const skippedUpTo = stored[19]!.id;
      assert.deepEqual(JSON.parse(marker.data), { requestedAfter: mark, resumedAfter: skippedUpTo, reason: 'count' });
      assert.equal(marker.id, String(skippedUpTo), 'a reconnecting client resumes after the cut');
      const got = await take(s, REPLAY_MAX, type);
      assert.deepEqual(got.map((m) => Number(m.id)), stored.slice(20).map((e) => e.id));
      s.close();
    });

    test('bad resume ids are refused with 400 and open nothing', async () => {
      for (const bad of ['-1', '1.5', 'abc', '9'.repeat(20)]) {
        const res = await fetch(`${server.url}/v1/events?after=${encodeURIComponent(bad)}`, { headers: { authorization: `Bearer ${tokens.bob!}` } });
        assert.equal(res.status, 400, bad);
        assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'invalid_input');
      }
      // Three 400s later bob still has both of his slots.
      const mark = await head();
      const two = [await openStream(server.url, tokens.bob!, { after: mark }), await openStream(server.url, tokens.bob!, { after: mark })];
      assert.deepEqual(two.map((s) => s.status), [200, 200]);
      for (const s of two) s.close();
    });

    test('a client that does not read is cut off; a reading client of the same replay gets everything, then live events', async () => {
      const mark = await head();
      const type = `big-${Date.now()}`;
      // ~18 MB of replay: more than the socket buffers between the server and a stalled client.
      const pad = 'x'.repeat(600 * 1024);
      const stored = await append(type, REPLAY_MAX, (i) => ({ i, pad }));
      // These writes bypass this server's bus, and a replay read of the same range is shared for a
      // second (the bad-ids test read this very range): let that read expire first.
      await new Promise((r) => setTimeout(r, 1100));

      // The stalled client: sends its request, never reads the answer.
      const slowRes = await new Promise<IncomingMessage>((ok, fail) => {
        const req = httpRequest(`${server.url}/v1/events?after=${mark}`, { headers: { authorization: `Bearer ${tokens.slow!}` } }, ok);
        req.on('error', fail);
        req.end();
      });
      assert.equal(slowRes.statusCode, 200);
      const fast = await openStream(server.url, tokens.fast!, { after: mark });
      assert.equal(fast.status, 200);
      // fast reads all along.
      const fastGot = take(fast, REPLAY_MAX, type);

      // slow holds one of its two slots; the second is let in, a third waits for the cut-off.
      const second = await openStream(server.url, tokens.slow!, { after: await head() });
      assert.equal(second.status, 200);
      const third = await until('the stalled stream to be cut off (its slot freed)', async () => {
        const s = await openStream(server.url, tokens.slow!, { after: await head() });
        return s.status === 200 ? s : null;
      });

      const got = await fastGot;
      assert.deepEqual(got.map((m) => Number(m.id)), stored.map((e) => e.id));
      assert.equal((JSON.parse(got[REPLAY_MAX - 1]!.data) as { data: { pad: string } }).data.pad, pad, 'whole events, not cut');
      await admin.applySpec({ apps: {}, environments: {} });
      for (const [name, s] of Object.entries({ fast, second, third })) assert.equal((await take(s, 1, 'spec.applied').catch((e: Error) => assert.fail(`${name}: ${e.message}`))).length, 1);

      // Reading now, the stalled client finds its stream ended before the replay did.
      const seen = await new Promise<number>((ok) => {
        const chunks: Buffer[] = [];
        const done = () => ok(Buffer.concat(chunks).toString('latin1').split(`\nevent: ${type}\n`).length - 1);
        slowRes.on('data', (b: Buffer) => chunks.push(b));
        slowRes.once('end', done);
        slowRes.once('error', done);
        slowRes.once('close', done);
      });
      assert.ok(seen < REPLAY_MAX, `the stalled client got ${seen} of ${REPLAY_MAX} replayed events: it was cut off`);
      for (const s of [fast, second, third]) s.close();
    });
  });
}

eventsSuite('event streams on SQLite', () => undefined);

await withPostgres('event streams on PostgreSQL', (db) => {
  eventsSuite('event streams on PostgreSQL', () => db.url);
  after(() => db.drop());
});
