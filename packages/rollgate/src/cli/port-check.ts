/**
 * `rollgate up` checks every listener it will need before it starts anything, so a taken port is
 * one clear error at start (which port, what needs it, who holds it) rather than a URL printed
 * for a listener that never opened and a failure at the first deploy.
 */
import { createServer } from 'node:net';
import { RollgateError } from '../core/errors.js';
import { findPortHolder } from './port-holder.js';

export interface NeededListener {
  host: string;
  port: number;
  /** What needs it, as the user knows it: "the API (--port)", "environment production (rollgate.yaml)". */
  what: string;
}

type Probe = 'free' | 'in_use' | 'denied';

function probe(host: string, port: number): Promise<Probe> {
  return new Promise((res) => {
    const s = createServer();
    s.once('error', (e: NodeJS.ErrnoException) => res(e.code === 'EADDRINUSE' ? 'in_use' : e.code === 'EACCES' ? 'denied' : 'free'));
    s.listen({ host, port, exclusive: true }, () => s.close(() => res('free')));
  });
}

/**
 * Throws port_in_use naming each taken port and its holder. A port held by one of `ours` (the
 * adopted agent already serving its environments) is not a conflict.
 */
export async function checkListeners(needed: NeededListener[], ours: number[] = []): Promise<void> {
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const l of needed) {
    if (l.port === 0 || seen.has(`${l.host}:${l.port}`)) continue;
    seen.add(`${l.host}:${l.port}`);
    const r = await probe(l.host, l.port);
    if (r === 'free') continue;
    if (r === 'denied') {
      problems.push(`port ${l.port} on ${l.host} (${l.what}) needs privileges this user lacks: ports below 1024 need root; choose a port of 1024 or above`);
      continue;
    }
    const holder = findPortHolder(l.port);
    if (holder && ours.includes(holder.pid)) continue;
    const who = holder ? `process ${holder.pid} (${holder.command})` : 'another program';
    problems.push(`port ${l.port} on ${l.host} (${l.what}) is taken by ${who}`);
  }
  if (problems.length === 0) return;
  throw new RollgateError(
    'port_in_use',
    `cannot start: ${problems.length === 1 ? problems[0] : '\n  ' + problems.join('\n  ')}\nstop what holds it, or choose another port (--port for the API, \`listen\` in rollgate.yaml for an environment); nothing was started`,
    { ports: needed.filter((l) => problems.some((p) => p.startsWith(`port ${l.port} on ${l.host} `))).map((l) => ({ host: l.host, port: l.port, what: l.what })) },
  );
}
