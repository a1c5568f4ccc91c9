import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSpec } from './spec-load.js';
import { RollgateError } from './errors.js';

const spec = (env: string) => `
apps:
  shop:
    run: node server.js
    healthCheck: { path: /healthz }
environments:
  staging:
    listen: 18080
${env}`;

function problemsOf(text: string) {
  try {
    parseSpec(text, 'rollgate.yaml');
  } catch (e) {
    assert.ok(e instanceof RollgateError);
    assert.equal(e.code, 'invalid_spec');
    return (e.details as { problems: { field: string; message: string; line: number }[] }).problems;
  }
  assert.fail('expected the spec to be rejected');
}

test('an environment runs on the local runtime and the builtin router unless it says otherwise', () => {
  const s = parseSpec(spec(''));
  assert.equal(s.environments.staging?.runtime, 'local');
  assert.equal(s.environments.staging?.traffic, 'builtin');
  const named = parseSpec(spec('    runtime: local\n    traffic: builtin\n'));
  assert.equal(named.environments.staging?.runtime, 'local');
  assert.equal(named.environments.staging?.traffic, 'builtin');
});

test('an unknown runtime or traffic kind is refused, naming the field, the value and the known kinds', () => {
  const [r] = problemsOf(spec('    runtime: kubernetes\n'));
  assert.equal(r?.field, 'environments.staging.runtime');
  assert.equal(r?.line, 9);
  assert.match(r?.message ?? '', /unknown runtime "kubernetes": the known runtime kinds are local/);
  const [t] = problemsOf(spec('    traffic: haproxy\n'));
  assert.equal(t?.field, 'environments.staging.traffic');
  assert.match(t?.message ?? '', /unknown traffic "haproxy": the known traffic kinds are builtin/);
});
