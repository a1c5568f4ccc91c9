/**
 * Loopback port allocation for instances, and (on Linux) a check of who owns a listener, so a
 * foreign program answering on an instance's port is noticed instead of trusted.
 */
import { createServer } from 'node:net';
import { readFile, readdir, readlink } from 'node:fs/promises';

/**
 * Ports are picked below the kernel's ephemeral range (32768+ on Linux) so that the router's own
 * outgoing connections, which use that range, cannot grab a port between pick and listen.
 */
export interface PortRange {
  min: number;
  max: number;
}
export const DEFAULT_PORT_RANGE: PortRange = { min: 20_000, max: 32_000 };

function tryBind(port: number, host: string): Promise<number | null> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', () => resolve(null));
    srv.listen({ port, host, exclusive: true }, () => {
      const addr = srv.address();
      const got = typeof addr === 'object' && addr ? addr.port : null;
      srv.close(() => resolve(got));
    });
  });
}

/** A port free on `host` now and not in `avoid`. Falls back to a kernel-chosen port. */
export async function allocatePort(avoid: ReadonlySet<number>, range: PortRange = DEFAULT_PORT_RANGE, host = '127.0.0.1'): Promise<number> {
  for (let i = 0; i < 30; i++) {
    const port = range.min + Math.floor(Math.random() * (range.max - range.min + 1));
    if (avoid.has(port)) continue;
    const got = await tryBind(port, host);
    if (got !== null) return got;
  }
  for (let i = 0; i < 10; i++) {
    const got = await tryBind(0, host);
    if (got !== null && !avoid.has(got)) return got;
  }
  throw new Error('no free loopback port found');
}

/** Socket inodes listening on `port` (IPv4 or IPv6, any local address); null when /proc is unavailable. */
async function listeningInodes(port: number): Promise<Set<string> | null> {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  const inodes = new Set<string>();
  let readAny = false;
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch {
      continue;
    }
    readAny = true;
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      // f[1] = local "ADDR:PORT", f[3] = state (0A = LISTEN), f[9] = inode
      if (f.length < 10 || f[3] !== '0A') continue;
      if (f[1]?.endsWith(`:${hexPort}`)) inodes.add(f[9]!);
    }
  }
  return readAny ? inodes : null;
}

/** Pids whose process group is `pgid`. */
export async function groupMembers(pgid: number): Promise<number[]> {
  const out: number[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = await readFile(`/proc/${name}/stat`, 'utf8');
      // Fields after the command name (which may contain spaces) start after the last ')'.
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(rest[2]) === pgid) out.push(Number(name));
    } catch {
      // the process went away while we looked
    }
  }
  return out;
}

/**
 * Whether the listener on `port` belongs to a process of group `pgid`.
 * true/false when it can tell; null when it cannot (no /proc, no listener seen, fds unreadable).
 */
export async function listenerOwnedByGroup(port: number, pgid: number): Promise<boolean | null> {
  try {
    const inodes = await listeningInodes(port);
    if (!inodes || inodes.size === 0) return null;
    let readable = false;
    for (const pid of await groupMembers(pgid)) {
      let fds: string[];
      try {
        fds = await readdir(`/proc/${pid}/fd`);
      } catch {
        continue;
      }
      readable = true;
      for (const fd of fds) {
        try {
          const target = await readlink(`/proc/${pid}/fd/${fd}`);
          const m = /^socket:\[(\d+)\]$/.exec(target);
          if (m && inodes.has(m[1]!)) return true;
        } catch {
          // fd closed meanwhile
        }
      }
    }
    return readable ? false : null;
  } catch {
    return null;
  }
}
