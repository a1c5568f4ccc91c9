/**
 * Reads rollgate.yaml text into a typed ProjectSpec, or throws an invalid_spec error that
 * names the file, line, field and what was expected for every problem found.
 */
import { LineCounter, parseDocument, isMap, isNode, isScalar, isSeq, type Document } from 'yaml';
import type { z } from 'zod';
import { RollgateError, errorMessage } from './errors.js';
import { forbiddenKeyMessage, isForbiddenKey } from './forbidden-keys.js';
import { ProjectSpec } from './project-spec.js';
import { SCHEMA_HINT, STEP_FORMS, concreteIssues, stepValueMessage, unionMessage, unknownFieldMessage } from './spec-hints.js';

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
  if (!result.success) throw specError(result.error.issues.flatMap((i) => toProblems(i, doc, lines, file)));
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

function toProblems(issue: z.core.$ZodIssue, doc: Document, lines: LineCounter, file: string): SpecProblem[] {
  return concreteIssues(issue).map(({ issue: i, path }) => toProblem(i, path, doc, lines, file));
}

function toProblem(issue: z.core.$ZodIssue, path: (string | number)[], doc: Document, lines: LineCounter, file: string): SpecProblem {
  // A problem in a step (or its one key) points at the step itself: `- setWieght: 20` at its own line.
  const stepAt = path.findIndex((p, i) => p === 'steps' && typeof path[i + 1] === 'number');
  const inStep = stepAt >= 0 && path.length <= stepAt + 3;
  const anchor = inStep ? path.slice(0, stepAt + 2) : path;
  let line = 1;
  let column = 1;
  // Otherwise point at the deepest node of the path that exists (a missing key points at its parent).
  for (let n = anchor.length; n >= 0; n--) {
    const node = doc.getIn(anchor.slice(0, n), true);
    if (isNode(node) && node.range) {
      const pos = lines.linePos(node.range[0]);
      line = pos.line;
      column = pos.col;
      break;
    }
  }
  let message = issue.message;
  if (issue.code === 'unrecognized_keys') {
    message = unknownFieldMessage(issue.keys, path);
    // Point at the unknown key itself, not at the map holding it.
    const map = doc.getIn(path, true);
    const pair = isMap(map) ? map.items.find((p) => isScalar(p.key) && String(p.key.value) === issue.keys[0]) : undefined;
    if (pair && isNode(pair.key) && pair.key.range) {
      const pos = lines.linePos(pair.key.range[0]);
      line = pos.line;
      column = pos.col;
    }
  } else if (issue.code === 'invalid_union') {
    const node = doc.getIn(path, true);
    message = unionMessage(path, isNode(node) ? node.toJSON() : node);
  } else if (inStep && path.length === stepAt + 3 && issue.code === 'invalid_type') {
    const hint = stepValueMessage(String(path[stepAt + 2]));
    message = `${hint ?? issue.message}; ${STEP_FORMS}`;
  } else if (issue.code === 'invalid_type' && /received undefined/.test(issue.message)) {
    message = `required field is missing (expected ${issue.expected})`;
  }
  return { file, line, column, field: fieldName(path), message };
}

/** `environments.production.strategy.canary.steps[1]`: indexes as a reader writes them. */
function fieldName(path: (string | number)[]): string {
  return path.reduce<string>((acc, p) => (typeof p === 'number' ? `${acc}[${p}]` : acc ? `${acc}.${p}` : p), '') || '(top level)';
}

function specError(problems: SpecProblem[]): RollgateError {
  const lines = problems.map((p) => `${p.file}:${p.line}:${p.column}: ${p.field ? `${p.field}: ` : ''}${p.message}`);
  // No word on deploying: `validate` reports the same problems, and it deploys nothing by design.
  return new RollgateError('invalid_spec', `${problems[0]?.file ?? 'spec'} is not valid. Fix:\n  ${lines.join('\n  ')}\n${SCHEMA_HINT}`, { problems });
}
