/**
 * An EventStream as the HTTP response. Under @hono/node-server (the server's one runtime) the
 * frames are written straight to the Node response (`c.env.outgoing`): no web ReadableStream
 * and pipe per stream, which is what a change's fan-out to thousands of streams spent its time
 * on (issue 11). The response's own buffer is the backpressure: `write` returning false stops
 * the stream until `drain`. Elsewhere (app.request, another runtime) a ReadableStream body
 * pulled by the runtime does the same job.
 */
import type { ServerResponse } from 'node:http';
import type { Context } from 'hono';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import type { EventStream, StreamSink } from './event-stream.js';

const SSE_HEADERS = {
  'content-type': 'text/event-stream',
  'cache-control': 'no-cache',
  connection: 'keep-alive',
  // Chunked: the headers go at once instead of waiting for a first chunk.
  'transfer-encoding': 'chunked',
};

/** What the fallback body hands the runtime ahead of its reads. */
const WEB_HIGH_WATER_MARK = 64 * 1024;

/** Under @hono/node-server the Node response is in c.env. */
const nodeResponse = (c: Context): ServerResponse | undefined => (c.env as { outgoing?: ServerResponse } | undefined)?.outgoing;

/** Sends `stream` as this request's response; the stream closes as 'client' when the client goes. */
export function eventStreamResponse(c: Context, stream: EventStream): Response {
  // Built through the context so that headers set by middleware (CORS) are kept.
  const head = c.body(null, 200, SSE_HEADERS);
  const res = nodeResponse(c);
  if (!res) return new Response(webBody(stream), { status: 200, headers: head.headers });
  if (res.destroyed || res.socket?.destroyed !== false) {
    // Gone while the stream was being opened (its state read): no close event is still to come.
    stream.close('client');
    res.destroy();
    return RESPONSE_ALREADY_SENT;
  }
  res.writeHead(200, Object.fromEntries(head.headers));
  res.on('drain', () => stream.resume());
  // Before the response ended, a close is the client's going (or a drop, already closed).
  res.once('close', () => stream.close('client'));
  const sink: StreamSink = {
    write: (bytes) => res.write(bytes),
    get pending() {
      return res.writableLength;
    },
    drop: () => res.destroy(),
  };
  stream.attach(sink);
  if (!res.headersSent) res.flushHeaders();
  return RESPONSE_ALREADY_SENT;
}

function webBody(stream: EventStream): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>(
    {
      start(controller) {
        stream.attach({
          write(bytes) {
            controller.enqueue(bytes);
            return (controller.desiredSize ?? 0) > 0;
          },
          get pending() {
            return WEB_HIGH_WATER_MARK - (controller.desiredSize ?? 0);
          },
          drop(reason) {
            try {
              controller.error(new Error(reason === 'slow' ? 'event stream client reads too slowly' : 'event stream closed by the server'));
            } catch {
              // already cancelled by the client
            }
          },
        });
      },
      pull: () => stream.resume(),
      cancel: () => stream.close('client'),
    },
    new ByteLengthQueuingStrategy({ highWaterMark: WEB_HIGH_WATER_MARK }),
  );
}
