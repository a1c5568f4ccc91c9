/** `gate` stages: judge an artifact of the run's workspace (JUnit, coverage, SARIF, npm audit). */
import { evaluateGate, workspaceReader } from '../../gates/index.js';
import { failed, succeeded, type StageHandler } from './stage.js';

export const gateStage: StageHandler = {
  kind: 'gate',
  async tick(ctx) {
    const result = await evaluateGate(ctx.spec.gate!, workspaceReader(ctx.workspace));
    ctx.log(result.summary);
    for (const f of result.failures) ctx.log(`  ${f.condition}: ${f.detail}${f.where ? ` (${f.where})` : ''}`);
    return result.passed ? succeeded(result.summary, result) : failed(result.summary, result);
  },
  async stop() {
    // Judging a file takes no time worth stopping.
  },
};
