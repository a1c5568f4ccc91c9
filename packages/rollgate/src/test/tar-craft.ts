/**
 * Hand-made tar archives for tests: entries node-tar will not write (devices, hardlinks, sparse
 * files, setuid bits, foreign owners), each header built byte by byte as POSIX ustar says.
 */
import { gzipSync } from 'node:zlib';

export interface CraftedEntry {
  path: string;
  /** ustar type flag: '0' file, '1' hardlink, '2' symlink, '3' char device, '4' block device, '5' dir, '6' FIFO, 'S' GNU sparse, 'x' pax header. */
  type: string;
  body?: Buffer | string;
  mode?: number;
  uid?: number;
  gid?: number;
  linkpath?: string;
}

function octal(n: number, width: number): string {
  return n.toString(8).padStart(width - 1, '0') + '\0';
}

export function tarHeader(e: CraftedEntry, size: number): Buffer {
  const h = Buffer.alloc(512);
  h.write(e.path, 0, 100, 'utf8');
  h.write(octal(e.mode ?? (e.type === '5' ? 0o755 : 0o644), 8), 100, 'ascii');
  h.write(octal(e.uid ?? 1000, 8), 108, 'ascii');
  h.write(octal(e.gid ?? 1000, 8), 116, 'ascii');
  h.write(octal(size, 12), 124, 'ascii');
  h.write(octal(1_700_000_000, 12), 136, 'ascii');
  h.write('        ', 148, 'ascii'); // checksum counts as spaces while it is computed
  h.write(e.type, 156, 'ascii');
  if (e.linkpath) h.write(e.linkpath, 157, 100, 'utf8');
  h.write('ustar\u000000', 257, 'binary');
  h.write('root', 265, 'ascii');
  h.write('root', 297, 'ascii');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(octal(sum, 7) + ' ', 148, 'ascii');
  return h;
}

/** A pax extended header record: "LEN key=value\n" where LEN counts the whole record. */
export function paxRecord(key: string, value: string): string {
  const rest = ` ${key}=${value}\n`;
  let len = rest.length + 1;
  while (String(len).length + rest.length !== len) len = String(len).length + rest.length;
  return `${len}${rest}`;
}

/** The entries as one uncompressed tar (with the two zero blocks at the end). */
export function craftTar(entries: CraftedEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const body = typeof e.body === 'string' ? Buffer.from(e.body) : (e.body ?? Buffer.alloc(0));
    parts.push(tarHeader(e, body.length), body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

export function craftTarGz(entries: CraftedEntry[]): Buffer {
  return gzipSync(craftTar(entries));
}
