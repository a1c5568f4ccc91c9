/**
 * SDK clients for bench:flags, in their own process: N RollgateClients following one server
 * over its event stream. Prints `ready` once all have rules. For each revision R read from stdin
 * (one per line, after the parent's change returned), prints once every client has R a JSON line
 * {"rev":R,"t":[...],"cpuMs":C} with the time (epoch ms, sub-ms) each client first had it and the CPU
 * this process spent since the previous line (what following the change cost its clients).
 * Usage: flag-clients-main.js URL KEY N
 */
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { RollgateClient } from '@rollgate/sdk';

const [url, key, count] = [process.argv[2]!, process.argv[3]!, Number(process.argv[4] ?? 250)];
const now = () => performance.timeOrigin + performance.now();
/** Per client: the revisions in the order seen, with when. */
const seen: { rev: number; t: number }[][] = [];
const clients: RollgateClient[] = [];
/** Called with a client's highest revision before and after each change it sees. */
let onSeen: (before: number, now: number) => void = () => undefined;
for (let i = 0; i < count; i++) {
  const c = new RollgateClient({ url, key, metricsIntervalMs: 0, instanceId: `bench-${process.pid}-${i}` });
  const mine: { rev: number; t: number }[] = [];
  seen.push(mine);
  let highest = -1;
  c.on('changed', ({ revision }) => {
    if (revision === null) return;
    mine.push({ rev: revision, t: now() });
    if (revision > highest) onSeen(highest, (highest = revision));
  });
  c.on('error', (e) => process.stderr.write(`client ${i}: ${e.message}\n`));
  clients.push(c.start());
}
await Promise.all(clients.map((c) => c.ready()));
console.log('ready');

let cpu = process.cpuUsage();
/** Revisions asked for and not yet held by every client: how many still lack each. */
const waits = new Map<number, { missing: number; done: () => void }>();
const firstAt = (list: { rev: number; t: number }[], rev: number) => list.find((x) => x.rev >= rev)?.t;
onSeen = (before, now) => {
  // Told by the clients' own events, not by polling them: the harness takes no CPU from the clients while they work.
  for (const [rev, w] of waits) if (before < rev && now >= rev && --w.missing === 0) w.done();
};
const waitFor = async (rev: number) => {
  const missing = seen.filter((l) => firstAt(l, rev) === undefined).length;
  if (missing > 0) {
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((done) => {
      waits.set(rev, { missing, done });
      timer = setTimeout(done, 10_000);
    });
    clearTimeout(timer);
    waits.delete(rev);
  }
  const used = process.cpuUsage(cpu);
  cpu = process.cpuUsage();
  console.log(JSON.stringify({ rev, t: seen.map((l) => firstAt(l, rev) ?? null), cpuMs: Math.round((used.user + used.system) / 100) / 10 }));
};
const queue: Promise<void>[] = [];
for await (const line of createInterface({ input: process.stdin })) {
  if (line.trim() === 'stop') break;
  queue.push(waitFor(Number(line)));
}
await Promise.all(queue);
await Promise.all(clients.map((c) => c.close()));
process.exit(0);
