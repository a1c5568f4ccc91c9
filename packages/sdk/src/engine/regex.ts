// REGEX constraints use RE2 syntax, as Unleash's SDKs do (the Node client through re2js): this
// turns an RE2 pattern into an equivalent JavaScript RegExp, and refuses what RE2 refuses
// (lookarounds, backreferences, atomic groups, repetition over 1000) so that it never matches.
// One approximation: inline flags ((?i), (?m), (?s), (?U)) apply to the whole pattern, which is
// exact where they lead the pattern or its top level, the way they are written in practice.

export type Re2Result = { ok: true; regex: RegExp } | { ok: false; message: string };

class Re2Error extends Error {}

// JavaScript (unicode mode) needs these escaped outside a class to be literal.
const SYNTAX = new Set('^$\\.*+?()[]{}|/'.split(''));
const PUNCT = /^[!-/:-@[-`{-~]$/;
const GENERAL_CATEGORY = /^(?:[LMNPSZC][a-z]?|L&)$/;

type Range = [number, number];
const POSIX: Record<string, Range[]> = {
  alnum: [[0x30, 0x39], [0x41, 0x5a], [0x61, 0x7a]],
  alpha: [[0x41, 0x5a], [0x61, 0x7a]],
  ascii: [[0x00, 0x7f]],
  blank: [[0x09, 0x09], [0x20, 0x20]],
  cntrl: [[0x00, 0x1f], [0x7f, 0x7f]],
  digit: [[0x30, 0x39]],
  graph: [[0x21, 0x7e]],
  lower: [[0x61, 0x7a]],
  print: [[0x20, 0x7e]],
  punct: [[0x21, 0x2f], [0x3a, 0x40], [0x5b, 0x60], [0x7b, 0x7e]],
  space: [[0x09, 0x0d], [0x20, 0x20]],
  upper: [[0x41, 0x5a]],
  word: [[0x30, 0x39], [0x41, 0x5a], [0x61, 0x7a], [0x5f, 0x5f]],
  xdigit: [[0x30, 0x39], [0x41, 0x46], [0x61, 0x66]],
};
// RE2's Perl classes are ASCII-only (JavaScript's \s is Unicode).
const PERL: Record<string, Range[]> = {
  d: [[0x30, 0x39]],
  s: [[0x09, 0x0a], [0x0c, 0x0d], [0x20, 0x20]],
  w: POSIX.word as Range[],
};

function cp(n: number): string {
  return `\\u{${n.toString(16)}}`;
}

function complement(ranges: Range[]): Range[] {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  const out: Range[] = [];
  let next = 0;
  for (const [lo, hi] of sorted) {
    if (lo > next) out.push([next, lo - 1]);
    next = Math.max(next, hi + 1);
  }
  if (next <= 0x10ffff) out.push([next, 0x10ffff]);
  return out;
}

function rangesBody(ranges: Range[]): string {
  return ranges.map(([lo, hi]) => (lo === hi ? cp(lo) : `${cp(lo)}-${cp(hi)}`)).join('');
}

function unicodeClass(name: string, negated: boolean): string {
  let n = name;
  let neg = negated;
  if (n.startsWith('^')) {
    n = n.slice(1);
    neg = !neg;
  }
  if (n === 'Any') return neg ? '[^\\s\\S]' : '[\\s\\S]';
  const prop = GENERAL_CATEGORY.test(n) ? (n === 'L&' ? 'LC' : n) : `Script=${n}`;
  return `${neg ? '\\P' : '\\p'}{${prop}}`;
}

interface Flags {
  i: boolean;
  m: boolean;
  s: boolean;
  U: boolean;
}

class Translator {
  private i = 0;
  private out = '';
  private depth = 0;
  constructor(
    private readonly src: string,
    private readonly flags: Flags,
  ) {}

  private peek(k = 0): string {
    return this.src[this.i + k] ?? '';
  }

  run(): string {
    let canRepeat = false; // whether the last item can take a quantifier
    while (this.i < this.src.length) {
      const c = this.src[this.i] as string;
      if (c === '\\') {
        const item = this.escape(false);
        this.out += item.text;
        canRepeat = item.repeatable;
      } else if (c === '[') {
        this.out += this.charClass();
        canRepeat = true;
      } else if (c === '(') {
        this.group();
        canRepeat = false; // set after the matching ')'
      } else if (c === ')') {
        if (this.depth === 0) throw new Re2Error('unexpected )');
        this.depth--;
        this.out += ')';
        this.i++;
        canRepeat = true;
      } else if (c === '*' || c === '+' || c === '?') {
        if (!canRepeat) throw new Re2Error(`missing argument to repetition operator ${c}`);
        this.i++;
        this.quantifier(c);
        canRepeat = false;
      } else if (c === '{' && /^\{\d+(,\d*)?\}/.test(this.src.slice(this.i))) {
        const m = /^\{(\d+)(,(\d*))?\}/.exec(this.src.slice(this.i)) as RegExpExecArray;
        if (!canRepeat) throw new Re2Error(`missing argument to repetition operator ${m[0]}`);
        const lo = Number(m[1]);
        const hi = m[3] ? Number(m[3]) : lo;
        if (lo > 1000 || hi > 1000 || (m[3] !== undefined && m[3] !== '' && hi < lo)) {
          throw new Re2Error(`invalid repeat count ${m[0]}`);
        }
        this.i += m[0].length;
        this.quantifier(m[0]);
        canRepeat = false;
      } else if (c === '.') {
        this.out += this.flags.s ? '[\\s\\S]' : '[^\\n]';
        this.i++;
        canRepeat = true;
      } else if (c === '^' || c === '$' || c === '|') {
        this.out += c;
        this.i++;
        canRepeat = false;
      } else {
        const code = this.src.codePointAt(this.i) as number;
        const ch = String.fromCodePoint(code);
        this.out += SYNTAX.has(ch) ? `\\${ch}` : ch;
        this.i += ch.length;
        canRepeat = true;
      }
    }
    if (this.depth !== 0) throw new Re2Error('missing closing )');
    return this.out;
  }

  private quantifier(q: string): void {
    let lazy = false;
    if (this.peek() === '?') {
      lazy = true;
      this.i++;
    }
    const next = this.peek();
    if (next === '*' || next === '+' || next === '?' || (next === '{' && /^\{\d+(,\d*)?\}/.test(this.src.slice(this.i)))) {
      throw new Re2Error(`bad repetition operator ${q}${lazy ? '?' : ''}${next}`);
    }
    if (this.flags.U) lazy = !lazy;
    this.out += q + (lazy ? '?' : '');
  }

  private group(): void {
    const rest = this.src.slice(this.i);
    if (!rest.startsWith('(?')) {
      this.out += '(';
      this.i++;
      this.depth++;
      return;
    }
    const named = /^\(\?P?<([A-Za-z_][A-Za-z0-9_]*)>/.exec(rest);
    if (named) {
      this.out += `(?<${named[1]}>`;
      this.i += named[0].length;
      this.depth++;
      return;
    }
    const flags = /^\(\?([imsU]*(?:-[imsU]*)?)(:|\))/.exec(rest);
    if (flags && flags[1] !== '-' && !(flags[1] ?? '').endsWith('-') && !(flags[1] === '' && flags[2] === ')')) {
      this.i += flags[0].length;
      if (flags[2] === ':') {
        this.out += '(?:';
        this.depth++;
      }
      return; // the flags themselves were applied to the whole pattern beforehand
    }
    if (/^\(\?<?[=!]/.test(rest)) throw new Re2Error('lookaround assertions are not supported by RE2');
    throw new Re2Error(`invalid or unsupported group ${rest.slice(0, 4)}`);
  }

  /** An escape outside (inClass false) or inside a class; inside, returns class-body text. */
  private escape(inClass: boolean): { text: string; repeatable: boolean; ranges?: Range[] } {
    const e = this.peek(1);
    if (e === '') throw new Re2Error('trailing backslash');
    this.i += 2;
    switch (e) {
      case 'd':
      case 's':
      case 'w':
        return { text: inClass ? rangesBody(PERL[e] as Range[]) : `[${rangesBody(PERL[e] as Range[])}]`, repeatable: true };
      case 'D':
      case 'S':
      case 'W': {
        const inverse = complement(PERL[e.toLowerCase()] as Range[]);
        return { text: inClass ? rangesBody(inverse) : `[${rangesBody(inverse)}]`, repeatable: true };
      }
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
        return { text: unicodeClass(name, e === 'P'), repeatable: true };
      }
      case 'a':
        return { text: cp(7), repeatable: true };
      case 'f':
        return { text: '\\f', repeatable: true };
      case 't':
        return { text: '\\t', repeatable: true };
      case 'n':
        return { text: '\\n', repeatable: true };
      case 'r':
        return { text: '\\r', repeatable: true };
      case 'v':
        return { text: '\\v', repeatable: true };
      case 'x': {
        const braced = /^\{([0-9a-fA-F]+)\}/.exec(this.src.slice(this.i));
        if (braced) {
          const n = parseInt(braced[1] as string, 16);
          if (n > 0x10ffff) throw new Re2Error('invalid escape \\x{…} beyond U+10FFFF');
          this.i += braced[0].length;
          return { text: cp(n), repeatable: true };
        }
        const two = /^[0-9a-fA-F]{2}/.exec(this.src.slice(this.i));
        if (!two) throw new Re2Error('invalid escape \\x');
        this.i += 2;
        return { text: cp(parseInt(two[0], 16)), repeatable: true };
      }
      case 'Q': {
        if (inClass) throw new Re2Error('invalid escape \\Q in a class');
        const end = this.src.indexOf('\\E', this.i);
        const literal = this.src.slice(this.i, end < 0 ? undefined : end);
        this.i = end < 0 ? this.src.length : end + 2;
        let text = '';
        for (const ch of literal) text += SYNTAX.has(ch) ? `\\${ch}` : ch;
        // A quantifier after \Q…\E applies to its last character, as in RE2.
        return { text, repeatable: literal.length > 0 };
      }
      case 'A':
      case 'z':
      case 'b':
      case 'B':
      case 'C':
        if (inClass) throw new Re2Error(`invalid escape \\${e} in a class`);
        if (e === 'A') return { text: '(?<![\\s\\S])', repeatable: false };
        if (e === 'z') return { text: '(?![\\s\\S])', repeatable: false };
        if (e === 'C') return { text: '[\\s\\S]', repeatable: true };
        return { text: `\\${e}`, repeatable: false };
      default:
        break;
    }
    if (e >= '0' && e <= '7') {
      // RE2: \0 starts an octal code; \1-\7 only when another octal digit follows (else a backreference).
      const m = /^[0-7]{0,2}/.exec(this.src.slice(this.i)) as RegExpExecArray;
      if (e !== '0' && m[0].length === 0) throw new Re2Error(`backreferences are not supported by RE2 (\\${e})`);
      this.i += m[0].length;
      return { text: cp(parseInt(e + m[0], 8)), repeatable: true };
    }
    if (PUNCT.test(e)) {
      const needs = inClass ? '\\]^-['.includes(e) : SYNTAX.has(e);
      return { text: needs ? `\\${e}` : e, repeatable: true };
    }
    throw new Re2Error(`invalid escape \\${e}`);
  }

  private charClass(): string {
    this.i++; // [
    let body = '';
    let negated = false;
    if (this.peek() === '^') {
      negated = true;
      this.i++;
    }
    let first = true;
    let prev: number | undefined; // a single character that may start a range
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
        const ranges = POSIX[posix[2] as string];
        if (!ranges) throw new Re2Error(`invalid character class range ${posix[0]}`);
        body += rangesBody(posix[1] ? complement(ranges) : ranges);
        this.i += posix[0].length;
        prev = undefined;
        continue;
      }
      let code: number;
      if (c === '\\') {
        const save = this.i;
        const item = this.escape(true);
        const single = /^(?:\\u\{([0-9a-f]+)\}|\\([fnrtv])|\\?(.))$/su.exec(item.text);
        if (!single) {
          body += item.text;
          prev = undefined;
          continue;
        }
        code = single[1] !== undefined
          ? parseInt(single[1], 16)
          : single[2] !== undefined
            ? ({ f: 12, n: 10, r: 13, t: 9, v: 11 } as Record<string, number>)[single[2]] as number
            : (single[3] as string).codePointAt(0) as number;
        void save;
      } else {
        code = this.src.codePointAt(this.i) as number;
        this.i += String.fromCodePoint(code).length;
      }
      // A range a-b (a '-' before ']' is literal).
      if (this.peek() === '-' && this.peek(1) !== ']' && this.peek(1) !== '') {
        this.i++;
        let hi: number;
        if (this.peek() === '\\') {
          const item = this.escape(true);
          const single = /^(?:\\u\{([0-9a-f]+)\}|\\?(.))$/su.exec(item.text);
          if (!single) throw new Re2Error('invalid character class range');
          hi = single[1] !== undefined ? parseInt(single[1], 16) : (single[2] as string).codePointAt(0) as number;
        } else {
          hi = this.src.codePointAt(this.i) as number;
          this.i += String.fromCodePoint(hi).length;
        }
        if (hi < code) throw new Re2Error('invalid character class range');
        body += `${cp(code)}-${cp(hi)}`;
        prev = undefined;
        continue;
      }
      body += cp(code);
      prev = code;
    }
    void prev;
    if (body === '') return negated ? '[\\s\\S]' : '[^\\s\\S]';
    return `[${negated ? '^' : ''}${body}]`;
  }
}

/** Flags set anywhere by (?flags) or (?flags:…), outside classes and escapes. */
function inlineFlags(src: string): Flags {
  const flags: Flags = { i: false, m: false, s: false, U: false };
  let inClass = false;
  for (let i = 0; i < src.length; i++) {
    const c = src[i];
    if (c === '\\') {
      i++;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      continue;
    }
    if (c === '[') {
      inClass = true;
      if (src[i + 1] === '^') i++;
      if (src[i + 1] === ']') i++;
      continue;
    }
    if (c === '(' && src[i + 1] === '?') {
      const m = /^\(\?([imsU]*)(?:-[imsU]*)?[:)]/.exec(src.slice(i));
      if (m) for (const f of m[1] as string) flags[f as keyof Flags] = true;
    }
  }
  return flags;
}

export function compileRe2(pattern: string, caseInsensitive = false): Re2Result {
  try {
    const flags = inlineFlags(pattern);
    if (caseInsensitive) flags.i = true;
    const source = new Translator(pattern, flags).run();
    const regex = new RegExp(source, `u${flags.i ? 'i' : ''}${flags.m ? 'm' : ''}`);
    return { ok: true, regex };
  } catch (e) {
    return { ok: false, message: e instanceof Error ? e.message : String(e) };
  }
}
