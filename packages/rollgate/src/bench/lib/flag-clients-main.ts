/**
 * SDK clients for bench:flags, in their own process: N RollgateClients following one server
 * over its event stream. Prints `ready` once all have rules. For each revision R read from stdin
 * (one per line, after the parent's change returned), prints once every client has R a JSON line
 * {"rev":R,"t":[...]} with the time (epoch ms, sub-ms) each client first had it.
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
for (let i = 0; i < count; i++) {
  const c = new RollgateClient({ url, key, metricsIntervalMs: 0, instanceId: `bench-${process.pid}-${i}` });
  const mine: { rev: number; t: number }[] = [];
  seen.push(mine);
  c.on('changed', ({ revision }) => {
    if (revision !== null) mine.push({ rev: revision, t: now() });
  });
  c.on('error', (e) => process.stderr.write(`client ${i}: ${e.message}\n`));
  clients.push(c.start());
}
await Promise.all(clients.map((c) => c.ready()));
console.log('ready');

const firstAt = (list: { rev: number; t: number }[], rev: number) => list.find((x) => x.rev >= rev)?.t;
const waitFor = async (rev: number) => {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline && !seen.every((l) => firstAt(l, rev) !== undefined)) await new Promise((r) => setTimeout(r, 5));
  console.log(JSON.stringify({ rev, t: seen.map((l) => firstAt(l, rev) ?? null) }));
};
const queue: Promise<void>[] = [];
for await (const line of createInterface({ input: process.stdin })) {
  if (line.trim() === 'stop') break;
  queue.push(waitFor(Number(line)));
}
await Promise.all(queue);
await Promise.all(clients.map((c) => c.close()));
process.exit(0);
