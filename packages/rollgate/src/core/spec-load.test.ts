import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSpec } from './spec-load.js';
import { RollgateError } from './errors.js';
import { resolveStrategy } from './spec.js';

const GOOD = `
apps:
  shop:
    run: node server.js
    healthCheck: { path: /healthz }
    replicas: 3
environments:
  staging:
    listen: 18080
  production:
    listen: 127.0.0.1:18081
    strategy:
      canary:
        steps:
          - setWeight: 10
          - pause: { duration: 30s }
          - pause: {}
`;

function problemsOf(text: string) {
  try {
    parseSpec(text, 'rollgate.yaml');
  } catch (e) {
    assert.ok(e instanceof RollgateError);
    assert.equal(e.code, 'invalid_spec');
    return { message: e.message, problems: (e.details as { problems: { file: string; line: number; column: number; field: string; message: string }[] }).problems };
  }
  assert.fail('expected the spec to be rejected');
}

test('a valid spec parses with defaults filled in', () => {
  const s = parseSpec(GOOD);
  assert.equal(s.apps.shop?.portEnv, 'PORT');
  assert.equal(s.apps.shop?.healthCheck.interval, '1s');
  assert.equal(s.apps.shop?.drainTimeout, '30s');
  const strat = resolveStrategy(s.apps.shop!, 'production', s.environments.production!);
  assert.ok('canary' in strat && strat.canary.steps.length === 3);
  assert.ok('rolling' in resolveStrategy(s.apps.shop!, 'staging', s.environments.staging!));
});

test('a wrong type names file, line and field', () => {
  const { problems, message } = problemsOf(GOOD.replace('replicas: 3', 'replicas: lots'));
  assert.equal(problems[0]?.field, 'apps.shop.replicas');
  assert.equal(problems[0]?.line, 6);
  assert.match(message, /rollgate\.yaml:6:\d+: apps\.shop\.replicas/);
  // `validate` shows the same message: it must not speak of deploying.
  assert.doesNotMatch(message, /deployed/);
  assert.match(message, /schema\/rollgate\.schema\.json \(`rollgate schema` prints it\)/);
});

test('a missing required field points at its parent', () => {
  const { problems } = problemsOf(GOOD.replace('    run: node server.js\n', ''));
  assert.equal(problems[0]?.field, 'apps.shop.run');
  assert.match(problems[0]!.message, /required/);
  assert.equal(problems[0]?.line, 4);
});

test('an unknown key is named, at its own line, with the nearest known field', () => {
  const { problems } = problemsOf(GOOD.replace('replicas: 3', 'replicas: 3\n    replica: 2'));
  assert.match(problems[0]!.message, /unknown field `replica`; did you mean `replicas`\?/);
  assert.equal(problems[0]!.line, 7);
  const far = problemsOf(GOOD.replace('replicas: 3', 'replicas: 3\n    zzzzzz: 2'));
  assert.match(far.problems[0]!.message, /unknown field `zzzzzz`; known fields here: /);
  const deep = problemsOf(GOOD.replace('{ path: /healthz }', '{ pth: /healthz }'));
  assert.match(deep.problems[0]!.message, /unknown field `pth`; did you mean `path`\?/);
});

// Issue 10: a wrong step points at the step's own line and names the allowed forms.
test('a misspelt step points at that step, suggests the step meant and lists the forms', () => {
  const { problems, message } = problemsOf(GOOD.replace('- pause: { duration: 30s }', '- setWieght: 20'));
  assert.equal(problems.length, 1);
  assert.equal(problems[0]!.field, 'environments.production.strategy.canary.steps[1]');
  assert.deepEqual([problems[0]!.line, problems[0]!.column], [16, 13]);
  assert.match(problems[0]!.message, /^unknown step `setWieght`; did you mean `setWeight`\? a step is one of: setWeight: N .*pause: \{duration: 30s\} \| pause: \{\} \(until rollgate promote\), analysis: .*setHeaderRoute: /);
  assert.doesNotMatch(message, /rolling, blueGreen/, 'not the strategy-level "matches no form"');
});

test('a bare `pause:` says what pause needs, at its line', () => {
  const { problems } = problemsOf(GOOD.replace('- pause: {}', '- pause:'));
  assert.equal(problems[0]!.line, 17);
  assert.equal(problems[0]!.field, 'environments.production.strategy.canary.steps[2].pause');
  assert.match(problems[0]!.message, /^`pause` needs a value: pause: \{duration: 30s\} to hold for a time, or pause: \{\} to hold until `rollgate promote`; a step is one of/);
});

test('a misspelt strategy suggests the strategy meant', () => {
  const { problems } = problemsOf(GOOD.replace('      canary:', '      canery:'));
  assert.match(problems[0]!.message, /^unknown strategy `canery`; did you mean `canary`\? a strategy is one of: rolling/);
  assert.equal(problems[0]!.line, 13, 'the strategy it belongs to');
});

test('a bad duration and a bad strategy step are explained', () => {
  const a = problemsOf(GOOD.replace('duration: 30s', 'duration: thirty'));
  assert.match(a.problems[0]!.message, /duration|allowed form|one of/);
  assert.equal(a.problems[0]!.line, 16);
  const b = problemsOf(GOOD.replace('setWeight: 10', 'setWeight: 120'));
  assert.equal(b.problems[0]!.line, 15);
});

test('YAML syntax errors carry a line', () => {
  const { problems } = problemsOf('apps:\n  shop: [unclosed\n');
  assert.ok(problems[0]!.line >= 2);
});

test('two environments on one listener are rejected', () => {
  const { problems } = problemsOf(GOOD.replace('listen: 127.0.0.1:18081', 'listen: 18080'));
  assert.match(problems[0]!.message, /already used by environment "staging"/);
});

test('an override for an undeclared environment is rejected', () => {
  const { problems } = problemsOf(GOOD.replace('replicas: 3', 'replicas: 3\n    environments:\n      prod: { replicas: 5 }'));
  assert.match(problems[0]!.message, /unknown environment "prod"/);
});

test('prototype keys are refused at any depth, with file:line:column and the path', () => {
  const text = `apps:
  __proto__:
    run: node server.js
  shop:
    run: node server.js
    environments:
      staging:
        constructor: { replicas: 2 }
environments:
  staging:
    listen: 18080
pipelines:
  p:
    app: shop
    stages:
      - name: a
        run: { command: "true", prototype: 1 }
`;
  const { problems } = problemsOf(text);
  assert.deepEqual(
    problems.map((p) => [p.line, p.column, p.field]),
    [
      [2, 3, 'apps.__proto__'],
      [8, 9, 'apps.shop.environments.staging.constructor'],
      [17, 33, 'pipelines.p.stages.0.run.prototype'],
    ],
  );
  assert.match(problems[0]!.message, /"__proto__" is not allowed/);
  // Quoted keys are the same key.
  assert.equal(problemsOf(`apps:\n  "__proto__": { run: x }\nenvironments: {}\n`).problems[0]?.field, 'apps.__proto__');
});

test('an alias bomb is an invalid spec naming the file, not a crash', () => {
  let text = 'a: &a [x, x, x, x, x, x, x, x, x]\n';
  let prev = 'a';
  for (let i = 0; i < 9; i++) {
    text += `b${i}: &b${i} [${Array(9).fill(`*${prev}`).join(', ')}]\n`;
    prev = `b${i}`;
  }
  const { problems } = problemsOf(text);
  assert.equal(problems.length, 1);
  assert.match(problems[0]!.message, /resource exhaustion|alias/i);
  assert.equal(problems[0]!.file, 'rollgate.yaml');
});

const dataPlaneSpec = (env: string) => `
apps:
  shop:
    run: node server.js
    healthCheck: { path: /healthz }
environments:
  staging:
    listen: 18080
${env}`;

test('an environment runs on the local runtime and the builtin router unless it says otherwise', () => {
  const s = parseSpec(dataPlaneSpec(''));
  assert.equal(s.environments.staging?.runtime, 'local');
  assert.equal(s.environments.staging?.traffic, 'builtin');
  const named = parseSpec(dataPlaneSpec('    runtime: local\n    traffic: builtin\n'));
  assert.equal(named.environments.staging?.runtime, 'local');
  assert.equal(named.environments.staging?.traffic, 'builtin');
});

test('an unknown runtime or traffic kind is refused, naming the field, the value and the known kinds', () => {
  const [r] = problemsOf(dataPlaneSpec('    runtime: kubernetes\n')).problems;
  assert.equal(r?.field, 'environments.staging.runtime');
  assert.equal(r?.line, 9);
  assert.match(r?.message ?? '', /unknown runtime "kubernetes": the known runtime kinds are local/);
  const [t] = problemsOf(dataPlaneSpec('    traffic: haproxy\n')).problems;
  assert.equal(t?.field, 'environments.staging.traffic');
  assert.match(t?.message ?? '', /unknown traffic "haproxy": the known traffic kinds are builtin/);
});
