/**
 * Reads rollgate.yaml text into a typed ProjectSpec, or throws an invalid_spec error that
 * names the file, line, field and what was expected for every problem found.
 */
import { LineCounter, parseDocument, isNode, type Document } from 'yaml';
import type { z } from 'zod';
import { RollgateError } from './errors.js';
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
  const result = ProjectSpec.safeParse(doc.toJS() ?? {});
  if (!result.success) throw specError(result.error.issues.map((i) => toProblem(i, doc, lines, file)));
  return result.data;
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
