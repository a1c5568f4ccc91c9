/** Checks a CDEvent against the CDEvents v0.5.1 JSON schemas in shared/conformance (tests only). */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { CDEVENT_TYPES, type CDEvent } from './cdevents.js';

// ajv-formats is CommonJS with `exports.default`: seen from ESM the plugin sits on `.default`.
const addFormats = addFormatsModule.default;

const SCHEMAS = '/work/shared/conformance/cdevents-0.5.1';

function loadAjv() {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  for (const dir of [join(SCHEMAS, 'links'), SCHEMAS]) {
    for (const f of readdirSync(dir).filter((x) => x.endsWith('.json'))) ajv.addSchema(JSON.parse(readFileSync(join(dir, f), 'utf8')) as object);
  }
  return ajv;
}

let ajv: ReturnType<typeof loadAjv> | null = null;

export function validateCDEvent(ev: CDEvent): void {
  ajv ??= loadAjv();
  const kind = Object.values(CDEVENT_TYPES).find((t) => t.type === ev.context.type);
  assert.ok(kind, `unknown type ${ev.context.type}`);
  const v = ajv.getSchema(`https://cdevents.dev/0.5.1/schema/${kind.schema}`);
  assert.ok(v, `schema ${kind.schema} loaded`);
  assert.ok(v(ev), `${ev.context.type} fails its schema: ${JSON.stringify(v.errors)}`);
}
