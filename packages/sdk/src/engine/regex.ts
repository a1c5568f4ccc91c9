// REGEX constraints use RE2 syntax, as Unleash's SDKs do (the Node client through re2js): this
// turns an RE2 pattern into an equivalent JavaScript RegExp, and refuses what RE2 refuses
// (lookarounds, backreferences, atomic groups, repetition over 1000) so that it never matches.
// Inline flags keep RE2's scope (to the end of their group): m, s and U are translated into the
// pattern itself, and i by expanding letters to their case variants where it does not hold for
// the whole pattern (a \p class under such a scoped (?i) is left unfolded: an approximation).

import { complement, cp, foldRanges, merge, PERL, POSIX, rangesBody, unicodeClass, type Range } from './regex-ranges.js';

export type Re2Result = { ok: true; regex: RegExp } | { ok: false; message: string };

class Re2Error extends Error {}

// JavaScript (unicode mode) needs these escaped outside a class to be literal.
const SYNTAX = new Set('^$\\.*+?()[]{}|/'.split(''));
const PUNCT = /^[!-/:-@[-`{-~]$/;
const REPEAT = /^\{(\d+)(,(\d*))?\}/;

interface Flags {
  i: boolean;
  m: boolean;
  s: boolean;
  U: boolean;
}

/** One escape: a set of code points, a class text that is not ranges (\p), or an assertion. */
type Escaped = { ranges: Range[] } | { text: string; assertion: boolean };

class Translator {
  private i = 0;
  private out = '';
  private flags: Flags;
  private readonly scopes: { flags: Flags; at: number }[] = [];

  /** globalI: the RegExp gets JavaScript's i flag, so letters need no expanding. */
  constructor(
    private readonly src: string,
    start: Flags,
    private readonly globalI: boolean,
  ) {
    this.flags = { ...start };
  }

  private peek(k = 0): string {
    return this.src[this.i + k] ?? '';
  }

  private fold(): boolean {
    return this.flags.i && !this.globalI;
  }

  /** RE2 negates a class after case folding: under i, \W matches neither s nor ſ. */
  private negate(ranges: Range[]): Range[] {
    return complement(this.flags.i ? foldRanges(ranges) : ranges);
  }

  private set(ranges: Range[]): string {
    const r = this.fold() ? foldRanges(ranges) : merge(ranges);
    if (r.length === 1 && r[0]?.[0] === r[0]?.[1]) {
      const ch = String.fromCodePoint(r[0]?.[0] as number);
      return SYNTAX.has(ch) ? `\\${ch}` : /^[\p{L}\p{N}_ ]$/u.test(ch) ? ch : cp(r[0]?.[0] as number);
    }
    return `[${rangesBody(r)}]`;
  }

  run(): string {
    // What the last item was: nothing a quantifier may follow, an atom, or one that JavaScript
    // repeats only inside a group: an empty-width assertion, or a repeat that a flags group
    // separates from the next quantifier (RE2 allows both); and where that item began.
    let last: 'none' | 'atom' | 'wrap' = 'none';
    let start = 0;
    const item = (kind: 'atom' | 'wrap', text: string) => {
      start = this.out.length;
      this.out += text;
      last = kind;
    };
    const repeat = (q: string) => {
      if (last === 'none') throw new Re2Error(`missing argument to repetition operator ${q}`);
      if (last === 'wrap') this.out = `${this.out.slice(0, start)}(?:${this.out.slice(start)})`;
    };
    while (this.i < this.src.length) {
      const c = this.src[this.i] as string;
      if (c === '\\' && this.peek(1) === 'Q') {
        // \Q…\E: each character a literal item, so a quantifier after it takes the last one.
        const end = this.src.indexOf('\\E', this.i + 2);
        const literal = this.src.slice(this.i + 2, end < 0 ? undefined : end);
        this.i = end < 0 ? this.src.length : end + 2;
        for (const ch of literal) {
          const n = ch.codePointAt(0) as number;
          item('atom', this.set([[n, n]]));
        }
      } else if (c === '\\') {
        const e = this.escape(false);
        if ('ranges' in e) item('atom', this.set(e.ranges));
        else item(e.assertion ? 'wrap' : 'atom', e.text);
      } else if (c === '[') {
        item('atom', this.charClass());
      } else if (c === '(') {
        const at = this.out.length;
        if (this.group(at)) last = 'none';
        // A flags-only group adds nothing: a quantifier after it applies to the item before, as in RE2.
      } else if (c === ')') {
        const scope = this.scopes.pop();
        if (!scope) throw new Re2Error('unexpected )');
        this.flags = scope.flags;
        this.out += ')';
        this.i++;
        start = scope.at;
        last = 'atom';
      } else if (c === '*' || c === '+' || c === '?') {
        repeat(c);
        this.i++;
        this.quantifier(c);
        last = 'wrap';
      } else if (c === '{' && REPEAT.test(this.src.slice(this.i))) {
        const m = REPEAT.exec(this.src.slice(this.i)) as RegExpExecArray;
        repeat(m[0]);
        const lo = Number(m[1]);
        const hi = m[3] ? Number(m[3]) : lo;
        if (lo > 1000 || hi > 1000 || (m[3] !== undefined && m[3] !== '' && hi < lo)) {
          throw new Re2Error(`invalid repeat count ${m[0]}`);
        }
        this.i += m[0].length;
        this.quantifier(m[0]);
        last = 'wrap';
      } else if (c === '.') {
        item('atom', this.flags.s ? '[\\s\\S]' : '[^\\n]');
        this.i++;
      } else if (c === '^') {
        item('wrap', this.flags.m ? '(?:^|(?<=\\n))' : '^');
        this.i++;
      } else if (c === '$') {
        item('wrap', this.flags.m ? '(?:$|(?=\\n))' : '$');
        this.i++;
      } else if (c === '|') {
        this.out += c;
        this.i++;
        last = 'none';
      } else {
        const code = this.src.codePointAt(this.i) as number;
        item('atom', this.set([[code, code]]));
        this.i += String.fromCodePoint(code).length;
      }
    }
    if (this.scopes.length !== 0) throw new Re2Error('missing closing )');
    return this.out;
  }

  private quantifier(q: string): void {
    let lazy = false;
    if (this.peek() === '?') {
      lazy = true;
      this.i++;
    }
    const next = this.peek();
    if (next === '*' || next === '+' || next === '?' || (next === '{' && REPEAT.test(this.src.slice(this.i)))) {
      throw new Re2Error(`bad repetition operator ${q}${lazy ? '?' : ''}${next}`);
    }
    if (this.flags.U) lazy = !lazy;
    this.out += q + (lazy ? '?' : '');
  }

  /** A group's opening; false for a flags-only group, which opens nothing. */
  private group(at: number): boolean {
    const rest = this.src.slice(this.i);
    const open = (text: string, length: number, flags: Flags = this.flags) => {
      this.scopes.push({ flags: this.flags, at });
      this.flags = flags;
      this.out += text;
      this.i += length;
      return true;
    };
    if (!rest.startsWith('(?')) return open('(', 1, { ...this.flags });
    const named = /^\(\?P?<([A-Za-z_][A-Za-z0-9_]*)>/.exec(rest);
    if (named) return open(`(?<${named[1]}>`, named[0].length, { ...this.flags });
    const m = /^\(\?([imsU]*)(?:-([imsU]*))?(:|\))/.exec(rest);
    if (m && m[2] !== '') {
      const flags = { ...this.flags };
      for (const f of m[1] as string) flags[f as keyof Flags] = true;
      for (const f of m[2] ?? '') flags[f as keyof Flags] = false;
      if (m[3] === ':') return open('(?:', m[0].length, flags);
      this.flags = flags; // to the end of the enclosing group
      this.i += m[0].length;
      return false;
    }
    if (/^\(\?<?[=!]/.test(rest)) throw new Re2Error('lookaround assertions are not supported by RE2');
    throw new Re2Error(`invalid or unsupported group ${rest.slice(0, 4)}`);
  }

  private escape(inClass: boolean): Escaped {
    const e = this.peek(1);
    if (e === '') throw new Re2Error('trailing backslash');
    this.i += 2;
    const single = (n: number): Escaped => ({ ranges: [[n, n]] });
    switch (e) {
      case 'd':
      case 's':
      case 'w':
        return { ranges: PERL[e] as Range[] };
      case 'D':
      case 'S':
      case 'W':
        return { ranges: this.negate(PERL[e.toLowerCase()] as Range[]) };
      case 'p':
      case 'P': {
        let name: string;
        if (this.peek() === '{') {
          const close = this.src.indexOf('}', this.i);
          if (close < 0) throw new Re2Error('invalid character class range \\p{');
          name = this.src.slice(this.i + 1, close);
          this.i = close + 1;
        } else {
          name = this.peek();
          if (name === '') throw new Re2Error('invalid escape \\p');
          this.i++;
        }
        return { text: unicodeClass(name, e === 'P'), assertion: false };
      }
      case 'a':
        return single(7);
      case 'f':
        return single(12);
      case 't':
        return single(9);
      case 'n':
        return single(10);
      case 'r':
        return single(13);
      case 'v':
        return single(11);
      case 'x': {
        const braced = /^\{([0-9a-fA-F]+)\}/.exec(this.src.slice(this.i));
        if (braced) {
          const n = parseInt(braced[1] as string, 16);
          if (n > 0x10ffff) throw new Re2Error('invalid escape \\x{…} beyond U+10FFFF');
          this.i += braced[0].length;
          return single(n);
        }
        const two = /^[0-9a-fA-F]{2}/.exec(this.src.slice(this.i));
        if (!two) throw new Re2Error('invalid escape \\x');
        this.i += 2;
        return single(parseInt(two[0], 16));
      }
      case 'Q':
        throw new Re2Error('invalid escape \\Q in a class');
      case 'A':
      case 'z':
      case 'b':
      case 'B':
      case 'C':
        if (inClass) throw new Re2Error(`invalid escape \\${e} in a class`);
        if (e === 'C') return { text: '[\\s\\S]', assertion: false };
        // The RegExp never gets JavaScript's m flag, so ^ and $ are the text's ends. (Lookarounds
        // would not do: V8 tries them between the halves of a surrogate pair.)
        if (e === 'A') return { text: '^', assertion: true };
        if (e === 'z') return { text: '$', assertion: true };
        return { text: `\\${e}`, assertion: true };
      default:
        break;
    }
    if (e >= '0' && e <= '7') {
      // RE2: \0 starts an octal code; \1-\7 only when another octal digit follows (else a backreference).
      const m = /^[0-7]{0,2}/.exec(this.src.slice(this.i)) as RegExpExecArray;
      if (e !== '0' && m[0].length === 0) throw new Re2Error(`backreferences are not supported by RE2 (\\${e})`);
      this.i += m[0].length;
      return single(parseInt(e + m[0], 8));
    }
    if (PUNCT.test(e)) return single(e.charCodeAt(0));
    throw new Re2Error(`invalid escape \\${e}`);
  }

  private charClass(): string {
    this.i++; // [
    const ranges: Range[] = [];
    let extra = ''; // \p classes, which are not ranges
    let negated = false;
    if (this.peek() === '^') {
      negated = true;
      this.i++;
    }
    const one = (): number | undefined => {
      if (this.peek() === '\\') {
        const save = this.i;
        const e = this.escape(true);
        if ('ranges' in e && e.ranges.length === 1 && e.ranges[0]?.[0] === e.ranges[0]?.[1]) return e.ranges[0]?.[0];
        this.i = save;
        return undefined;
      }
      const code = this.src.codePointAt(this.i) as number;
      this.i += String.fromCodePoint(code).length;
      return code;
    };
    let first = true;
    while (true) {
      const c = this.peek();
      if (c === '') throw new Re2Error('missing closing ]');
      if (c === ']' && !first) {
        this.i++;
        break;
      }
      first = false;
      const posix = /^\[:(\^?)([a-z]+):\]/.exec(this.src.slice(this.i));
      if (posix) {
        const r = POSIX[posix[2] as string];
        if (!r) throw new Re2Error(`invalid character class range ${posix[0]}`);
        ranges.push(...(posix[1] ? this.negate(r) : r));
        this.i += posix[0].length;
        continue;
      }
      const lo = one();
      if (lo === undefined) {
        const e = this.escape(true);
        if ('ranges' in e) ranges.push(...e.ranges);
        else extra += e.text;
        continue;
      }
      // A range a-b (a '-' before ']' is literal).
      if (this.peek() === '-' && this.peek(1) !== ']' && this.peek(1) !== '') {
        this.i++;
        const hi = one();
        if (hi === undefined || hi < lo) throw new Re2Error('invalid character class range');
        ranges.push([lo, hi]);
        continue;
      }
      ranges.push([lo, lo]);
    }
    const set = this.fold() ? foldRanges(ranges) : merge(ranges);
    const body = rangesBody(set) + extra;
    if (body === '') return negated ? '[\\s\\S]' : '[^\\s\\S]';
    return `[${negated ? '^' : ''}${body}]`;
  }
}

export function compileRe2(pattern: string, caseInsensitive = false): Re2Result {
  try {
    // With the option and no (?-i) anywhere, i holds for the whole pattern: JavaScript's own
    // i flag is then exact (Unicode classes included), so letters are not expanded.
    // So does a leading (?i) (after anchors only). Elsewhere letters are expanded; a \p class
    // under a scoped (?i) is the one thing then left unfolded.
    const globalI = (caseInsensitive || /^(?:\^|\\A)*\(\?[msU]*i[imsU]*\)/.test(pattern)) && !/\(\?[imsU]*-[imsU]*i/.test(pattern);
    const start: Flags = { i: caseInsensitive, m: false, s: false, U: false };
    const source = new Translator(pattern, start, globalI).run();
    return { ok: true, regex: new RegExp(source, globalI ? 'ui' : 'u') };
  } catch (e) {
    return { ok: false, message: e instanceof Error ? e.message : String(e) };
  }
}
