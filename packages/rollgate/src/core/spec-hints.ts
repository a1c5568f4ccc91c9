/**
 * What a spec error says beyond "invalid": the field a misspelt key was meant to be (nearest
 * known field by edit distance), the allowed forms of a strategy or step, and the concrete
 * problem inside a union (zod reports "matches no form" at the outermost union; the user wants
 * the step that is wrong). Known fields come from the same JSON schema editors use.
 */
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { ProjectSpec } from './project-spec.js';

type Json = Record<string, unknown>;
type Issue = z.core.$ZodIssue;
type Path = (string | number)[];

/** Where the schema ships (`rollgate schema` prints it). */
export const SCHEMA_FILE = fileURLToPath(new URL('../../schema/rollgate.schema.json', import.meta.url));
export const SCHEMA_HINT = `the fields and allowed forms are in ${SCHEMA_FILE} (\`rollgate schema\` prints it)`;

export const STEP_FORMS = 'a step is one of: setWeight: N (percent), pause: {duration: 30s} | pause: {} (until rollgate promote), analysis: {duration: 5m, metrics: [...]}, setHeaderRoute: {header: X-Canary, value: "1"}';
export const STRATEGY_FORMS = 'a strategy is one of: rolling: {...}, canary: {steps: [...]}, blueGreen: {...}, recreate: {}';

/** Levenshtein distance (small strings: field names). */
export function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j]!;
      prev[j] = Math.min(up + 1, prev[j - 1]! + 1, diag + (a[i - 1]!.toLowerCase() === b[j - 1]!.toLowerCase() ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length]!;
}

/** The known name closest to `key`, if close enough to be a slip (at most a third of its letters, at least 2). */
export function nearest(key: string, known: readonly string[]): string | null {
  let best: string | null = null;
  let bestD = Infinity;
  for (const k of known) {
    const d = editDistance(key, k);
    if (d < bestD) [best, bestD] = [k, d];
  }
  return best !== null && bestD > 0 && bestD <= Math.max(2, Math.floor(key.length / 3)) ? best : null;
}

let schema: Json | null = null;
function rootSchema(): Json {
  schema ??= z.toJSONSchema(ProjectSpec, { io: 'input', unrepresentable: 'any', target: 'draft-2020-12' }) as Json;
  return schema;
}

function deref(node: Json): Json {
  const ref = node.$ref;
  if (typeof ref !== 'string' || !ref.startsWith('#/')) return node;
  let cur: unknown = rootSchema();
  for (const part of ref.slice(2).split('/')) cur = (cur as Json | undefined)?.[part];
  return deref((cur as Json | undefined) ?? {});
}

/** The schema's alternatives at a node (anyOf/oneOf flattened), each dereferenced. */
function alternatives(node: Json): Json[] {
  const n = deref(node);
  const alts = (n.anyOf ?? n.oneOf) as Json[] | undefined;
  return alts ? alts.flatMap(alternatives) : [n];
}

/** Field names allowed at `path` (an object in the spec), from the JSON schema. */
export function knownFields(path: Path): string[] {
  let nodes: Json[] = [rootSchema()];
  for (const seg of path) {
    const next: Json[] = [];
    for (const n of nodes.flatMap(alternatives)) {
      const props = n.properties as Record<string, Json> | undefined;
      if (typeof seg === 'number') {
        if (n.items && typeof n.items === 'object') next.push(n.items as Json);
      } else if (props?.[seg]) next.push(props[seg]);
      else if (n.additionalProperties && typeof n.additionalProperties === 'object') next.push(n.additionalProperties as Json);
    }
    nodes = next;
  }
  const out = new Set<string>();
  for (const n of nodes.flatMap(alternatives)) for (const k of Object.keys((n.properties as Json | undefined) ?? {})) out.add(k);
  return [...out];
}

/** "unknown field `replica`; did you mean `replicas`?" for each unknown key at `path`. */
export function unknownFieldMessage(keys: readonly string[], path: Path): string {
  const known = knownFields(path);
  const parts = keys.map((k) => {
    const near = nearest(k, known);
    return `unknown field \`${k}\`${near ? `; did you mean \`${near}\`?` : ''}`;
  });
  const list = known.length > 0 && known.length <= 12 && parts.every((p) => !p.includes('did you mean')) ? `; known fields here: ${known.join(', ')}` : '';
  return `${parts.join('; ')}${list}`;
}

/**
 * The concrete issues behind a union issue: the alternative whose own key matched (the step
 * that says `pause:`, the strategy that says `canary:`) is descended into, with absolute paths;
 * when no alternative matches, the union issue itself stays (to be explained by its forms).
 */
export function concreteIssues(issue: Issue, base: Path = []): { issue: Issue; path: Path }[] {
  const path = [...base, ...issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p))];
  if (issue.code !== 'invalid_union' || !('errors' in issue) || !Array.isArray(issue.errors) || issue.errors.length === 0) return [{ issue, path }];
  const matching = issue.errors.filter((branch) => branch.length > 0 && !branch.some((i) => isWrongKind(i)));
  if (matching.length === 0) return [{ issue, path }];
  return matching[0]!.flatMap((i) => concreteIssues(i, path));
}

/** A branch issue that says "this is another form" rather than "this form, wrongly filled". */
function isWrongKind(i: Issue): boolean {
  if (i.code === 'unrecognized_keys' && i.path.length === 0) return true;
  if (i.code === 'invalid_type' && i.path.length <= 1 && /received undefined/.test(i.message)) return true;
  // The whole value is of another type (`- pause` where a map is needed).
  return i.code === 'invalid_type' && i.path.length === 0;
}

/** Explains a union that no form matched: which key was not recognised, the nearest one, and the forms. */
export function unionMessage(path: Path, value: unknown): string {
  const last = path.at(-1);
  const isStep = typeof last === 'number' && path.at(-2) === 'steps';
  const isStrategy = last === 'strategy';
  const forms = isStep ? STEP_FORMS : isStrategy ? STRATEGY_FORMS : 'the value matches none of the allowed forms';
  const what = isStep ? 'step' : 'strategy';
  if ((isStep || isStrategy) && value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const keys = Object.keys(value);
    const known = knownFields(path);
    const unknown = keys.filter((k) => !known.includes(k));
    if (keys.length !== 1) return `a ${what} has exactly one key${keys.length > 1 ? ` (found ${keys.map((k) => `\`${k}\``).join(', ')})` : ''}; ${forms}`;
    const near = unknown[0] ? nearest(unknown[0], known) : null;
    if (unknown[0]) return `unknown ${what} \`${unknown[0]}\`;${near ? ` did you mean \`${near}\`?` : ''} ${forms}`;
  }
  if (isStep || isStrategy) return `not a ${what}; ${forms}`;
  return forms;
}

/** What a bare `pause:` (or another step key with no value) needs. */
export function stepValueMessage(key: string): string | null {
  if (key === 'pause') return '`pause` needs a value: pause: {duration: 30s} to hold for a time, or pause: {} to hold until `rollgate promote`';
  if (key === 'setWeight') return '`setWeight` takes a percentage of traffic, a whole number from 0 to 100 (setWeight: 20)';
  if (key === 'analysis') return '`analysis` needs at least a duration: analysis: {duration: 5m}';
  if (key === 'setHeaderRoute') return '`setHeaderRoute` needs a header and a value: setHeaderRoute: {header: X-Canary, value: "1"}';
  return null;
}
