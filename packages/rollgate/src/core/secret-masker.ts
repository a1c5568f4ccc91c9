/**
 * The one masker of secret values in output: instance logs (agent), stage logs and the server's
 * own log. Replaces every known value, in every form a program may print it in (secret-forms.ts),
 * by `[secret:NAME]`.
 */
import { MultiSearch } from './multi-search.js';
import { secretForms } from './secret-forms.js';

/** Shortest secret value (or line of a multi-line value) that is masked; the secrets engine refuses shorter values. */
export const MIN_MASKED_LENGTH = 8;

/**
 * A line cut at a length limit: an end of it this long or longer that is the start of a
 * secret's form is hidden too. Shorter ones are shown: they reveal next to nothing, and hiding
 * them would hide unrelated text.
 */
export const MIN_PARTIAL_MASKED = 4;

/** What a masker offers to code that only masks (stage logs, the server's log). */
export type MaskText = (text: string, opts?: { cut?: boolean }) => string;

/** `value` with every string in it (nested in arrays and objects too) masked; other values as they are. */
export function maskStrings<T>(value: T, mask: (text: string) => string): T {
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return mask(v);
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    return v;
  };
  return walk(value) as T;
}

interface Span {
  start: number;
  end: number;
  names: Set<string>;
}

/**
 * Literal search (no regular expressions), so values with any characters work, and one pass over
 * the text for all forms of all values (the forms and the search are built once per set of
 * values, on the first use after a change). Overlapping occurrences of different values are
 * masked as one span, `[secret:A,B]`, so no part of either shows. A multi-line value is masked
 * line by line (output is captured line by line); lines of it shorter than MIN_MASKED_LENGTH are
 * not masked (they would hide unrelated text). Values are only ever added: an instance started
 * before a rotation still holds, and may print, the old one.
 */
export class SecretMasker {
  /** Form -> names of the values that have it. */
  private readonly forms = new Map<string, Set<string>>();
  /** Values already added, by name, so adding one again costs nothing. */
  private readonly added = new Map<string, Set<string>>();
  private search: MultiSearch | null = null;
  private patterns: string[] = [];

  add(name: string, value: string): void {
    let values = this.added.get(name);
    if (values?.has(value)) return;
    if (!values) this.added.set(name, (values = new Set()));
    values.add(value);
    for (const form of secretForms(value, MIN_MASKED_LENGTH)) {
      let names = this.forms.get(form);
      if (!names) this.forms.set(form, (names = new Set()));
      if (!names.has(name)) {
        names.add(name);
        this.search = null;
      }
    }
  }

  addAll(values: Record<string, string>): void {
    for (const [name, value] of Object.entries(values)) this.add(name, value);
  }

  /** Number of texts searched for (every form of every value). */
  get size(): number {
    return this.forms.size;
  }

  /** Length of the longest masked text (0 when none). */
  get longest(): number {
    return this.searcher().longest;
  }

  /**
   * `text` with every form of every value replaced. `cut`: the text was cut at a length limit,
   * so an end of it that starts a form (at least MIN_PARTIAL_MASKED long) is hidden too.
   */
  mask(text: string, opts: { cut?: boolean } = {}): string {
    const spans = this.spans(text, opts.cut === true);
    if (spans.length === 0) return text;
    let out = '';
    let pos = 0;
    for (const s of spans) {
      out += text.slice(pos, s.start) + `[secret:${[...s.names].join(',')}]`;
      pos = s.end;
    }
    return out + text.slice(pos);
  }

  /**
   * Where a line that is still growing may be cut: the text before the cut holds every secret
   * that starts in it whole, and the rest (an end that may be the start of one) is kept until
   * more arrives.
   */
  safeCut(text: string): number {
    const search = this.searcher();
    if (search.empty) return text.length;
    const { matches, pending } = search.scan(text);
    let cut = text.length - pending;
    for (const s of merge(matches.map((m) => ({ start: m.start, end: m.end, names: new Set<string>() }))).reverse()) if (s.start < cut && cut < s.end) cut = s.start;
    return cut;
  }

  private searcher(): MultiSearch {
    if (!this.search) {
      this.patterns = [...this.forms.keys()];
      this.search = new MultiSearch(this.patterns);
    }
    return this.search;
  }

  /** Merged, ordered spans of every occurrence of every form. */
  private spans(text: string, cut: boolean): Span[] {
    const search = this.searcher();
    if (search.empty || (!cut && !search.mayMatch(text))) return [];
    const { matches, pending, pendingPattern } = search.scan(text);
    const found: Span[] = matches.map((m) => ({ start: m.start, end: m.end, names: this.forms.get(this.patterns[m.pattern]!)! }));
    if (cut && pending >= MIN_PARTIAL_MASKED && pendingPattern >= 0) found.push({ start: text.length - pending, end: text.length, names: this.forms.get(this.patterns[pendingPattern]!)! });
    return merge(found);
  }
}

function merge(found: Span[]): Span[] {
  if (found.length === 0) return [];
  found.sort((a, b) => a.start - b.start || b.end - a.end);
  const merged: Span[] = [];
  for (const f of found) {
    const last = merged[merged.length - 1];
    if (last && f.start < last.end) {
      last.end = Math.max(last.end, f.end);
      for (const n of f.names) last.names.add(n);
    } else {
      merged.push({ start: f.start, end: f.end, names: new Set(f.names) });
    }
  }
  return merged;
}
