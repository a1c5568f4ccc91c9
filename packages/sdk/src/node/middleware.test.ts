// The node middleware against a real node:http server on loopback: the header names what the
// handler evaluated, is bounded, encodes names, and is never added after the head went out.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { compile } from '../engine/index.js';
import { FLAGS_HEADER, MAX_FLAG_PAIRS, MAX_FLAGS_HEADER_BYTES, currentEvaluations, flagsMiddleware, formatFlagsHeader, recordEvaluation, trackedEvaluator, withFlagTracking } from './index.js';

async function serve(handler: http.RequestListener): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((r) => server.close(() => r())) };
}

const evaluator = compile({
  version: 1,
  features: [
    { name: 'checkout', enabled: true, strategies: [{ name: 'default' }], variants: [{ name: 'control', weight: 500 }, { name: 'treatment', weight: 500, overrides: [{ contextName: 'userId', values: ['t1'] }] }] },
    { name: 'dark-mode', enabled: true, strategies: [{ name: 'userWithId', parameters: { userIds: 'alice' } }] },
  ],
});

test('wrapper form: isEnabled records on/off, getVariant the variant, awaited work included', async () => {
  const flags = trackedEvaluator(evaluator);
  const s = await serve(
    withFlagTracking(async (req, res) => {
      const userId = String(req.headers['x-user'] ?? '');
      flags.isEnabled('dark-mode', { userId });
      await new Promise((r) => setTimeout(r, 5));
      flags.getVariant('checkout', { userId });
      flags.isEnabled('checkout', { userId }); // on/off does not replace the variant name
      res.end('ok');
    }),
  );
  try {
    const a = await fetch(s.url, { headers: { 'x-user': 'alice' } });
    assert.equal(a.headers.get(FLAGS_HEADER), `dark-mode=on, checkout=${evaluator.getVariant('checkout', { userId: 'alice' }).name}`);
    const t = await fetch(s.url, { headers: { 'x-user': 't1' } });
    assert.equal(t.headers.get(FLAGS_HEADER), 'dark-mode=off, checkout=treatment');
  } finally {
    await s.close();
  }
});

test('connect form: (req, res, next), explicit writeHead with a header array, recordEvaluation', async () => {
  const mw = flagsMiddleware();
  const s = await serve((req, res) =>
    mw(req, res, () => {
      recordEvaluation('a,b=c', 'ünï code');
      assert.deepEqual(currentEvaluations(), { 'a,b=c': 'ünï code' });
      res.writeHead(201, ['content-type', 'text/plain']);
      res.end('made');
    }),
  );
  try {
    const r = await fetch(s.url);
    assert.equal(r.status, 201);
    assert.equal(r.headers.get('content-type'), 'text/plain');
    assert.equal(r.headers.get(FLAGS_HEADER), 'a%2Cb%3Dc=%C3%BCn%C3%AF%20code');
  } finally {
    await s.close();
  }
});

test('no evaluation: no header; outside a request recordEvaluation does nothing', async () => {
  recordEvaluation('x', 'y');
  assert.equal(currentEvaluations(), null);
  const s = await serve(withFlagTracking((_req, res) => res.end('plain')));
  try {
    const r = await fetch(s.url);
    assert.equal(r.headers.get(FLAGS_HEADER), null);
  } finally {
    await s.close();
  }
});

test('after the head was sent nothing is added (flushHeaders, then an evaluation)', async () => {
  const s = await serve(
    withFlagTracking((_req, res) => {
      res.flushHeaders();
      recordEvaluation('late', 'on');
      res.end('x');
    }),
  );
  try {
    const r = await fetch(s.url);
    assert.equal(r.headers.get(FLAGS_HEADER), null);
    assert.equal(await r.text(), 'x');
  } finally {
    await s.close();
  }
});

test('bounds: at most 16 pairs and 1 KiB, the rest counted in +N; lone surrogates do not throw', () => {
  const many = Array.from({ length: 40 }, (_, i) => [`flag-${i}`, 'on'] as const);
  const v = formatFlagsHeader(many) as string;
  const parts = v.split(', ');
  assert.equal(parts.length, MAX_FLAG_PAIRS + 1);
  assert.equal(parts.at(-1), `+${40 - MAX_FLAG_PAIRS}`);
  const long = Array.from({ length: 10 }, (_, i) => [`${'x'.repeat(300)}${i}`, 'v'] as const);
  const w = formatFlagsHeader(long) as string;
  assert.ok(w.length <= MAX_FLAGS_HEADER_BYTES);
  assert.match(w, /, \+7$/);
  assert.equal(formatFlagsHeader([['\uD800bad', 'on']]), '%EF%BF%BDbad=on');
  assert.equal(formatFlagsHeader([['x'.repeat(2000), 'on']]), '+1');
  assert.equal(formatFlagsHeader([]), null);
});
