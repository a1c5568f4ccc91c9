// The same specification cases through the real unleash-client (offline), which must give what
// Rollgate's engine gives, and what the specification expects, for every case.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { compile } from './evaluator.js';
import { loadSpec, plainVariant } from './spec.testkit.js';
import { referenceFor, referenceForDelta, STATIC_CONTEXT, type Reference } from './unleash-reference.testkit.js';

const files = loadSpec();
const references = new Map<string, Reference>();
let covered = 0;

before(async () => {
  for (const f of files) references.set(f.file, f.delta ? await referenceForDelta(f.delta) : await referenceFor(f.state));
});
after(() => {
  for (const r of references.values()) r.destroy();
});

for (const f of files) {
  const engine = compile(f.state);
  const how = f.delta ? ' (delta applied by unleash-client\'s repository)' : '';
  for (const c of f.cases) {
    test(`unleash-client ${f.file}${how} ${c.kind}: ${c.description}`, () => {
      const reference = references.get(f.file) as Reference;
      // unleash-client adds its static context (appName, environment); the engine gets it too.
      const context = { ...STATIC_CONTEXT, ...c.context };
      if (c.kind === 'isEnabled') {
        const theirs = reference.isEnabled(c.toggleName, context);
        assert.equal(theirs, engine.isEnabled(c.toggleName, context));
        assert.equal(theirs, c.expected);
      } else {
        const theirs = plainVariant(reference.getVariant(c.toggleName, context));
        assert.deepEqual(theirs, plainVariant(engine.getVariant(c.toggleName, context)));
        assert.deepEqual(theirs, plainVariant(c.expected as object));
      }
      covered++;
    });
  }
}

test('unleash-client: every one of the 279 cases was compared', () => {
  assert.equal(covered, 279);
});
