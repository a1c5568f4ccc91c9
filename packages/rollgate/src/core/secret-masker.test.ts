/**
 * The secret masker against output as real encoders print it: each value is embedded in larger
 * text by JSON.stringify, Buffer's base64/base64url/hex (at every byte offset), encodeURIComponent,
 * URLSearchParams, wrapped base64; then no run of the value's encoded characters may be left
 * in clear. Plus the one-pass search checked against a naive search (fast-check).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { MultiSearch } from './multi-search.js';
import { MIN_MASKED_LENGTH, SecretMasker } from './secret-masker.js';
import { secretForms } from './secret-forms.js';
import { SkipFilter } from './skip-filter.js';

const VALUES: Record<string, string> = {
  QUOTES: 'pa"ss\\word"\\x',
  UNICODE: 'pässwörd-Ωmega-😀-ü',
  REGEX: 'tok$en.(with)*regex+chars?2',
  SPACES: 'open sesame & more=yes/no',
  PLAIN: 'sk_live_4eC39HqLyjWDarjtT1zdp7dc',
  EIGHT: 'ab"d\\f/h',
};

/** Fixed, so a window of the value's encoding cannot show up in it by chance. */
const BEFORE = 'header:';
const AFTER = ':trailer';

/**
 * Whether `masked` still holds a run of MIN_MASKED_LENGTH characters of `region` (the part of
 * the printed text that encodes the value): a masked value leaves at most a few edge characters.
 */
function leaks(masked: string, region: string): string | null {
  for (let i = 0; i + MIN_MASKED_LENGTH <= region.length; i++) {
    const w = region.slice(i, i + MIN_MASKED_LENGTH);
    if (masked.includes(w)) return w;
  }
  return null;
}

/** Printed forms of `value`: the whole printed line and the part of it that encodes the value. */
function printed(value: string): { form: string; line: string; region: string }[] {
  const out: { form: string; line: string; region: string }[] = [];
  const bytes = Buffer.from(value);
  const json = JSON.stringify({ password: value });
  out.push({ form: 'raw', line: `${BEFORE}${value}${AFTER}`, region: value });
  out.push({ form: 'JSON.stringify', line: json, region: JSON.stringify(value).slice(1, -1) });
  const ascii = JSON.stringify(value).slice(1, -1).replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  out.push({ form: 'JSON ASCII-only (Python json.dumps)', line: `{"password": "${ascii}"}`, region: ascii });
  out.push({ form: 'JSON in JSON', line: JSON.stringify({ body: json }), region: JSON.stringify(JSON.stringify(value).slice(1, -1)).slice(1, -1) });
  for (const enc of ['base64', 'base64url'] as const) {
    for (let off = 0; off < 3; off++) {
      // Random-looking bytes around the value, as when a secret is part of a larger encoded blob.
      const pre = Buffer.from('\x01\x02\x03'.slice(0, off) + 'XYZ'.repeat(off));
      const all = Buffer.concat([pre, bytes, Buffer.from('\xff\xfe tail')]).toString(enc);
      const from = Math.ceil((pre.length * 4) / 3);
      const to = Math.floor(((pre.length + bytes.length) * 4) / 3);
      out.push({ form: `${enc} at offset ${pre.length} (mod 3 = ${pre.length % 3})`, line: `${BEFORE}${all}${AFTER}`, region: all.slice(from, to) });
    }
    out.push({ form: `${enc} alone`, line: bytes.toString(enc), region: bytes.toString(enc).replace(/=+$/, '') });
  }
  out.push({ form: 'hex', line: `${BEFORE}${bytes.toString('hex')}${AFTER}`, region: bytes.toString('hex') });
  out.push({ form: 'HEX', line: `${BEFORE}${bytes.toString('hex').toUpperCase()}${AFTER}`, region: bytes.toString('hex').toUpperCase() });
  const uri = encodeURIComponent(value);
  out.push({ form: 'encodeURIComponent', line: `https://example.com/cb?token=${uri}&x=1`, region: uri });
  const lower = uri.replace(/%[0-9A-F]{2}/g, (h) => h.toLowerCase());
  out.push({ form: 'encodeURIComponent, lower-case hex', line: `?t=${lower}`, region: lower });
  const form = new URLSearchParams({ user: 'me', password: value }).toString();
  out.push({ form: 'form (URLSearchParams)', line: form, region: form.slice(form.indexOf('password=') + 'password='.length) });
  return out;
}

describe('SecretMasker: encoded forms', () => {
  const m = new SecretMasker();
  m.addAll(VALUES);

  for (const [name, value] of Object.entries(VALUES)) {
    test(`${name}: every printed form is masked`, () => {
      for (const p of printed(value)) {
        const masked = m.mask(p.line);
        assert.ok(masked.includes(`[secret:${name}`), `${p.form}: not masked: ${masked}`);
        const leak = leaks(masked, p.region);
        assert.equal(leak, null, `${p.form}: "${leak}" of the value's encoding is in clear: ${masked}`);
      }
    });
  }

  test('text around a masked form is kept as it was', () => {
    assert.equal(m.mask(`x ${Buffer.from(VALUES.PLAIN!).toString('hex')} y`), 'x [secret:PLAIN] y');
    assert.equal(m.mask(JSON.stringify({ p: VALUES.QUOTES })), '{"p":"[secret:QUOTES]"}');
    assert.equal(m.mask(`?a=1&t=${encodeURIComponent(VALUES.SPACES!)}&b=2`), '?a=1&t=[secret:SPACES]&b=2');
    assert.equal(m.mask('nothing secret here, not even base64: aGVsbG8gd29ybGQ='), 'nothing secret here, not even base64: aGVsbG8gd29ybGQ=');
  });

  test('base64 wrapped at 76 and 64 columns (base64(1), PEM) is masked line by line', () => {
    const long = 'L0ng-secret-value-'.repeat(6);
    const w = new SecretMasker();
    w.add('LONG', long);
    const enc = Buffer.from(`${long}\n`).toString('base64');
    for (const width of [76, 64]) {
      const lines = enc.match(new RegExp(`.{1,${width}}`, 'g'))!;
      for (const line of lines.slice(0, -1)) assert.equal(w.mask(line), '[secret:LONG]', `a ${width}-column line`);
      assert.equal(leaks(lines.map((l) => w.mask(l)).join('\n'), enc.slice(0, Math.floor((long.length * 4) / 3))), null);
    }
  });

  test('hex wrapped at 60 columns (xxd -p) is masked line by line', () => {
    const long = 'hex-wrapped-secret-'.repeat(4);
    const w = new SecretMasker();
    w.add('LONG', long);
    for (const hex of [Buffer.from(long).toString('hex'), Buffer.from(long).toString('hex').toUpperCase()]) {
      const lines = hex.match(/.{1,60}/g)!;
      assert.ok(lines.length > 2);
      assert.deepEqual(
        lines.map((l) => w.mask(l)),
        lines.map(() => '[secret:LONG]'),
      );
    }
  });

  test('a value read from a file with a trailing newline is masked trimmed too', () => {
    const t = new SecretMasker();
    t.add('FILE', 'from-a-file-value\n');
    // The last character of the encoding mixes in what follows the value (here: padding bits).
    assert.match(t.mask(Buffer.from('from-a-file-value').toString('base64')), /^\[secret:FILE\].?=*$/);
    assert.equal(t.mask(Buffer.from('from-a-file-value\n').toString('hex')), '[secret:FILE]');
  });

  test('multi-line values: each line, and the whole value JSON-escaped or encoded', () => {
    const pem = '-----BEGIN KEY-----\nMIIBOgIBAAJBAKj34GkxFhD9\n-----END KEY-----\n';
    const p = new SecretMasker();
    p.add('PEM', pem);
    assert.equal(p.mask('MIIBOgIBAAJBAKj34GkxFhD9'), '[secret:PEM]');
    assert.equal(p.mask(JSON.stringify({ key: pem })), '{"key":"[secret:PEM]"}');
    assert.equal(p.mask(Buffer.from(pem).toString('base64')), '[secret:PEM]');
    assert.equal(p.mask(encodeURIComponent(pem)), '[secret:PEM]');
  });

  test(`short values: ${MIN_MASKED_LENGTH} characters are masked in every form, shorter ones in none`, () => {
    const s = new SecretMasker();
    s.add('SHORT', 'abc"efg');
    assert.equal(s.size, 0, 'no form of a 7-character value is searched for');
    assert.equal(s.mask('abc"efg abc\\"efg'), 'abc"efg abc\\"efg');
    s.add('EIGHT', VALUES.EIGHT!);
    for (const p of printed(VALUES.EIGHT!)) assert.equal(leaks(s.mask(p.line), p.region), null, p.form);
    assert.deepEqual(
      secretForms('1234567', MIN_MASKED_LENGTH).filter((f) => f.length < MIN_MASKED_LENGTH),
      [],
      'forms shorter than the minimum are never produced',
    );
  });

  test('a value added after use is masked from then on (the search is rebuilt)', () => {
    const a = new SecretMasker();
    a.add('A', 'first-value-aaaa');
    assert.equal(a.mask('first-value-aaaa second-value-bbbb'), '[secret:A] second-value-bbbb');
    a.add('B', 'second-value-bbbb');
    assert.equal(a.mask('first-value-aaaa second-value-bbbb'), '[secret:A] [secret:B]');
    const size = a.size;
    a.add('B', 'second-value-bbbb');
    assert.equal(a.size, size, 'adding a value again adds nothing');
  });

  test('a line cut at a length limit hides an end that starts a form', () => {
    const c = new SecretMasker();
    c.add('K', 'cut-through-this-secret');
    const hex = Buffer.from('cut-through-this-secret').toString('hex');
    assert.equal(c.mask(`data ${hex.slice(0, 11)}`, { cut: true }), 'data [secret:K]');
    assert.equal(c.mask(`data ${hex.slice(0, 11)}`), `data ${hex.slice(0, 11)}`, 'an uncut line keeps what is not a whole form');
    assert.equal(c.mask('data cut', { cut: true }), 'data cut', `an end shorter than 4 characters is shown`);
    assert.equal(c.mask('data cut-', { cut: true }), 'data [secret:K]');
  });

  test('safeCut keeps back only an end that starts a form, in any encoding', () => {
    const c = new SecretMasker();
    c.add('S', 'SECRET-VALUE-123');
    const b64 = Buffer.from('SECRET-VALUE-123').toString('base64');
    assert.equal(c.safeCut(`${'x'.repeat(30)}${b64.slice(0, 9)}`), 30);
    assert.equal(c.safeCut(`${'x'.repeat(30)}SECRET-VALUE-123yy`), 48, 'a whole secret before the end needs no hold-back');
    assert.equal(c.safeCut('x'.repeat(100)), 100);
    assert.equal(new SecretMasker().safeCut('abc'), 3);
  });
});

describe('SecretMasker: property', () => {
  test('any value of 8+ characters, any offset, any encoding: no 8 characters of its encoding stay in clear', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', minLength: MIN_MASKED_LENGTH, maxLength: 40 }), fc.uint8Array({ maxLength: 7 }), fc.uint8Array({ maxLength: 7 }), (value, pre, post) => {
        fc.pre([...value].length >= MIN_MASKED_LENGTH && !/[\r\n]/.test(value));
        const m = new SecretMasker();
        m.add('V', value);
        const bytes = Buffer.from(value);
        for (const enc of ['base64', 'base64url', 'hex'] as const) {
          const all = Buffer.concat([Buffer.from(pre), bytes, Buffer.from(post)]).toString(enc);
          const per = enc === 'hex' ? 2 : 4 / 3;
          const region = all.slice(Math.ceil(pre.length * per), Math.floor((pre.length + bytes.length) * per));
          const masked = m.mask(all);
          // A window of the value's encoding may match the surrounding random bytes' encoding by chance only if it is there unmasked.
          const leak = leaks(masked.replace(/\[secret:V\]/g, '\u0000'), region);
          if (leak !== null) assert.fail(`${enc}: ${leak} in clear: ${masked}`);
        }
        for (const line of [JSON.stringify({ v: value }), encodeURIComponent(value), new URLSearchParams({ v: value }).toString()]) {
          assert.ok(m.mask(line).includes('[secret:V]'), `not masked: ${line}`);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('MultiSearch', () => {
  const naive = (patterns: string[], text: string) => {
    const out: string[] = [];
    patterns.forEach((p, i) => {
      if (!p || patterns.indexOf(p) !== i) return;
      for (let at = text.indexOf(p); at >= 0; at = text.indexOf(p, at + 1)) out.push(`${at}:${at + p.length}:${i}`);
    });
    return out.sort();
  };

  test('finds what a naive search finds, overlapping matches included', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ unit: fc.constantFrom('a', 'b', 'c', 'é', '😀'), maxLength: 6 }), { maxLength: 8 }), fc.string({ unit: fc.constantFrom('a', 'b', 'c', 'é', '😀', 'x'), maxLength: 60 }), (patterns, text) => {
        const got = new MultiSearch(patterns)
          .scan(text)
          .matches.map((m) => `${m.start}:${m.end}:${m.pattern}`)
          .sort();
        assert.deepEqual(got, naive(patterns, text));
      }),
      { numRuns: 500 },
    );
  });

  test('the skip pre-filter never says "no" where a pattern occurs', () => {
    const letters = fc.constantFrom('a', 'b', 'c', 'é', 'x', '"');
    fc.assert(
      fc.property(fc.array(fc.string({ unit: letters, minLength: 2, maxLength: 12 }), { minLength: 1, maxLength: 8 }), fc.string({ unit: letters, maxLength: 80 }), (patterns, text) => {
        const found = patterns.some((p) => text.includes(p));
        if (found) assert.equal(new SkipFilter(patterns).mayMatch(text), true, `missed one of ${JSON.stringify(patterns)} in ${JSON.stringify(text)}`);
        if (found) assert.equal(new MultiSearch(patterns).mayMatch(text), true);
      }),
      { numRuns: 2000 },
    );
    // And it does rule lines out: a line of ordinary log text holds none of a secret's forms.
    const m = new MultiSearch(secretForms('sk_live_4eC39HqLyjWDarjtT1zdp7dc', MIN_MASKED_LENGTH));
    assert.equal(m.mayMatch('{"level":"info","msg":"handled request","path":"/api/orders/17","status":200}'), false);
  });

  test('pending is the longest end of the text that starts a pattern', () => {
    const s = new MultiSearch(['abcdef', 'cdxy']);
    assert.equal(s.scan('zzabcd').pending, 4);
    assert.equal(s.scan('zzabcdx').pending, 3);
    assert.equal(s.scan('zz').pending, 0);
    assert.equal(new MultiSearch([]).scan('abc').matches.length, 0);
  });
});
