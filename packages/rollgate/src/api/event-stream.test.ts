/**
 * EventStream on its own (a sink in memory) and as a response where no Node response is at
 * hand (the ReadableStream body): a frame is written at once, as the very Buffer every stream
 * shares; behind a full connection frames wait, in order, until it drains; past the bound, or
 * stalled for two beats, the client is cut off; an idle stream gets keep-alives.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Hono } from 'hono';
import { EventStream, type CloseReason } from './event-stream.js';
import { KEEP_ALIVE, type Frame } from './event-replay.js';
import { eventStreamResponse } from './stream-response.js';
import { MemorySink } from '../test/memory-sink.js';

const frame = (id: number, size = 10): Frame => ({ id, bytes: Buffer.from(`id: ${id}\ndata: ${'x'.repeat(size)}\n\n`), live: true });

function open(maxBufferedBytes = 1000) {
  const closes: { reason: CloseReason; buffered: number }[] = [];
  const stream = new EventStream({ after: 0, maxBufferedBytes, onClose: (reason, buffered) => closes.push({ reason, buffered }) });
  stream.startReplay([], []);
  return { stream, closes };
}

test('a frame goes to the connection at once, the same Buffer for every stream; a frame already sent (by id) is not sent again', () => {
  const a = open();
  const b = open();
  const sa = new MemorySink(a.stream);
  const sb = new MemorySink(b.stream);
  const f = frame(1);
  a.stream.push(f);
  b.stream.push(f);
  assert.equal(sa.chunks[0], f.bytes, 'not copied');
  assert.equal(sb.chunks[0], f.bytes);
  a.stream.push(f);
  assert.equal(sa.chunks.length, 1);
});

test('behind a full connection frames wait, in order, and go out when it drains; the stream stays open below its bound', () => {
  const { stream, closes } = open(1000);
  const sink = new MemorySink(stream);
  sink.fill();
  stream.push(frame(1)); // taken, the connection answers "full"
  stream.push(frame(2));
  stream.push(frame(3));
  assert.equal(sink.chunks.length, 1, 'nothing more written while full');
  assert.equal(stream.bufferedBytes, frame(1).bytes.length * 3, 'what waits here and what the connection holds');
  sink.drain();
  assert.deepEqual([...sink.text.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1])), [1, 2, 3]);
  assert.equal(stream.bufferedBytes, 0);
  assert.deepEqual(closes, []);
});

test('past the bound of waiting bytes the client is dropped as slow, at once, and what it held is reported', () => {
  const { stream, closes } = open(100);
  const sink = new MemorySink(stream);
  sink.fill();
  stream.push(frame(1, 60));
  stream.push(frame(2, 60));
  assert.equal(stream.isClosed, false);
  stream.push(frame(3, 60));
  assert.equal(stream.isClosed, true);
  assert.equal(sink.dropped, 'slow');
  assert.equal(closes.length, 1);
  assert.equal(closes[0]!.reason, 'slow');
  assert.ok(closes[0]!.buffered > 100);
  stream.push(frame(4));
  assert.equal(sink.chunks.length, 1, 'nothing written after the close');
});

test('a stalled connection is cut off after two beats without progress; an idle one gets a keep-alive each beat', () => {
  const idle = open();
  const idleSink = new MemorySink(idle.stream);
  idle.stream.tick(KEEP_ALIVE);
  idle.stream.tick(KEEP_ALIVE);
  assert.equal(idleSink.text, ': keep-alive\n\n: keep-alive\n\n');

  const { stream, closes } = open();
  const sink = new MemorySink(stream);
  sink.fill();
  stream.push(frame(1));
  stream.tick(KEEP_ALIVE); // progress since the last beat: the write
  stream.tick(KEEP_ALIVE);
  assert.equal(stream.isClosed, false);
  stream.tick(KEEP_ALIVE);
  assert.equal(stream.isClosed, true);
  assert.deepEqual(closes.map((c) => c.reason), ['slow']);
});

test('without a Node response (app.request) the stream is a ReadableStream body; cancelling it closes the stream as the client', async () => {
  const { stream, closes } = open();
  const app = new Hono().get('/s', (c) => eventStreamResponse(c, stream));
  const res = await app.request('/s');
  assert.equal(res.headers.get('content-type'), 'text/event-stream');
  stream.push(frame(7));
  const reader = res.body!.getReader();
  const first = await reader.read();
  assert.match(Buffer.from(first.value!).toString(), /^id: 7\n/);
  await reader.cancel();
  assert.deepEqual(closes.map((c) => c.reason), ['client']);
});
