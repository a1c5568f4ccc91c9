/**
 * The texts under which a secret value can show up in printed output: as is (line by line, since
 * output is read line by line), JSON-escaped, base64 and base64url, hex, and URL-encoded. Each
 * is a literal to search for; the masker (secret-masker.ts) searches for all of them at once.
 *
 * Base64 needs care: a value inside a larger encoded text is encoded differently depending on
 * how many bytes come before it (mod 3), and the characters at its two edges mix in the bits of
 * its neighbours. So there are three forms, one per alignment, each the part of the encoding that
 * depends on the value's bytes alone (at most 3 characters at the start and 1 at the end are
 * left out: at most a few bits of the value, never a whole character of it, stay in clear).
 */

/** A value in the encodings a program may print it in, every form at least `min` characters. */
export function secretForms(value: string, min: number): string[] {
  const forms = new Set<string>();
  // A text shorter than `min` is not masked in any form: its encodings would be as unspecific.
  const long = (t: string) => t.length >= min;
  const lines = value.split(/\r?\n/).filter(long);
  for (const line of lines) forms.add(line);
  // A program reading the value from a file often trims it before encoding it.
  const wholes = new Set([value, value.trim()].filter(long));
  for (const text of new Set([...wholes, ...lines])) for (const f of jsonForms(text)) forms.add(f);
  for (const whole of wholes) {
    const bytes = Buffer.from(whole, 'utf8');
    for (const f of base64Forms(bytes)) forms.add(f);
    const hex = bytes.toString('hex');
    for (const h of [hex, hex.toUpperCase()]) {
      forms.add(h);
      // `xxd -p` prints 60 hex digits a line.
      for (let i = 0; h.length > HEX_WRAP && i < h.length; i += HEX_WRAP) forms.add(h.slice(i, i + HEX_WRAP));
    }
    for (const f of urlForms(whole)) forms.add(f);
  }
  return [...forms].filter((f) => f.length >= min);
}

/** Inside a JSON string: standard, ASCII-only (`\u00e9`, as Python prints), `\/`, and escaped twice (JSON in JSON). */
function jsonForms(text: string): string[] {
  const once = JSON.stringify(text).slice(1, -1);
  const ascii = once.replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  const out = [once, ascii, once.replaceAll('/', '\\/'), JSON.stringify(once).slice(1, -1), JSON.stringify(ascii).slice(1, -1)];
  return out;
}

/** Characters of each base64 group that the preceding bytes (0, 1 or 2 of them) leave undetermined. */
const SKIP = [0, 2, 3] as const;
/** Line widths base64 tools wrap at: 76 (base64(1), MIME) and 64 (PEM, openssl). */
const WRAPS = [76, 64];
const HEX_WRAP = 60;

function base64Forms(bytes: Buffer): string[] {
  const out: string[] = [];
  for (const k of [0, 1, 2] as const) {
    const shifted = k === 0 ? bytes : Buffer.concat([Buffer.alloc(k), bytes]);
    let enc = shifted.toString('base64').replace(/=+$/, '');
    // The last character of a partial group mixes in bits of whatever follows the value.
    if (shifted.length % 3 !== 0) enc = enc.slice(0, -1);
    enc = enc.slice(SKIP[k]);
    const url = enc.replaceAll('+', '-').replaceAll('/', '_');
    out.push(enc, url);
    // Printed on its own (alignment 0) by a tool that wraps lines: the value's encoding line by line.
    if (k === 0) for (const w of WRAPS) for (let i = 0; enc.length > w && i < enc.length; i += w) out.push(enc.slice(i, i + w), url.slice(i, i + w));
  }
  return out;
}

/** encodeURIComponent, form encoding (space as `+`), each with upper- and lower-case hex digits. */
function urlForms(text: string): string[] {
  const out: string[] = [];
  try {
    out.push(encodeURIComponent(text));
  } catch {
    // a lone surrogate: no URL form (UTF-8 checked values have none)
  }
  out.push(new URLSearchParams([['', text]]).toString().slice(1));
  for (const f of [...out]) out.push(f.replace(/%[0-9A-F]{2}/g, (h) => h.toLowerCase()));
  return out;
}
