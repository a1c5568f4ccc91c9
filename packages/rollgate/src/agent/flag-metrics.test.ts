// The router's side of the flags header in isolation: the parser takes the field out of the
// relayed head (every spelling, several fields joined), the upgrade head likewise, and the
// per-service counters key pairs by name, count what they are told and stay bounded.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { FlagCounters, MAX_TRACKED_PAIRS } from './flag-metrics.js';
import { parseResponseHead, type ResponseHead } from './router-http1.js';
import { takeFlagsField } from './upgrade-head.js';

const head = (text: string) => parseResponseHead(text) as ResponseHead;

describe('rollgate-flags in response heads', () => {
  test('taken out of the relayed fields, any case, several fields joined; absent: null', () => {
    const h = head('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nRollgate-Flags: a=on\r\nX: y\r\nrollgate-flags: b=treatment');
    assert.deepEqual(h.headers, ['Content-Length', '2', 'X', 'y']);
    assert.equal(h.flags, 'a=on, b=treatment');
    assert.equal(head('HTTP/1.1 304 Not Modified\r\nETag: "x"').flags, null);
  });

  test('upgrade heads: the field out, everything else byte for byte', () => {
    const raw = 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nROLLGATE-FLAGS : a=on\r\nConnection: Upgrade';
    assert.deepEqual(takeFlagsField(raw), { head: 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade', flags: 'a=on' });
    assert.deepEqual(takeFlagsField('HTTP/1.1 101 x\r\nx-rollgate-flags: no'), { head: 'HTTP/1.1 101 x\r\nx-rollgate-flags: no', flags: null });
  });
});

describe('FlagCounters', () => {
  test('counts each named pair: status class, latency, cut-short; one pair whatever its percent-encoding', () => {
    const f = new FlagCounters();
    f.observe('checkout=treatment, dark%2Dmode=on', 200, 3, false);
    f.observe('checkout=treatmen%74', 503, 30, false);
    f.observe('checkout=treatment', 200, 7, true);
    const s = f.snapshot();
    assert.equal(s.pairs.length, 2);
    const t = s.pairs.find((p) => p.flag === 'checkout')!;
    assert.equal(t.variant, 'treatment');
    assert.equal(t.metrics.requests, 3);
    assert.equal(t.metrics.byClass['5xx'], 1);
    assert.equal(t.metrics.cutShort, 1);
    assert.equal(t.metrics.latency.count, 3);
    assert.equal(s.pairs.find((p) => p.flag === 'dark-mode')?.variant, 'on');
  });

  test('bounded: beyond the table, pairs are dropped (counted), tracked ones go on counting', () => {
    const f = new FlagCounters();
    for (let i = 0; i < 3000; i++) f.observe(`f${i}=on, keep=on`, 200, 1, false);
    const s = f.snapshot();
    assert.equal(s.pairs.length, MAX_TRACKED_PAIRS);
    assert.equal(s.droppedPairs, 3000 - (MAX_TRACKED_PAIRS - 1));
    assert.equal(s.pairs.find((p) => p.flag === 'keep')?.metrics.requests, 3000);
  });

  test('malformed items and headers are counted and change no pair; +N markers are summed', () => {
    const f = new FlagCounters();
    for (const h of ['%E0%A4%A=on', 'noequals', '=on', 'f=', 'a=b=c', 'x'.repeat(5000), Array.from({ length: 40 }, (_, i) => `m${i}=on`).join(','), `${'y'.repeat(201)}=on`, '+abc']) f.observe(h, 200, 1, false);
    f.observe('ok=on, +7', 200, 1, false);
    const s = f.snapshot();
    assert.equal(s.malformed, 9);
    assert.equal(s.appDropped, 7);
    assert.deepEqual(s.pairs.map((p) => p.flag), ['ok']);
  });
});
