import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { planRun } from './pipeline-plan.js';
import { PipelineSpec, stageKind, stageNeeds } from './pipeline-spec.js';
import type { StageRecord, StageStatus } from './pipeline.js';

const spec = PipelineSpec.parse({
  app: 'web',
  stages: [
    { name: 'build', run: { command: 'make' } },
    { name: 'lint', needs: ['build'], run: { command: 'lint' } },
    { name: 'test', needs: ['build'], run: { command: 'test' } },
    { name: 'junit', needs: ['test'], gate: { junit: { path: 'j.xml' } } },
    { name: 'staging', needs: ['lint', 'junit'], deploy: { env: 'staging' } },
    { name: 'approve', approval: { manual: {} } },
    { name: 'prod', deploy: { env: 'prod' } },
  ],
});

function stages(status: Partial<Record<string, StageStatus>>): StageRecord[] {
  return spec.stages.map((s, index) => ({
    runId: 'r',
    name: s.name,
    index,
    kind: stageKind(s),
    status: status[s.name] ?? 'pending',
    attempt: 0,
    message: status[s.name] === 'failed' ? 'exit 1' : '',
    startedAt: null,
    finishedAt: null,
    waitingSince: null,
    result: null,
    deploymentId: null,
    updatedAt: '',
  }));
}

test('a stage starts once all it needs succeeded; independent stages start together', () => {
  assert.deepEqual(planRun(spec, stages({}), false).start, ['build']);
  const p = planRun(spec, stages({ build: 'succeeded' }), false);
  assert.deepEqual(p.start, ['lint', 'test']);
  assert.equal(p.status, 'running');
  assert.deepEqual(planRun(spec, stages({ build: 'succeeded', lint: 'succeeded', test: 'running' }), false).start, []);
  assert.deepEqual(planRun(spec, stages({ build: 'succeeded', lint: 'succeeded', test: 'succeeded', junit: 'succeeded' }), false).start, ['staging']);
});

test('a run whose only active stage waits is waiting', () => {
  const p = planRun(spec, stages({ build: 'succeeded', lint: 'succeeded', test: 'succeeded', junit: 'succeeded', staging: 'succeeded', approve: 'waiting' }), false);
  assert.equal(p.status, 'waiting');
  assert.equal(p.outcome, null);
});

test('a failure stops the stages still acting, skips the rest, and the run fails once nothing acts', () => {
  const p = planRun(spec, stages({ build: 'succeeded', lint: 'running', test: 'failed' }), false);
  assert.deepEqual(p.start, []);
  assert.deepEqual(p.stop, [{ name: 'lint', why: 'stage "test" failed' }]);
  assert.deepEqual(p.skip.map((s) => s.name), ['junit', 'staging', 'approve', 'prod']);
  assert.equal(p.outcome, null);
  const done = planRun(spec, stages({ build: 'succeeded', lint: 'cancelled', test: 'failed', junit: 'skipped', staging: 'skipped', approve: 'skipped', prod: 'skipped' }), false);
  assert.deepEqual(done.outcome, { status: 'failed', message: 'stage "test" failed: exit 1' });
});

test('cancel stops and skips everything; the run ends cancelled', () => {
  const p = planRun(spec, stages({ build: 'succeeded', lint: 'running', test: 'waiting' }), true);
  assert.deepEqual(p.stop.map((s) => s.name), ['lint', 'test']);
  const done = planRun(spec, stages({ build: 'succeeded', lint: 'cancelled', test: 'cancelled', junit: 'skipped', staging: 'skipped', approve: 'skipped', prod: 'skipped' }), true);
  assert.deepEqual(done.outcome, { status: 'cancelled', message: 'cancelled' });
});

test('all stages succeeded: the run succeeded', () => {
  const all = Object.fromEntries(spec.stages.map((s) => [s.name, 'succeeded' as const]));
  assert.equal(planRun(spec, stages(all), false).outcome?.status, 'succeeded');
});

test('property: following the plan, every run ends, no stage starts before its needs succeeded, and the outcome matches', () => {
  fc.assert(
    fc.property(fc.array(fc.constantFrom<'succeeded' | 'failed'>('succeeded', 'succeeded', 'succeeded', 'failed'), { minLength: 7, maxLength: 7 }), fc.boolean(), (verdicts, cancelEarly) => {
      let recs = stages({});
      const verdict = new Map(spec.stages.map((s, i) => [s.name, verdicts[i]!]));
      let cancel = false;
      for (let round = 0; round < 50; round++) {
        if (cancelEarly && round === 2) cancel = true;
        const p = planRun(spec, recs, cancel);
        if (p.outcome) {
          const anyFailed = recs.some((r) => r.status === 'failed');
          assert.equal(p.outcome.status, anyFailed ? 'failed' : cancel ? 'cancelled' : 'succeeded');
          if (p.outcome.status === 'succeeded') assert.ok(recs.every((r) => r.status === 'succeeded'));
          return;
        }
        recs = recs.map((r) => {
          if (p.stop.some((s) => s.name === r.name)) return { ...r, status: 'cancelled' };
          if (p.skip.some((s) => s.name === r.name)) return { ...r, status: 'skipped' };
          if (p.start.includes(r.name)) {
            const needs = stageNeeds(spec.stages, r.index);
            for (const n of needs) assert.equal(recs.find((x) => x.name === n)!.status, 'succeeded', `${r.name} started before ${n} succeeded`);
            return { ...r, status: 'running' };
          }
          if (r.status === 'running') return { ...r, status: verdict.get(r.name)! };
          return r;
        });
      }
      assert.fail('the run did not end within 50 rounds');
    }),
    { numRuns: 300 },
  );
});
