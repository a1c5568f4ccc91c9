/**
 * SARIF 2.1.0 from any scanner (ESLint, Semgrep, CodeQL, Trivy, gosec, ...).
 *
 * Severity of a result, most severe of:
 *  - its SARIF level: `result.level`, else the rule's `defaultConfiguration.level`, else `warning`
 *    (the SARIF 2.1.0 default, §3.27.10). A result whose `kind` is not `fail` (pass, open, review,
 *    informational, notApplicable) has level none and never fails a gate.
 *  - its `security-severity` property (result's, else the rule's), a CVSS-like score 0.0-10.0,
 *    mapped the way GitHub code scanning maps it: >= 7.0 (high, critical) -> error,
 *    >= 4.0 (medium) -> warning, > 0 (low) -> note, 0 -> none.
 * `failOn: X` fails the gate on any result whose severity is X or above (note < warning < error).
 */
import { z } from 'zod';
import { SARIF_LEVELS, type SarifGate, type SarifLevel } from './spec.js';
import { BadArtifact, MAX_LISTED, verdict, type GateFailure, type GateResult } from './types.js';

const Level = z.enum(['none', 'note', 'warning', 'error']);
type Level = z.infer<typeof Level>;

const SecuritySeverity = z.union([z.number(), z.string()]).transform((v, ctx) => {
  const n = typeof v === 'number' ? v : /^\s*\d+(\.\d+)?\s*$/.test(v) ? Number(v) : NaN;
  if (!(n >= 0 && n <= 10)) {
    ctx.addIssue({ code: 'custom', message: `security-severity "${v}" is not a number from 0.0 to 10.0` });
    return z.NEVER;
  }
  return n;
});
const Props = z.object({ 'security-severity': SecuritySeverity.optional() }).nullish();
const Message = z.object({ text: z.string().optional(), id: z.string().optional(), arguments: z.array(z.string()).optional() });

const Rule = z.object({
  id: z.string(),
  defaultConfiguration: z.object({ level: Level.optional() }).optional(),
  properties: Props,
  messageStrings: z.record(z.string(), z.object({ text: z.string().optional() })).optional(),
});
type Rule = z.infer<typeof Rule>;

const ToolComponent = z.object({ name: z.string(), rules: z.array(Rule).optional() });

const Result = z.object({
  ruleId: z.string().optional(),
  ruleIndex: z.number().int().min(-1).optional(),
  rule: z.object({ id: z.string().optional(), index: z.number().int().min(-1).optional(), toolComponent: z.object({ index: z.number().int().optional() }).optional() }).optional(),
  kind: z.enum(['notApplicable', 'pass', 'fail', 'review', 'open', 'informational']).optional(),
  level: Level.optional(),
  message: Message,
  locations: z
    .array(
      z.object({
        physicalLocation: z
          .object({
            artifactLocation: z.object({ uri: z.string().optional(), index: z.number().int().optional() }).optional(),
            region: z.object({ startLine: z.number().int().optional() }).optional(),
          })
          .optional(),
      }),
    )
    .optional(),
  properties: Props,
});
type Result = z.infer<typeof Result>;

const Run = z.object({
  tool: z.object({ driver: ToolComponent, extensions: z.array(ToolComponent).optional() }),
  results: z.array(Result).nullish(),
  artifacts: z.array(z.object({ location: z.object({ uri: z.string().optional() }).optional() })).nullish(),
  invocations: z.array(z.object({ executionSuccessful: z.boolean() })).optional(),
});
type Run = z.infer<typeof Run>;

const SarifLog = z.object({
  version: z.string({ message: 'the "version" property is missing' }),
  runs: z.array(Run),
});

export interface SarifFinding {
  tool: string;
  ruleId: string;
  level: Level;
  securitySeverity?: number;
  message: string;
  where?: string;
}

export interface SarifReport {
  findings: SarifFinding[];
  /** Runs whose scanner reported that it did not complete: their absence of findings proves nothing. */
  incomplete: string[];
}

const ORDER: Record<Level, number> = { none: 0, note: 1, warning: 2, error: 3 };

export function levelFromSecuritySeverity(score: number): Level {
  return score >= 7 ? 'error' : score >= 4 ? 'warning' : score > 0 ? 'note' : 'none';
}

export function parseSarif(content: string, what: string): SarifReport {
  let json: unknown;
  try {
    json = JSON.parse(content);
  } catch (e) {
    throw new BadArtifact(`${what} is not valid JSON (${(e as Error).message}); the file may be truncated`);
  }
  const parsed = SarifLog.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new BadArtifact(`${what} is not a SARIF log: at ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  if (parsed.data.version !== '2.1.0') throw new BadArtifact(`${what} is SARIF version "${parsed.data.version}"; only 2.1.0 is supported (ask the scanner for SARIF 2.1.0)`);
  const report: SarifReport = { findings: [], incomplete: [] };
  parsed.data.runs.forEach((run, i) => {
    const tool = run.tool.driver.name;
    if (run.results === undefined || run.results === null || run.invocations?.some((inv) => !inv.executionSuccessful)) {
      report.incomplete.push(`run ${i} (${tool})`);
    }
    for (const r of run.results ?? []) report.findings.push(finding(run, r, tool));
  });
  return report;
}

function findRule(run: Run, r: Result): Rule | undefined {
  const ext = r.rule?.toolComponent?.index;
  const rules = (ext !== undefined ? run.tool.extensions?.[ext]?.rules : run.tool.driver.rules) ?? [];
  const index = r.rule?.index ?? r.ruleIndex;
  if (index !== undefined && index >= 0 && rules[index]) return rules[index];
  const id = r.ruleId ?? r.rule?.id;
  if (id === undefined) return undefined;
  const all = [...(run.tool.driver.rules ?? []), ...(run.tool.extensions ?? []).flatMap((x) => x.rules ?? [])];
  // Hierarchical ids ("rule/subrule") fall back to the parent rule (§3.27.5).
  return all.find((x) => x.id === id) ?? all.find((x) => x.id === id.split('/')[0]);
}

function finding(run: Run, r: Result, tool: string): SarifFinding {
  const rule = findRule(run, r);
  const counts = r.kind === undefined || r.kind === 'fail';
  const base: Level = counts ? (r.level ?? rule?.defaultConfiguration?.level ?? 'warning') : 'none';
  const score = r.properties?.['security-severity'] ?? rule?.properties?.['security-severity'];
  const fromScore = counts && score !== undefined ? levelFromSecuritySeverity(score) : 'none';
  const f: SarifFinding = {
    tool,
    ruleId: r.ruleId ?? r.rule?.id ?? rule?.id ?? '(no rule id)',
    level: ORDER[fromScore] > ORDER[base] ? fromScore : base,
    message: messageText(r, rule),
  };
  if (score !== undefined) f.securitySeverity = score;
  const loc = r.locations?.[0]?.physicalLocation;
  const artifact = loc?.artifactLocation;
  let uri = artifact?.uri ?? (artifact?.index !== undefined ? run.artifacts?.[artifact.index]?.location?.uri : undefined);
  if (uri !== undefined) {
    uri = uri.startsWith('file://') ? decodeURIComponent(uri.slice('file://'.length)) : uri;
    f.where = loc?.region?.startLine !== undefined ? `${uri}:${loc.region.startLine}` : uri;
  }
  return f;
}

function messageText(r: Result, rule: Rule | undefined): string {
  let text = r.message.text ?? (r.message.id !== undefined ? rule?.messageStrings?.[r.message.id]?.text : undefined) ?? '(no message)';
  const args = r.message.arguments ?? [];
  text = text.replace(/\{(\d+)\}/g, (m, n: string) => args[Number(n)] ?? m);
  return text.length > 300 ? `${text.slice(0, 297)}...` : text;
}

export function evaluateSarif(gate: SarifGate, report: SarifReport): GateResult {
  const threshold = ORDER[gate.failOn];
  const metrics: Record<string, number> = { results: report.findings.length };
  for (const l of SARIF_LEVELS) metrics[l] = report.findings.filter((f) => f.level === l).length;
  const hits = report.findings.filter((f) => ORDER[f.level] >= threshold).sort((a, b) => ORDER[b.level] - ORDER[a.level]);
  const failures: GateFailure[] = [];
  const condition = `failOn: ${gate.failOn}`;
  for (const run of report.incomplete) {
    failures.push({ condition: 'input', detail: `${gate.path}: ${run} did not complete (results missing or executionSuccessful: false), so it cannot show the code is clean`, where: gate.path });
  }
  if (hits.length > 0) {
    const atOrAbove: SarifLevel[] = SARIF_LEVELS.filter((l) => ORDER[l] >= threshold);
    failures.push({ condition, detail: `${hits.length} result(s) at or above ${gate.failOn} (${atOrAbove.map((l) => `${metrics[l]} ${l}`).join(', ')})${hits.length > MAX_LISTED ? `; showing ${MAX_LISTED}` : ''}`, where: gate.path });
    for (const h of hits.slice(0, MAX_LISTED)) {
      const sev = h.securitySeverity !== undefined ? `, security-severity ${h.securitySeverity}` : '';
      const f: GateFailure = { condition, detail: `${h.level}${sev}: ${h.ruleId}: ${h.message}` };
      if (h.where !== undefined) f.where = h.where;
      failures.push(f);
    }
  }
  const counts = `${metrics.error} error, ${metrics.warning} warning, ${metrics.note} note`;
  return verdict(failures, `SARIF ${gate.path}: passed (${counts})`, `SARIF ${gate.path}: failed (${counts})`, metrics);
}
