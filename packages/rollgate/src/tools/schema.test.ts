import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { projectJsonSchema } from './gen-schema.js';

test('the published JSON Schema matches the spec schema (run: node dist/tools/gen-schema.js)', () => {
  const committed = readFileSync(new URL('../../schema/rollgate.schema.json', import.meta.url), 'utf8');
  assert.equal(committed, projectJsonSchema());
});
