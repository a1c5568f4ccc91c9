/**
 * Finds every occurrence of many literal strings in one pass over a text (Aho-Corasick over
 * UTF-16 code units). Built once per pattern set; a search costs about one table look-up per
 * character whatever the number of patterns, which keeps log masking flat as secrets grow.
 *
 * Memory is linear in the total pattern length: a trie node with one child (most of them, deep
 * in a pattern) keeps it in two typed-array slots; only branching nodes get a Map. The root has
 * a dense table for ASCII, since almost every character of a text without secrets is read at
 * the root (other characters go through a Map).
 */

export interface Match {
  start: number;
  end: number;
  /** Index of the pattern (as given to the constructor). */
  pattern: number;
}

import { SkipFilter } from './skip-filter.js';

const NONE = -1;
/** Below this mean skip (characters), the pre-filter costs more than the scan it saves. */
const MIN_MEAN_SHIFT = 2;
const MULTI = -2;

export class MultiSearch {
  /** Longest pattern length (0 when there are none). */
  readonly longest: number;
  /** Shortest pattern length (0 when there are none). */
  readonly shortest: number;
  /** Root transitions for ASCII (0: none); `rootWide` for the rest. */
  private readonly rootNext = new Int32Array(128);
  private readonly rootWide = new Map<number, number>();
  private readonly childChar: Int32Array;
  private readonly childNext: Int32Array;
  private readonly multi: Map<number, Map<number, number>>;
  private readonly fail: Int32Array;
  /** Nearest state along the fail chain (itself excluded) where a pattern ends; 0 for none. */
  private readonly dict: Int32Array;
  /** Pattern ending exactly at a state, or NONE. */
  private readonly term: Int32Array;
  /** Some pattern that passes through a state (for naming a partial match). */
  private readonly via: Int32Array;
  private readonly depth: Int32Array;
  private readonly lengths: number[];
  private readonly filter: SkipFilter | null;

  /** Empty patterns are ignored; a text given twice is reported under its first index. */
  constructor(patterns: readonly string[]) {
    const childChar: number[] = [NONE];
    const childNext: number[] = [0];
    const term: number[] = [NONE];
    const via: number[] = [NONE];
    const depth: number[] = [0];
    const multi = new Map<number, Map<number, number>>();
    const rootChildren: number[] = [];
    this.lengths = patterns.map((p) => p.length);
    const nonEmpty = this.lengths.filter((n) => n > 0);
    this.longest = nonEmpty.length ? Math.max(...nonEmpty) : 0;
    this.shortest = nonEmpty.length ? Math.min(...nonEmpty) : 0;

    const add = (parent: number, c: number, p: number): number => {
      const s = childChar.length;
      childChar.push(NONE);
      childNext.push(0);
      term.push(NONE);
      via.push(p);
      depth.push(depth[parent]! + 1);
      if (parent === 0) {
        if (c < 128) this.rootNext[c] = s;
        else this.rootWide.set(c, s);
        rootChildren.push(s);
      } else if (childChar[parent] === NONE) {
        childChar[parent] = c;
        childNext[parent] = s;
      } else {
        let m = multi.get(parent);
        if (!m) {
          m = new Map([[childChar[parent]!, childNext[parent]!]]);
          multi.set(parent, m);
          childChar[parent] = MULTI;
        }
        m.set(c, s);
      }
      return s;
    };
    const step = (s: number, c: number): number => {
      if (s === 0) return (c < 128 ? this.rootNext[c]! : this.rootWide.get(c)) || NONE;
      const cc = childChar[s]!;
      if (cc === c) return childNext[s]!;
      if (cc === MULTI) return multi.get(s)!.get(c) ?? NONE;
      return NONE;
    };

    patterns.forEach((text, p) => {
      if (text.length === 0) return;
      let s = 0;
      for (let i = 0; i < text.length; i++) {
        const c = text.charCodeAt(i);
        const n = step(s, c);
        s = n === NONE ? add(s, c, p) : n;
      }
      if (term[s] === NONE) term[s] = p;
    });

    const filter = nonEmpty.length ? new SkipFilter(patterns.filter((p) => p.length > 0)) : null;
    this.filter = filter && filter.meanShift >= MIN_MEAN_SHIFT ? filter : null;

    const states = childChar.length;
    this.childChar = Int32Array.from(childChar);
    this.childNext = Int32Array.from(childNext);
    this.multi = multi;
    this.term = Int32Array.from(term);
    this.via = Int32Array.from(via);
    this.depth = Int32Array.from(depth);
    this.fail = new Int32Array(states);
    this.dict = new Int32Array(states);

    // Breadth first: a state's fail link is known before its children's.
    const order = new Int32Array(Math.max(1, states - 1));
    order.set(rootChildren);
    let head = 0;
    let tail = rootChildren.length;
    while (head < tail) {
      const s = order[head++]!;
      const kids: [number, number][] = [];
      const cc = this.childChar[s]!;
      if (cc === MULTI) for (const [c, n] of multi.get(s)!) kids.push([c, n]);
      else if (cc !== NONE) kids.push([cc, this.childNext[s]!]);
      for (const [c, n] of kids) {
        let f = this.fail[s]!;
        let t = step(f, c);
        while (t === NONE && f !== 0) {
          f = this.fail[f]!;
          t = step(f, c);
        }
        const target = t === NONE ? 0 : t;
        this.fail[n] = target;
        this.dict[n] = this.term[target] !== NONE ? target : this.dict[target]!;
        order[tail++] = n;
      }
    }
  }

  get empty(): boolean {
    return this.longest === 0;
  }

  /** False when no pattern occurs in `text` (certain, and cheap for a text without any); true: scan it. */
  mayMatch(text: string): boolean {
    if (this.longest === 0 || text.length < this.shortest) return false;
    return this.filter ? this.filter.mayMatch(text) : true;
  }

  /**
   * Every occurrence of every pattern (overlapping ones too), in order of their end, and the
   * length of the longest end of `text` that is the start of some pattern (`pending`), with a
   * pattern it may be the start of.
   */
  scan(text: string): { matches: Match[]; pending: number; pendingPattern: number } {
    const matches: Match[] = [];
    if (this.longest === 0) return { matches, pending: 0, pendingPattern: NONE };
    const { rootNext, rootWide, childChar, childNext, multi, fail, dict, term } = this;
    let s = 0;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      for (;;) {
        if (s === 0) {
          s = c < 128 ? rootNext[c]! : (rootWide.get(c) ?? 0);
          break;
        }
        const cc = childChar[s]!;
        if (cc === c) {
          s = childNext[s]!;
          break;
        }
        if (cc === MULTI) {
          const n = multi.get(s)!.get(c);
          if (n !== undefined) {
            s = n;
            break;
          }
        }
        s = fail[s]!;
      }
      if (s === 0) continue;
      for (let o = term[s] !== NONE ? s : dict[s]!; o !== 0; o = dict[o]!) {
        const p = term[o]!;
        matches.push({ start: i + 1 - this.lengths[p]!, end: i + 1, pattern: p });
      }
    }
    return { matches, pending: this.depth[s]!, pendingPattern: s === 0 ? NONE : this.via[s]! };
  }
}
