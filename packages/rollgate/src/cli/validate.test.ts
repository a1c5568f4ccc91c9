/**
 * `rollgate validate` as a user runs it (real CLI, no server): every problem with file:line:column,
 * the nearest known field, the allowed step forms, where the schema is, and no word of deploying;
 * `rollgate schema` prints that schema (issue 10).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rollgate, type Run } from '../test/cli-run.js';

let work: string;

before(() => {
  work = mkdtempSync(join(tmpdir(), 'rollgate-validate-'));
});

after(() => rmSync(work, { recursive: true, force: true }));

function cli(args: string[]): Promise<Run> {
  return rollgate(work, args, 60_000, { PATH: process.env.PATH, HOME: join(work, 'home') });
}

test('validate: a wrong step, a bare pause and a misspelt field, each at its own line, with what is meant', async () => {
  writeFileSync(
    join(work, 'rollgate.yaml'),
    `apps:
  shop:
    run: node server.js
    replica: 2
environments:
  production:
    listen: 18080
    strategy:
      canary:
        steps:
          - setWeight: 10
          - setWieght: 20
          - pause:
`,
  );
  const r = await cli(['validate']);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /rollgate\.yaml:4:5: apps\.shop: unknown field `replica`; did you mean `replicas`\?/);
  assert.match(r.stderr, /rollgate\.yaml:12:13: environments\.production\.strategy\.canary\.steps\[1\]: unknown step `setWieght`; did you mean `setWeight`\? a step is one of: /);
  assert.match(r.stderr, /rollgate\.yaml:13:13: environments\.production\.strategy\.canary\.steps\[2\]\.pause: `pause` needs a value/);
  assert.doesNotMatch(r.stderr, /deployed/);
  const schema = /the fields and allowed forms are in (\S+) \(`rollgate schema` prints it\)/.exec(r.stderr)?.[1];
  assert.ok(schema && existsSync(schema), `the schema named is where it says: ${schema}`);
});

test('schema prints the JSON schema of rollgate.yaml', async () => {
  const r = await cli(['schema']);
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout) as { title: string; properties: Record<string, unknown> };
  assert.equal(doc.title, 'rollgate.yaml');
  assert.ok('apps' in doc.properties && 'environments' in doc.properties);
});
