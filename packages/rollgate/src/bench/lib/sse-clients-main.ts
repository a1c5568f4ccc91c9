/**
 * Event-stream viewers for bench:events, in their own process so that reading them does not
 * slow the probe that measures the API. Opens one GET /v1/events?after=0 per token in
 * $BENCH_TOKENS (a JSON array; a token may repeat), all at once, reads every stream and counts
 * its events. Prints `opened N` once every stream answered, `replayed MS` once each has
 * received `expected` events (the bounded replay), then a JSON line of stats on SIGTERM.
 * Usage: sse-clients-main.js URL EXPECTED_EVENTS
 *        sse-clients-main.js URL plain   (the peer: one GET /v1/apps per token, all at once;
 *                                         prints `opened N`, `replayed MS` when all answered, then exits)
 */
import http from 'node:http';
import { performance } from 'node:perf_hooks';

const url = process.argv[2]!;
const expected = Number(process.argv[3] ?? 1000);
const tokens = JSON.parse(process.env.BENCH_TOKENS ?? '[]') as string[];
const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
const EVENT = Buffer.from('\nevent: ');
const MARKER = Buffer.from('event: replay.truncated');

interface Stream {
  status: number;
  events: number;
  markers: number;
  tail: Buffer;
  ended: boolean;
}
const streams: Stream[] = [];
const t0 = performance.now();
let answered = 0;
let replayedAt: number | null = null;

/** Counts "\nevent: " in the stream's bytes without decoding them (the viewers must stay cheap). */
function countIn(s: Stream, chunk: Buffer): void {
  // The previous chunk's last bytes go in front, so a name split across chunks is still seen, once.
  const buf = s.tail.length ? Buffer.concat([s.tail, chunk]) : chunk;
  // The tail is either a match not yet counted or too short to hold one: search it from its start.
  let i = buf.indexOf(EVENT);
  while (i >= 0) {
    if (buf.length - (i + 1) >= MARKER.length) {
      if (buf.subarray(i + 1, i + 1 + MARKER.length).equals(MARKER)) s.markers++;
      else s.events++;
      i = buf.indexOf(EVENT, i + 1);
    } else break; // too close to the end to tell a marker: look again with the next chunk
  }
  s.tail = Buffer.from(i >= 0 ? buf.subarray(i) : buf.subarray(Math.max(0, buf.length - EVENT.length + 1)));
}

function check(): void {
  if (replayedAt === null && answered === tokens.length && streams.every((s) => s.status !== 200 || s.events >= expected)) {
    replayedAt = performance.now() - t0;
    console.log(`replayed ${Math.round(replayedAt)}`);
  }
}

if (process.argv[3] === 'plain') {
  let n = 0;
  for (const token of tokens) {
    http
      .get(`${url}/v1/apps`, { agent, headers: { authorization: `Bearer ${token}` } }, (res) => {
        res.resume();
        res.on('end', () => {
          if (++n < tokens.length) return;
          const ms = Math.round(performance.now() - t0);
          console.log(`opened ${n}`);
          // A moment later, so that it comes in its own chunk, after the ready line.
          setTimeout(() => console.log(`replayed ${ms}`), 100);
        });
      })
      .on('error', () => process.exit(1));
  }
} else openStreams();

function openStreams(): void {
  for (const token of tokens) {
    const s: Stream = { status: 0, events: 0, markers: 0, tail: Buffer.alloc(0), ended: false };
    streams.push(s);
    const req = http.get(`${url}/v1/events?after=0`, { agent, headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' } }, (res) => {
      s.status = res.statusCode ?? 0;
      answered++;
      if (answered === tokens.length) console.log(`opened ${answered}`);
      res.on('data', (b: Buffer) => {
        countIn(s, b);
        check();
      });
      res.on('end', () => (s.ended = true));
      res.on('error', () => (s.ended = true));
      check();
    });
    req.on('error', () => {
      s.ended = true;
      answered++;
      if (answered === tokens.length) console.log(`opened ${answered}`);
    });
  }
}

process.on('SIGTERM', () => {
  const ok = streams.filter((s) => s.status === 200);
  const byStatus: Record<string, number> = {};
  for (const s of streams) byStatus[s.status] = (byStatus[s.status] ?? 0) + 1;
  const ev = ok.map((s) => s.events);
  console.log(
    JSON.stringify({
      streams: streams.length,
      byStatus,
      minEvents: ev.length ? Math.min(...ev) : 0,
      maxEvents: ev.length ? Math.max(...ev) : 0,
      truncatedMarkers: ok.reduce((n, s) => n + s.markers, 0),
      endedEarly: ok.filter((s) => s.ended).length,
      replayedMs: replayedAt === null ? null : Math.round(replayedAt),
    }),
  );
  process.exit(0);
});
