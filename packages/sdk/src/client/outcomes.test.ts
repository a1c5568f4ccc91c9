// Request outcomes per flag variant: counted by class and latency into a cumulative histogram,
// bounded in pairs, taken once, and put back whole after a failed report; recorded by the Node
// middleware for real responses (finished, and cut short by the client going away).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { MAX_OUTCOME_PAIRS, OUTCOME_LATENCY_BOUNDS_MS, Outcomes } from './outcomes.js';
import { recordEvaluation, withFlagTracking } from '../node/index.js';

test('counts by status class and latency bucket; the histogram is cumulative and ends at the request count', () => {
  const o = new Outcomes();
  o.recordOutcome([['f', 'on']], 200, 3, false);
  o.recordOutcome([['f', 'on']], 503, 30_000, false);
  o.recordOutcome([['f', 'on'], ['g', 'blue']], 204, 0.5, true);
  const b = o.take()!;
  const f = b.pairs.find((p) => p.flag === 'f')!;
  assert.deepEqual([f.requests, f.byClass, f.cutShort], [3, { '2xx': 2, '5xx': 1 }, 1]);
  assert.deepEqual(f.latency.boundsMs, [...OUTCOME_LATENCY_BOUNDS_MS]);
  assert.equal(f.latency.counts.length, OUTCOME_LATENCY_BOUNDS_MS.length + 1);
  assert.equal(f.latency.counts[0], 1, '0.5 ms is in the first bucket');
  assert.equal(f.latency.counts[2], 2, '3 ms is at or below 5 ms');
  assert.equal(f.latency.counts.at(-1), 3, '+Inf holds every request');
  assert.equal(f.latency.count, 3);
  assert.equal(o.take(), null, 'taken once');
});

test('bounded: pairs beyond the maximum are dropped and counted', () => {
  const o = new Outcomes();
  for (let i = 0; i < MAX_OUTCOME_PAIRS + 5; i++) o.recordOutcome([[`f${i}`, 'on']], 200, 1, false);
  const b = o.take()!;
  assert.equal(b.pairs.length, MAX_OUTCOME_PAIRS);
  assert.equal(b.droppedPairs, 5);
});

test('a failed report is put back whole and merges with what came after', () => {
  const o = new Outcomes();
  o.recordOutcome([['f', 'on']], 500, 7, false);
  const first = o.take()!;
  o.recordOutcome([['f', 'on']], 200, 700, false);
  o.restore(first);
  const b = o.take()!;
  const f = b.pairs[0]!;
  assert.deepEqual([f.requests, f.byClass, f.latency.count, f.latency.counts.at(-1)], [2, { '5xx': 1, '2xx': 1 }, 2, 2]);
  assert.equal(f.latency.sumMs, 707);
  assert.equal(f.latency.counts[OUTCOME_LATENCY_BOUNDS_MS.indexOf(10)], 1, 'the 7 ms request is back in its bucket');
});

test('the middleware records each real response against the variants it was served with', async () => {
  const o = new Outcomes();
  const server = http.createServer(
    withFlagTracking(
      (req, res) => {
        recordEvaluation('checkout', req.url === '/fail' ? 'treatment' : 'control');
        if (req.url === '/hang') {
          res.write('partial');
          return; // never ends: the client goes away
        }
        res.statusCode = req.url === '/fail' ? 500 : 200;
        res.end('x');
      },
      { outcomes: o },
    ),
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    await (await fetch(`${url}/ok`)).text();
    await (await fetch(`${url}/fail`)).text();
    const ac = new AbortController();
    const hang = await fetch(`${url}/hang`, { signal: ac.signal });
    const reader = hang.body!.getReader();
    await reader.read();
    ac.abort();
    await reader.read().catch(() => undefined);
    for (let i = 0; i < 100 && (o as unknown as { pairs: Map<string, { requests: number }> }).pairs.get('checkout\u0000control')?.requests !== 2; i++) await new Promise((r) => setTimeout(r, 20));
    const b = o.take()!;
    const byVariant = Object.fromEntries(b.pairs.map((p) => [p.variant, p]));
    assert.deepEqual(byVariant.treatment?.byClass, { '5xx': 1 });
    assert.equal(byVariant.control?.requests, 2);
    assert.equal(byVariant.control?.cutShort, 1, 'the response the client left is cut short');
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});
