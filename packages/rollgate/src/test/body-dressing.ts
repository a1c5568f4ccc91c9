/**
 * TEST HELPER: the same JSON body dressed many ways (encoding marks, charsets, content types,
 * duplicate keys, escapes, compression), for the tests that show none of them changes an
 * authorization decision.
 */
import { deflateSync, gzipSync } from 'node:zlib';

export interface DressedBody {
  name: string;
  headers: Record<string, string>;
  bytes: Buffer;
}

const JSON_TYPE = { 'content-type': 'application/json' };

/** Every character of every string as a \\u escape: the same value, spelled differently. */
function escapeAll(v: unknown): string {
  if (typeof v === 'string') return `"${[...v].map((ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`).join('')}"`;
  if (Array.isArray(v)) return `[${v.map(escapeAll).join(',')}]`;
  if (v && typeof v === 'object') return `{${Object.entries(v).map(([k, x]) => `${escapeAll(k)}:${escapeAll(x)}`).join(',')}}`;
  return JSON.stringify(v);
}

/**
 * `body` dressed: each variant means `body` to a lenient reader. `decoy` gives, per key, a value
 * a lenient reader might take instead (for the duplicate-key variants).
 */
export function dressings(body: Record<string, unknown>, decoy: Record<string, unknown>): DressedBody[] {
  const json = JSON.stringify(body);
  const utf8 = Buffer.from(json, 'utf8');
  const out: DressedBody[] = [
    { name: 'plain', headers: JSON_TYPE, bytes: utf8 },
    { name: 'UTF-8 byte-order mark', headers: JSON_TYPE, bytes: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), utf8]) },
    { name: 'UTF-16LE with its mark', headers: { 'content-type': 'application/json; charset=utf-16' }, bytes: Buffer.from(`\ufeff${json}`, 'utf16le') },
    { name: 'UTF-16BE', headers: { 'content-type': 'application/json; charset=utf-16be' }, bytes: Buffer.from(Buffer.from(json, 'utf16le').swap16()) },
    { name: 'latin1 charset', headers: { 'content-type': 'application/json; charset=iso-8859-1' }, bytes: Buffer.from(json, 'latin1') },
    { name: 'text/plain', headers: { 'content-type': 'text/plain' }, bytes: utf8 },
    { name: 'form content type', headers: { 'content-type': 'application/x-www-form-urlencoded' }, bytes: utf8 },
    { name: 'no content type', headers: {}, bytes: utf8 },
    { name: 'whitespace around', headers: JSON_TYPE, bytes: Buffer.from(`\r\n\t ${json} \n`) },
    { name: 'escaped', headers: JSON_TYPE, bytes: Buffer.from(escapeAll(body)) },
    { name: 'gzip', headers: { ...JSON_TYPE, 'content-encoding': 'gzip' }, bytes: gzipSync(utf8) },
    { name: 'deflate', headers: { ...JSON_TYPE, 'content-encoding': 'deflate' }, bytes: deflateSync(utf8) },
    { name: 'trailing NUL', headers: JSON_TYPE, bytes: Buffer.concat([utf8, Buffer.from([0])]) },
    { name: 'invalid UTF-8 byte', headers: JSON_TYPE, bytes: Buffer.concat([utf8.subarray(0, utf8.length - 1), Buffer.from([0xff, 0x7d])]) },
    { name: 'overlong UTF-8 quote', headers: JSON_TYPE, bytes: Buffer.concat([Buffer.from('{"a":'), Buffer.from([0xc0, 0xa2]), Buffer.from('x"}')]) },
    { name: '__proto__ carrying the fields', headers: JSON_TYPE, bytes: Buffer.from(JSON.stringify({ __proto__: null, ...decoy }).replace(/^\{/, `{"__proto__":${json},`)) },
  ];
  for (const [k, v] of Object.entries(body)) {
    if (!(k in decoy)) continue;
    const rest = Object.entries(body).filter(([x]) => x !== k).map(([x, y]) => `${JSON.stringify(x)}:${JSON.stringify(y)}`);
    const pair = (val: unknown) => `${JSON.stringify(k)}:${JSON.stringify(val)}`;
    out.push({ name: `duplicate ${k}, decoy first`, headers: JSON_TYPE, bytes: Buffer.from(`{${[pair(decoy[k]), ...rest, pair(v)].join(',')}}`) });
    out.push({ name: `duplicate ${k}, decoy last`, headers: JSON_TYPE, bytes: Buffer.from(`{${[pair(v), ...rest, pair(decoy[k])].join(',')}}`) });
    out.push({ name: `duplicate ${k} spelled with escapes`, headers: JSON_TYPE, bytes: Buffer.from(`{${[pair(decoy[k]), ...rest, `${escapeAll(k)}:${JSON.stringify(v)}`].join(',')}}`) });
  }
  return out;
}
