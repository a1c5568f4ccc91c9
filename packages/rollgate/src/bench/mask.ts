/**
 * bench:mask — cost of masking log lines, the one-pass masker (core/secret-masker.ts, one
 * Aho-Corasick scan for every form of every secret) against its peer in the same run: the
 * previous approach, one `indexOf` pass per masked text, given the same forms ("indexOf, all
 * forms") and given only the raw and JSON-escaped forms it searched before ("indexOf, raw+JSON").
 * Lines are typical structured log lines, 1 in 100 holding a secret in some form. Reports
 * nanoseconds per line and the ratio to the peer. Writes bench/results/mask.json.
 *
 * Env: BENCH_LINES (default 20000 lines per measured pass), BENCH_ROUNDS (default 5; best kept).
 */
import { MIN_MASKED_LENGTH, SecretMasker } from '../core/secret-masker.js';
import { secretForms } from '../core/secret-forms.js';
import { machineInfo, printTable, writeResult } from './lib/results.js';

const LINES = Number(process.env.BENCH_LINES ?? 20_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);

/** The previous masker's search: every masked text with its own indexOf loop, spans merged. */
class IndexOfMasker {
  private readonly texts = new Map<string, string>();
  constructor(values: Record<string, string>, forms: (v: string) => string[]) {
    for (const [name, v] of Object.entries(values)) for (const f of forms(v)) this.texts.set(f, name);
  }
  get size(): number {
    return this.texts.size;
  }
  mask(text: string): string {
    const found: { start: number; end: number; name: string }[] = [];
    for (const [t, name] of this.texts) for (let i = text.indexOf(t); i >= 0; i = text.indexOf(t, i + 1)) found.push({ start: i, end: i + t.length, name });
    if (found.length === 0) return text;
    found.sort((a, b) => a.start - b.start || b.end - a.end);
    let out = '';
    let pos = 0;
    let end = -1;
    for (const f of found) {
      if (f.start < end) continue;
      out += text.slice(pos, f.start) + `[secret:${f.name}]`;
      pos = end = f.end;
    }
    return out + text.slice(pos);
  }
}

/** Deterministic pseudo-random values (no Math.random: the same run every time). */
function values(n: number): Record<string, string> {
  const out: Record<string, string> = {};
  let x = 12345;
  const next = () => (x = (x * 1103515245 + 12345) % 2 ** 31);
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"\\/+ é';
  for (let i = 0; i < n; i++) {
    let v = '';
    for (let j = 0; j < 24 + (i % 17); j++) v += alphabet[next() % alphabet.length];
    out[`SECRET_${i}`] = v;
  }
  return out;
}

function lines(secrets: Record<string, string>, count: number): string[] {
  const vals = Object.values(secrets);
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const base = `{"level":"info","at":"2026-12-03T12:00:${String(i % 60).padStart(2, '0')}Z","msg":"handled request","path":"/api/orders/${i}","status":200,"ms":${i % 97}}`;
    if (i % 100 === 0) {
      const v = vals[i % vals.length]!;
      const form = [v, Buffer.from(v).toString('base64'), Buffer.from(v).toString('hex'), encodeURIComponent(v)][i % 4];
      out.push(`${base} token=${form}`);
    } else out.push(base);
  }
  return out;
}

function timePerLine(mask: (t: string) => string, input: string[]): number {
  let best = Infinity;
  for (let r = 0; r < ROUNDS; r++) {
    let sink = 0;
    const t0 = process.hrtime.bigint();
    for (const l of input) sink += mask(l).length;
    const ns = Number(process.hrtime.bigint() - t0) / input.length;
    if (sink < 0) console.log(sink); // keeps the work
    best = Math.min(best, ns);
  }
  return best;
}

const rawAndJson = (v: string) => [...new Set([...v.split(/\r?\n/), JSON.stringify(v).slice(1, -1)])].filter((f) => f.length >= MIN_MASKED_LENGTH);
const allForms = (v: string) => secretForms(v, MIN_MASKED_LENGTH);

async function main(): Promise<void> {
  const rows: Array<Array<string | number>> = [];
  const results: Record<string, unknown>[] = [];
  for (const n of [1, 10, 100]) {
    const secrets = values(n);
    const input = lines(secrets, LINES);
    const masker = new SecretMasker();
    masker.addAll(secrets);
    const peerAll = new IndexOfMasker(secrets, allForms);
    const peerOld = new IndexOfMasker(secrets, rawAndJson);
    // The same output as the peer with the same forms: the comparison is of equal work.
    for (const l of input.slice(0, 500)) if (!masker.mask(l).includes('[secret:') !== !peerAll.mask(l).includes('[secret:')) throw new Error(`the maskers disagree on: ${l}`);
    for (const m of [masker, peerAll, peerOld]) timePerLine((t) => m.mask(t), input.slice(0, 2000)); // warm-up
    const ns = { onePass: timePerLine((t) => masker.mask(t), input), indexOfAllForms: timePerLine((t) => peerAll.mask(t), input), indexOfRawJson: timePerLine((t) => peerOld.mask(t), input) };
    const r = {
      secrets: n,
      searchedTexts: masker.size,
      nsPerLine: { onePass: Math.round(ns.onePass), indexOfAllForms: Math.round(ns.indexOfAllForms), indexOfRawJson: Math.round(ns.indexOfRawJson) },
      ratioOnePassToIndexOfAllForms: Math.round((ns.onePass / ns.indexOfAllForms) * 100) / 100,
      ratioOnePassToIndexOfRawJson: Math.round((ns.onePass / ns.indexOfRawJson) * 100) / 100,
    };
    results.push(r);
    rows.push([n, masker.size, r.nsPerLine.onePass, r.nsPerLine.indexOfAllForms, r.nsPerLine.indexOfRawJson, r.ratioOnePassToIndexOfAllForms, r.ratioOnePassToIndexOfRawJson]);
  }
  printTable(['secrets', 'texts', 'one pass ns/line', 'indexOf all ns/line', 'indexOf raw+JSON ns/line', 'ratio vs all', 'ratio vs raw+JSON'], rows);
  const path = await writeResult('mask', { bench: 'mask', at: new Date().toISOString(), machine: machineInfo(), linesPerPass: LINES, rounds: ROUNDS, lineBytes: lines(values(1), 1)[0]!.length, results });
  console.log(`wrote ${path}`);
}

await main();
