/**
 * The one JSON body decoder of the API. Authorization and the handler read the same value (it is
 * decoded once per request and kept on the context), and the decoding is strict, so no encoding
 * trick can make two readers disagree: UTF-8 only (no byte-order mark, no other charset, invalid
 * bytes refused), no Content-Encoding, a JSON media type, no duplicate keys, and no keys that
 * would reach an object's prototype (`__proto__`, `constructor`, `prototype`).
 */
import { RollgateError } from '../core/errors.js';
import { forbiddenKeyMessage, isForbiddenKey } from '../core/forbidden-keys.js';

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export interface BodyHeaders {
  contentType: string | null;
  contentEncoding: string | null;
}

/** `{}` for an empty body; else the parsed JSON, or a RollgateError saying what to send instead. */
export function decodeJsonBody(bytes: Uint8Array, h: BodyHeaders): unknown {
  const enc = h.contentEncoding?.trim().toLowerCase();
  if (enc && enc !== 'identity') {
    throw new RollgateError('unsupported_media_type', `request bodies are not accepted compressed (Content-Encoding: ${enc.slice(0, 40)}); send the JSON uncompressed`);
  }
  if (bytes.length === 0) return {};
  checkMediaType(h.contentType);
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) {
    throw new RollgateError('invalid_input', 'request body starts with a byte-order mark; send plain UTF-8 JSON without one');
  }
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw new RollgateError('invalid_input', 'request body is not valid UTF-8; send the JSON encoded as UTF-8');
  }
  if (text.trim() === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(text) as unknown;
  } catch {
    throw new RollgateError('invalid_input', 'request body is not valid JSON; send a JSON object with Content-Type: application/json');
  }
  const problem = keyProblem(text);
  if (problem) throw new RollgateError('invalid_input', `invalid body: ${problem}`);
  return value;
}

function checkMediaType(contentType: string | null): void {
  if (contentType === null) return; // curl --data-binary with -H omitted; the bytes must still be JSON
  const [type = '', ...params] = contentType.split(';').map((s) => s.trim().toLowerCase());
  if (type !== 'application/json' && !/^application\/[a-z0-9.+-]+\+json$/.test(type)) {
    throw new RollgateError('unsupported_media_type', `this route takes JSON, not ${type.slice(0, 60) || 'an empty Content-Type'}; send Content-Type: application/json`);
  }
  for (const p of params) {
    const [k, v = ''] = p.split('=').map((s) => s.trim());
    if (k === 'charset' && v.replace(/"/g, '') !== 'utf-8' && v.replace(/"/g, '') !== 'utf8') {
      throw new RollgateError('unsupported_media_type', `request bodies must be UTF-8 (got charset=${v.slice(0, 40)}); send Content-Type: application/json`);
    }
  }
}

type Frame = { kind: 'object'; keys: Set<string>; expectKey: boolean; key: string } | { kind: 'array'; index: number };

/** Where `key` of the innermost object is, e.g. `spec.apps.__proto__`. */
function pathOf(stack: Frame[], key: string): string {
  return [...stack.slice(0, -1).map((f) => (f.kind === 'object' ? f.key : String(f.index))), key].join('.');
}

/** A duplicate or forbidden key in already-valid JSON text, described with its path; null when none. */
export function keyProblem(text: string): string | null {
  const stack: Frame[] = [];
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (ch === 0x22 /* " */) {
      let j = i + 1;
      while (text.charCodeAt(j) !== 0x22) j += text.charCodeAt(j) === 0x5c ? 2 : 1;
      const top = stack[stack.length - 1];
      if (top?.kind === 'object' && top.expectKey) {
        const key = JSON.parse(text.slice(i, j + 1)) as string;
        const where = pathOf(stack, key);
        if (isForbiddenKey(key)) return forbiddenKeyMessage(where, key);
        if (top.keys.has(key)) return `${where}: key "${key.slice(0, 60)}" appears twice; send each key once`;
        top.keys.add(key);
        top.key = key;
        top.expectKey = false;
      }
      i = j;
    } else if (ch === 0x7b /* { */) stack.push({ kind: 'object', keys: new Set(), expectKey: true, key: '' });
    else if (ch === 0x5b /* [ */) stack.push({ kind: 'array', index: 0 });
    else if (ch === 0x7d || ch === 0x5d) stack.pop();
    else if (ch === 0x2c /* , */) {
      const top = stack[stack.length - 1];
      if (top?.kind === 'object') top.expectKey = true;
      else if (top) top.index++;
    }
  }
  return null;
}
