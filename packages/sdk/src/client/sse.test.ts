import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { readSse, type SseEvent } from './sse.js';

function streamOf(chunks: string[]): ReadableStream<Uint8Array> {
  const enc = new TextEncoder();
  return new ReadableStream({
    start(c) {
      for (const ch of chunks) c.enqueue(enc.encode(ch));
      c.close();
    },
  });
}

async function all(chunks: string[]): Promise<SseEvent[]> {
  const out: SseEvent[] = [];
  for await (const e of readSse(streamOf(chunks))) out.push(e);
  return out;
}

test('events with names, ids, multi-line data and heartbeats; any line ending', async () => {
  const text = ': hello\n\nevent: unleash-connected\nid: 3\ndata: {"a":\ndata: 1}\n\n: ping\r\nevent: unleash-updated\r\ndata: x\r\n\r\ndata:no-space\rretry: 500\r\r';
  assert.deepEqual(await all([text]), [
    { event: 'unleash-connected', data: '{"a":\n1}', id: '3' },
    { event: 'unleash-updated', data: 'x', id: '3' },
    { event: 'message', data: 'no-space', id: '3' },
  ]);
});

test('the same events whatever the chunk boundaries (also inside a UTF-8 character or a \\r\\n)', async () => {
  const text = 'event: a\ndata: é☃ü\r\n\r\nevent: b\ndata: 2\n\n';
  const want = await all([text]);
  const bytes = new TextEncoder().encode(text);
  await fc.assert(
    fc.asyncProperty(fc.uniqueArray(fc.integer({ min: 1, max: bytes.length - 1 }), { maxLength: 6 }), async (cuts) => {
      const points = [0, ...cuts.sort((x, y) => x - y), bytes.length];
      const parts = points.slice(1).map((p, i) => bytes.slice(points[i], p));
      const stream = new ReadableStream<Uint8Array>({
        start(c) {
          for (const p of parts) c.enqueue(p);
          c.close();
        },
      });
      const got: SseEvent[] = [];
      for await (const e of readSse(stream)) got.push(e);
      assert.deepEqual(got, want);
    }),
  );
});

test('an event not ended by a blank line when the stream ends is not delivered', async () => {
  assert.deepEqual(await all(['event: a\ndata: 1\n\nevent: b\ndata: 2\n']), [{ event: 'a', data: '1', id: undefined }]);
});
