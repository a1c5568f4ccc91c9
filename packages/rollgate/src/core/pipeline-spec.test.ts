import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PipelineSpec, ancestors, stageNeeds } from './pipeline-spec.js';
import { ProjectSpec } from './project-spec.js';

const run = (name: string, extra: Record<string, unknown> = {}) => ({ name, run: { command: 'true' }, ...extra });

function issues(spec: unknown): string[] {
  const r = PipelineSpec.safeParse(spec);
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
}

test('stages default to running one after another; needs: [] starts at once', () => {
  const p = PipelineSpec.parse({ app: 'web', stages: [run('a'), run('b'), run('c', { needs: ['a'] }), run('d', { needs: [] })] });
  assert.deepEqual(stageNeeds(p.stages, 0), []);
  assert.deepEqual(stageNeeds(p.stages, 1), ['a']);
  assert.deepEqual(stageNeeds(p.stages, 2), ['a']);
  assert.deepEqual(stageNeeds(p.stages, 3), []);
  assert.deepEqual([...ancestors(p.stages, 1)], ['a']);
  assert.equal(p.release.path, '.');
  assert.equal(p.stages[0]!.run!.timeout, '30m');
  assert.equal(p.stages[0]!.run!.retrySafe, false);
});

test('unknown, self and cyclic stage references are rejected when the spec is loaded', () => {
  assert.match(issues({ app: 'web', stages: [run('a', { needs: ['nope'] })] }).join('\n'), /stages\.0\.needs: stage "a" needs unknown stage "nope"; stages: a/);
  assert.match(issues({ app: 'web', stages: [run('a', { needs: ['a'] })] }).join('\n'), /needs itself/);
  const cyc = issues({ app: 'web', stages: [run('a', { needs: ['c'] }), run('b'), run('c')] }).join('\n');
  assert.match(cyc, /cycle: a -> c -> b -> a/);
  assert.match(issues({ app: 'web', stages: [run('a'), run('a')] }).join('\n'), /stage name "a" is used twice/);
});

test('a stage is exactly one kind; verify and healthy approvals need a deploy to their environment upstream', () => {
  assert.match(issues({ app: 'web', stages: [{ name: 'x' }] }).join('\n'), /needs exactly one of run, gate, deploy, verify, approval, window \(has none\)/);
  assert.match(issues({ app: 'web', stages: [{ name: 'x', run: { command: 'a' }, gate: { junit: { path: 'j.xml' } } }] }).join('\n'), /has run, gate/);
  assert.match(issues({ app: 'web', stages: [{ name: 'v', verify: { env: 'staging', duration: '1m' } }] }).join('\n'), /watches environment "staging", but no stage it waits for deploys there/);
  assert.deepEqual(issues({ app: 'web', stages: [{ name: 'd', deploy: { env: 'staging' } }, { name: 'v', verify: { env: 'staging', duration: '1m' } }] }), []);
  // A deploy running side by side (not upstream) does not count.
  assert.match(
    issues({ app: 'web', stages: [{ name: 'd', deploy: { env: 'staging' } }, { name: 'ok', needs: [], approval: { auto: { healthy: { env: 'staging', for: '10m' } } } }] }).join('\n'),
    /no stage it waits for deploys there/,
  );
  assert.match(issues({ app: 'web', stages: [{ name: 'a', approval: {} }] }).join('\n'), /either manual or auto/);
});

test('artifact and working-directory paths may not leave the workspace', () => {
  assert.match(issues({ app: 'web', stages: [{ name: 'a', run: { command: 'x', cwd: '../up' } }] }).join('\n'), /stages\.0\.run\.cwd/);
  assert.match(issues({ app: 'web', stages: [{ name: 'a', run: { command: 'x', artifacts: ['/etc/passwd'] } }] }).join('\n'), /stages\.0\.run\.artifacts\.0/);
  assert.match(issues({ app: 'web', release: { path: '../../x' }, stages: [run('a')] }).join('\n'), /release\.path/);
});

test('windows: times, zones and freezes are checked', () => {
  const w = (window: unknown) => issues({ app: 'web', stages: [{ name: 'w', window }] }).join('\n');
  assert.match(w({ allow: [{ from: '9:00', to: '17:00' }] }), /HH:MM/);
  assert.match(w({ timezone: 'Mars/Olympus', allow: [{ from: '09:00', to: '17:00' }] }), /IANA time zone/);
  assert.match(w({ freeze: [{ from: '2026-12-27T00:00:00Z', to: '2026-12-20T00:00:00Z' }] }), /end after it starts/);
  assert.match(w({}), /needs env, allow or freeze/);
  assert.equal(w({ allow: [{ days: ['mon', 'fri'], from: '22:00', to: '02:00' }] }), '');
});

test('the project spec checks pipelines against its apps and environments', () => {
  const base = { apps: { web: { run: 'node s.js' } }, environments: { staging: { listen: 8081 } } };
  const r = ProjectSpec.safeParse({ ...base, pipelines: { rel: { app: 'api', stages: [{ name: 'd', deploy: { env: 'prod' } }] } } });
  assert.equal(r.success, false);
  const msgs = r.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('\n');
  assert.match(msgs, /pipelines\.rel\.app: unknown app "api"; declared: web/);
  assert.match(msgs, /pipelines\.rel\.stages\.0: stage "d" names unknown environment "prod"; declared: staging/);
  const ok = ProjectSpec.parse({ ...base, pipelines: { rel: { app: 'web', stages: [{ name: 'd', deploy: { env: 'staging' } }] } } });
  assert.equal(ok.pipelines.rel!.stages[0]!.deploy!.env, 'staging');
  assert.deepEqual(ProjectSpec.parse(base).pipelines, {});
});
