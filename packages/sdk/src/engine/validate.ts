// Checks a state's values beyond its shape: what would make a rule never match, or match by
// accident (an invalid regex, semver, CIDR or date, weights that do not add up, a dependency cycle,
// a segment or parent that does not exist). The server refuses such a state before storing it.
import { OPERATORS } from './constraints.js';
import { parseIp, parseIPv4 } from './ip.js';
import { compileRe2 } from './regex.js';
import { parseSemver } from './semver.js';
import type { ClientFeatures, Constraint, Feature, Strategy, Variant } from './types.js';

export interface RuleProblem {
  /** Where, as a JSON path into the state: "features[2].strategies[0].constraints[1].value". */
  path: string;
  /** What is wrong and what is expected, for a user to act on. */
  message: string;
}

const LIST_OPERATORS = new Set(['IN', 'NOT_IN', 'STR_CONTAINS', 'STR_STARTS_WITH', 'STR_ENDS_WITH', 'IN_CIDR']);
const ISO_DATE = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/;
const NUMBER = /^\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*$/;
const ROLLOUT_PARAM: Record<string, string> = {
  flexibleRollout: 'rollout',
  gradualRolloutUserId: 'percentage',
  gradualRolloutSessionId: 'percentage',
  gradualRolloutRandom: 'percentage',
};

type Report = (path: string, message: string) => void;

function checkConstraint(c: Constraint, path: string, report: Report): void {
  const op = c.operator as string;
  if (!OPERATORS.has(op)) {
    report(`${path}.operator`, `unknown operator ${JSON.stringify(op)}: expected one of ${[...OPERATORS].join(', ')} (an unknown operator never matches)`);
    return;
  }
  if (typeof c.contextName !== 'string' || c.contextName === '') {
    report(`${path}.contextName`, 'expected the name of a context field');
  }
  if (LIST_OPERATORS.has(op)) {
    if (!Array.isArray(c.values)) {
      report(`${path}.values`, `${op} needs a list of values`);
      return;
    }
    if (op === 'IN_CIDR') {
      c.values.forEach((v, i) => {
        if (!parseIp(String(v).trim())) report(`${path}.values[${i}]`, `${JSON.stringify(v)} is not an IP address or CIDR range: expected e.g. 10.0.0.0/8, 192.168.1.7 or 2001:db8::/32`);
      });
    }
    return;
  }
  const value = c.value;
  const shown = JSON.stringify(value);
  if (op.startsWith('NUM_')) {
    if (typeof value !== 'string' && typeof value !== 'number') report(`${path}.value`, `${op} needs a number in value`);
    else if (!NUMBER.test(String(value))) report(`${path}.value`, `${shown} is not a number: ${op} expects a decimal number such as 42 or 3.5`);
  } else if (op.startsWith('DATE_')) {
    if (typeof value !== 'string' || !ISO_DATE.test(value) || Number.isNaN(Date.parse(value))) {
      report(`${path}.value`, `${shown} is not a date: ${op} expects an ISO 8601 date-time such as 2025-01-31T12:00:00Z`);
    }
  } else if (op.startsWith('SEMVER_')) {
    if (typeof value !== 'string' || value.trim().startsWith('v') || !parseSemver(value)) {
      report(`${path}.value`, `${shown} is not a semantic version: ${op} expects MAJOR.MINOR.PATCH with an optional -prerelease, such as 1.4.0 or 2.0.0-beta.1, without a leading v`);
    }
  } else if (op === 'REGEX') {
    if (typeof value !== 'string') {
      report(`${path}.value`, 'REGEX needs a pattern in value');
    } else {
      const r = compileRe2(value, c.caseInsensitive === true);
      if (!r.ok) report(`${path}.value`, `${shown} is not a valid RE2 regular expression (${r.message}): a pattern that does not compile never matches`);
    }
  }
}

function checkVariants(variants: Variant[], path: string, report: Report): void {
  if (variants.length === 0) return;
  const seen = new Map<string, number>();
  let total = 0;
  let fixed = 0;
  let typed = 0;
  let badWeight = false; // then the sums say nothing more
  variants.forEach((v, i) => {
    const at = `${path}[${i}]`;
    if (typeof v.name !== 'string' || v.name === '') report(`${at}.name`, 'expected a variant name');
    else if (seen.has(v.name)) report(`${at}.name`, `duplicate variant name ${JSON.stringify(v.name)} (also ${path}[${seen.get(v.name)}]): variant names must be unique within a list`);
    else seen.set(v.name, i);
    const w = v.weight;
    if (typeof w !== 'number' || !Number.isInteger(w) || w < 0 || w > 1000) {
      report(`${at}.weight`, `weight ${JSON.stringify(w)}: expected a whole number from 0 to 1000`);
      badWeight = true;
    } else {
      total += w;
      if (v.weightType === 'fix') fixed += w;
    }
    if (v.weightType !== undefined) {
      typed++;
      if (v.weightType !== 'fix' && v.weightType !== 'variable') report(`${at}.weightType`, `weightType ${JSON.stringify(v.weightType)}: expected "fix" or "variable"`);
    }
    if (v.payload) {
      const { type, value } = v.payload;
      if (!['string', 'json', 'csv', 'number'].includes(type)) report(`${at}.payload.type`, `payload type ${JSON.stringify(type)}: expected string, json, csv or number`);
      else if (typeof value !== 'string') report(`${at}.payload.value`, 'expected the payload as a string');
      else if (type === 'number' && !NUMBER.test(value)) report(`${at}.payload.value`, `${JSON.stringify(value)} is not a number, as payload type number requires`);
      else if (type === 'json') {
        try {
          JSON.parse(value);
        } catch {
          report(`${at}.payload.value`, 'not valid JSON, as payload type json requires');
        }
      }
    }
  });
  if (badWeight) return;
  if (fixed > 1000) report(path, `fix weights add up to ${fixed}: they may share at most 1000`);
  else if (typed === variants.length && total !== 1000) {
    report(path, `weights add up to ${total}: with weightType given, the weights are final and must add up to 1000`);
  } else if (total === 0) report(path, 'weights add up to 0: no variant would ever be chosen; give at least one a positive weight');
}

function checkStrategy(s: Strategy, path: string, segmentIds: Set<number>, report: Report): void {
  const p = s.parameters ?? {};
  const key = ROLLOUT_PARAM[s.name];
  if (key !== undefined) {
    const raw = p[key];
    const n = Number(raw);
    if (raw === undefined || raw === '' || !NUMBER.test(String(raw)) || n < 0 || n > 100) {
      report(`${path}.parameters.${key}`, `${key} ${JSON.stringify(raw)}: expected a percentage from 0 to 100`);
    }
  }
  if (s.name === 'remoteAddress' && p.IPs !== undefined) {
    String(p.IPs).split(/\s*,\s*/).forEach((ip) => {
      if (!parseIPv4(ip) && !parseIp(ip)) report(`${path}.parameters.IPs`, `${JSON.stringify(ip)} is not an IP address or IPv4 CIDR range: expected e.g. 192.168.0.1 or 10.0.0.0/8`);
    });
  }
  (s.constraints ?? []).forEach((c, i) => checkConstraint(c, `${path}.constraints[${i}]`, report));
  (s.segments ?? []).forEach((id, i) => {
    if (!segmentIds.has(id)) report(`${path}.segments[${i}]`, `segment ${id} is not in the state: a strategy with a missing segment never matches`);
  });
  if (s.variants) checkVariants(s.variants, `${path}.variants`, report);
}

/** Cycles among the flags' dependencies (a flag depending on itself included), each once. */
function checkDependencies(features: Feature[], report: Report): void {
  const index = new Map<string, number>();
  features.forEach((f, i) => { if (!index.has(f.name)) index.set(f.name, i); });
  const parents = (f: Feature) => (f.dependencies ?? []).map((d) => d.feature);
  const state = new Map<string, 'open' | 'done'>();
  const onCycle = new Set<string>();
  const stack: string[] = [];
  const visit = (name: string): void => {
    state.set(name, 'open');
    stack.push(name);
    const f = features[index.get(name) as number] as Feature;
    for (const p of parents(f)) {
      if (!index.has(p)) continue;
      if (state.get(p) === 'open') {
        const cycle = [...stack.slice(stack.indexOf(p)), p];
        const fi = index.get(cycle[0] as string) as number;
        if (!cycle.slice(0, -1).some((n) => onCycle.has(n))) {
          const di = parents(features[fi] as Feature).indexOf(cycle[1] as string);
          report(`features[${fi}].dependencies[${di}]`, `dependency cycle ${cycle.join(' → ')}: a flag cannot depend on itself, directly or through others`);
        }
        for (const n of cycle) onCycle.add(n);
      } else if (!state.has(p)) visit(p);
    }
    stack.pop();
    state.set(name, 'done');
  };
  for (const f of features) if (!state.has(f.name)) visit(f.name);

  features.forEach((f, i) => {
    (f.dependencies ?? []).forEach((d, k) => {
      const at = `features[${i}].dependencies[${k}]`;
      const parent = index.has(d.feature) ? features[index.get(d.feature) as number] : undefined;
      if (!parent) report(`${at}.feature`, `flag ${JSON.stringify(d.feature)} is not in the state: a flag depending on a missing flag is always off`);
      else if (!onCycle.has(f.name) && (parent.dependencies ?? []).length > 0) {
        report(`${at}.feature`, `flag ${JSON.stringify(d.feature)} itself depends on other flags: dependencies are one level deep, so this flag would always be off`);
      }
    });
  });
}

export function ruleProblems(state: ClientFeatures): RuleProblem[] {
  const problems: RuleProblem[] = [];
  const report: Report = (path, message) => { problems.push({ path, message }); };
  const segmentIds = new Set<number>();
  (state.segments ?? []).forEach((s, i) => {
    if (segmentIds.has(s.id)) report(`segments[${i}].id`, `duplicate segment id ${s.id}: segment ids must be unique`);
    segmentIds.add(s.id);
    (s.constraints ?? []).forEach((c, k) => checkConstraint(c, `segments[${i}].constraints[${k}]`, report));
  });
  const names = new Map<string, number>();
  const features = state.features ?? [];
  features.forEach((f, i) => {
    const at = `features[${i}]`;
    if (names.has(f.name)) report(`${at}.name`, `duplicate flag name ${JSON.stringify(f.name)} (also features[${names.get(f.name)}]): flag names must be unique`);
    else names.set(f.name, i);
    (f.strategies ?? []).forEach((s, k) => checkStrategy(s, `${at}.strategies[${k}]`, segmentIds, report));
    if (f.variants) checkVariants(f.variants, `${at}.variants`, report);
  });
  checkDependencies(features, report);
  return problems;
}
