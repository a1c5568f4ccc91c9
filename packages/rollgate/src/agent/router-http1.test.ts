import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ChunkedDecoder, parseResponseHead, type ResponseHead } from './router-http1.js';

function head(text: string): ResponseHead {
  const h = parseResponseHead(text);
  if (typeof h === 'string') throw new Error(h);
  return h;
}

describe('parseResponseHead', () => {
  test('status, reason, end-to-end fields kept, hop-by-hop removed', () => {
    const h = head('HTTP/1.1 201 Created\r\nContent-Length: 12\r\nConnection: keep-alive, X-Hop\r\nKeep-Alive: timeout=5\r\nX-Hop: 1\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nTrailer: x\r\nProxy-Connection: close');
    assert.equal(h.status, 201);
    assert.equal(h.reason, 'Created');
    assert.deepEqual(h.headers, ['Content-Length', '12', 'Set-Cookie', 'a=1', 'Set-Cookie', 'b=2']);
    assert.equal(h.contentLength, 12);
    assert.equal(h.keepAliveMs, 5000);
    assert.equal(h.close, false);
    assert.equal(h.chunked, false);
  });

  test('framing: chunked wins over content-length and forces close; no length means until close', () => {
    const both = head('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5');
    assert.equal(both.chunked, true);
    assert.equal(both.contentLength, -1);
    assert.equal(both.close, true);
    assert.deepEqual(both.headers, []);
    const eof = head('HTTP/1.1 200 OK\r\nX: y');
    assert.equal(eof.untilClose, true);
    assert.equal(eof.close, false); // the connection layer closes only when a body is actually read to the end
    assert.equal(head('HTTP/1.0 200 OK\r\nContent-Length: 1').close, true);
    assert.equal(head('HTTP/1.0 200 OK\r\nContent-Length: 1\r\nConnection: keep-alive').close, false);
    assert.equal(head('HTTP/1.1 204 No Content').status, 204);
    assert.equal(head('HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 3').headers.length, 2);
  });

  test('rejects malformed heads', () => {
    for (const bad of [
      'HTTP/2 200 OK',
      'HTTP/1.1 20 OK',
      'HTTP/1.1 2000 OK',
      'HTTP/1.1 200 OK\r\n folded',
      'HTTP/1.1 200 OK\r\nNoColon',
      'HTTP/1.1 200 OK\r\nName : v',
      'HTTP/1.1 200 OK\r\nContent-Length: -1',
      'HTTP/1.1 200 OK\r\nContent-Length: 1x',
      'HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2',
    ]) {
      assert.equal(typeof parseResponseHead(bad), 'string', bad);
    }
  });
});

function decodeIn(parts: Buffer[]): { data: string; used: number[]; done: boolean } {
  const dec = new ChunkedDecoder();
  const out: Buffer[] = [];
  const used: number[] = [];
  for (const p of parts) {
    if (dec.done) break;
    used.push(dec.execute(p, { onBodyData: (c) => (out.push(Buffer.from(c)), true) }));
  }
  return { data: Buffer.concat(out).toString(), used, done: dec.done };
}

describe('ChunkedDecoder', () => {
  const wire = Buffer.from('5;ext=1\r\nhello\r\nA\r\n0123456789\r\n0\r\nX-Trailer: t\r\n\r\nNEXT');

  test('decodes data, skips extensions and trailers, stops at the end', () => {
    const r = decodeIn([wire]);
    assert.equal(r.data, 'hello0123456789');
    assert.equal(r.done, true);
    assert.equal(r.used[0], wire.length - 4);
  });

  test('gives the same result however the bytes are split', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: wire.length - 1 }), { maxLength: 8 }), (cuts) => {
        const points = [...new Set(cuts)].sort((a, b) => a - b);
        const parts: Buffer[] = [];
        let prev = 0;
        for (const p of points) {
          parts.push(wire.subarray(prev, p));
          prev = p;
        }
        parts.push(wire.subarray(prev));
        const r = decodeIn(parts);
        assert.equal(r.data, 'hello0123456789');
        assert.equal(r.done, true);
      }),
      { numRuns: 300 },
    );
  });

  test('rejects malformed framing', () => {
    for (const bad of ['zz\r\n', '5\r\nhelloXX', '\r\n', '3\nabc']) {
      assert.equal(new ChunkedDecoder().execute(Buffer.from(bad), { onBodyData: () => true }), -1, bad);
    }
  });
});
