/**
 * Reads rollgate.yaml text into a typed ProjectSpec, or throws an invalid_spec error that
 * names the file, line, field and what was expected for every problem found.
 */
import { LineCounter, parseDocument, isMap, isNode, isScalar, isSeq, type Document } from 'yaml';
import type { z } from 'zod';
import { RollgateError, errorMessage } from './errors.js';
import { forbiddenKeyMessage, isForbiddenKey } from './forbidden-keys.js';
import { ProjectSpec } from './project-spec.js';

export interface SpecProblem {
  file: string;
  line: number;
  column: number;
  field: string;
  message: string;
}

export function parseSpec(text: string, file = 'rollgate.yaml'): ProjectSpec {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const problems = doc.errors.map((e) => {
      const pos = lines.linePos(e.pos[0]);
      return { file, line: pos.line, column: pos.col, field: '', message: e.message.split('\n')[0] ?? e.message };
    });
    throw specError(problems);
  }
  const forbidden = forbiddenKeys(doc.contents, [], lines, file);
  if (forbidden.length > 0) throw specError(forbidden);
  let value: unknown;
  try {
    value = doc.toJS();
  } catch (e) {
    // The yaml library refuses alias expansion past its limit (a "billion laughs" file) here.
    throw specError([{ file, line: 1, column: 1, field: '', message: `cannot be read: ${errorMessage(e)}; write the values out instead of nesting aliases` }]);
  }
  const result = ProjectSpec.safeParse(value ?? {});
  if (!result.success) throw specError(result.error.issues.map((i) => toProblem(i, doc, lines, file)));
  return result.data;
}

/** Every `__proto__` / `constructor` / `prototype` key, at any depth, with where it is. */
function forbiddenKeys(node: unknown, path: (string | number)[], lines: LineCounter, file: string): SpecProblem[] {
  const out: SpecProblem[] = [];
  if (isMap(node)) {
    for (const pair of node.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : null;
      if (key !== null && isForbiddenKey(key)) {
        const pos = isNode(pair.key) && pair.key.range ? lines.linePos(pair.key.range[0]) : { line: 1, col: 1 };
        const field = [...path, key].join('.');
        out.push({ file, line: pos.line, column: pos.col, field, message: forbiddenKeyMessage(field, key).slice(field.length + 2) });
      }
      out.push(...forbiddenKeys(pair.value, key === null ? path : [...path, key], lines, file));
    }
  } else if (isSeq(node)) {
    node.items.forEach((item, i) => out.push(...forbiddenKeys(item, [...path, i], lines, file)));
  }
  return out;
}

function toProblem(issue: z.core.$ZodIssue, doc: Document, lines: LineCounter, file: string): SpecProblem {
  const path = issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p));
  // Point at the deepest node of the path that exists (a missing key points at its parent).
  let line = 1;
  let column = 1;
  for (let n = path.length; n >= 0; n--) {
    const node = doc.getIn(path.slice(0, n), true);
    if (isNode(node) && node.range) {
      const pos = lines.linePos(node.range[0]);
      line = pos.line;
      column = pos.col;
      break;
    }
  }
  // Unknown keys: name them, and point at the key itself.
  let message = issue.message;
  if (issue.code === 'unrecognized_keys') {
    message = `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}; check the spelling (see schema/rollgate.schema.json)`;
  } else if (issue.code === 'invalid_type' && /received undefined/.test(issue.message)) {
    message = `required field is missing (expected ${issue.expected})`;
  } else if (issue.code === 'invalid_union') {
    message = unionHint(path);
  }
  return { file, line, column, field: path.join('.') || '(top level)', message };
}

function unionHint(path: (string | number)[]): string {
  const last = String(path.at(-1) ?? '');
  if (last === 'strategy') return 'expected exactly one of: rolling, blueGreen, canary, recreate (e.g. `canary: { steps: [...] }`)';
  if (typeof path.at(-1) === 'number' && path.includes('steps')) return 'expected one of: { setWeight: N }, { pause: { duration: 30s } } or { pause: {} }, { setHeaderRoute: { header, value } }';
  return 'value does not match any allowed form';
}

function specError(problems: SpecProblem[]): RollgateError {
  const lines = problems.map((p) => `${p.file}:${p.line}:${p.column}: ${p.field ? `${p.field}: ` : ''}${p.message}`);
  return new RollgateError('invalid_spec', `${problems[0]?.file ?? 'spec'} is not valid; nothing was deployed. Fix:\n  ${lines.join('\n  ')}`, { problems });
}
