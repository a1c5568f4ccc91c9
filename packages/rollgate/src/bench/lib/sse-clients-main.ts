/**
 * Event-stream viewers for bench:events, in their own process so that reading them does not
 * slow the probe that measures the API. Opens one GET /v1/events?after=0 per token in
 * $BENCH_TOKENS (a JSON array; a token may repeat), all at once, reads every stream and counts
 * its events. Prints `opened N` once every stream answered, `replayed MS` once each has
 * received `expected` events (the bounded replay), then a JSON line of stats on SIGTERM.
 * Usage: sse-clients-main.js URL EXPECTED_EVENTS
 */
import http from 'node:http';
import { performance } from 'node:perf_hooks';

const url = process.argv[2]!;
const expected = Number(process.argv[3] ?? 1000);
const tokens = JSON.parse(process.env.BENCH_TOKENS ?? '[]') as string[];
const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
const EVENT = Buffer.from('\nevent: ');
const MARKER = 'event: replay.truncated';

interface Stream {
  status: number;
  events: number;
  markers: number;
  tail: string;
  ended: boolean;
}
const streams: Stream[] = [];
const t0 = performance.now();
let answered = 0;
let replayedAt: number | null = null;

function countIn(s: Stream, chunk: Buffer): void {
  // Count "\nevent: " across chunk boundaries with a short tail of the previous chunk.
  const text = s.tail + chunk.toString('latin1');
  let i = -1;
  const pat = EVENT.toString('latin1');
  while ((i = text.indexOf(pat, i + 1)) >= 0) {
    if (text.startsWith(MARKER, i + 1)) s.markers++;
    else s.events++;
  }
  s.tail = text.slice(-(MARKER.length + 1));
  // Do not count what the tail will show again.
  const again = s.tail.indexOf(pat);
  if (again >= 0) {
    if (s.tail.startsWith(MARKER, again + 1)) s.markers--;
    else s.events--;
  }
}

function check(): void {
  if (replayedAt === null && answered === tokens.length && streams.every((s) => s.status !== 200 || s.events >= expected)) {
    replayedAt = performance.now() - t0;
    console.log(`replayed ${Math.round(replayedAt)}`);
  }
}

for (const token of tokens) {
  const s: Stream = { status: 0, events: 0, markers: 0, tail: '', ended: false };
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
