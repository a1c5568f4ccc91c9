/**
 * Who holds a TCP port (Linux): the listening socket's inode from /proc/net/tcp{,6}, then the
 * process with that socket among /proc/<pid>/fd. Null when unknown (another user's process, or
 * not Linux): callers then say "another program".
 */
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';

export interface PortHolder {
  pid: number;
  /** Its command line, arguments joined by spaces (cut to a readable length). */
  command: string;
}

const TCP_LISTEN = '0A';

/** Inodes of sockets listening on `port` on any address. */
export function listeningInodes(port: number): Set<string> {
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || f[3] !== TCP_LISTEN) continue;
      const hexPort = f[1]?.split(':')[1];
      if (hexPort !== undefined && parseInt(hexPort, 16) === port && f[9] !== '0') inodes.add(f[9]!);
    }
  }
  return inodes;
}

export function commandLineOf(pid: number): string | null {
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((a) => a !== '');
    if (argv.length === 0) return null;
    const line = argv.join(' ');
    return line.length > 160 ? line.slice(0, 157) + '...' : line;
  } catch {
    return null;
  }
}

export function findPortHolder(port: number): PortHolder | null {
  const inodes = listeningInodes(port);
  if (inodes.size === 0) return null;
  const wanted = new Set([...inodes].map((i) => `socket:[${i}]`));
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return null;
  }
  for (const p of pids) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${p}/fd`);
    } catch {
      continue; // gone, or another user's
    }
    for (const fd of fds) {
      let target: string;
      try {
        target = readlinkSync(`/proc/${p}/fd/${fd}`);
      } catch {
        continue;
      }
      if (wanted.has(target)) {
        const pid = Number(p);
        return { pid, command: commandLineOf(pid) ?? '(command line unknown)' };
      }
    }
  }
  return null;
}
