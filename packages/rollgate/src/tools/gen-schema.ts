/** Writes schema/rollgate.schema.json (editor completion for rollgate.yaml) from the zod spec. */
import { writeFileSync } from 'node:fs';
import { z } from 'zod';
import { ProjectSpec } from '../core/project-spec.js';

export function projectJsonSchema(): string {
  const schema = z.toJSONSchema(ProjectSpec, { io: 'input', unrepresentable: 'any', target: 'draft-2020-12' }) as Record<string, unknown>;
  return JSON.stringify({ ...schema, $id: 'https://rollgate.dev/schema/rollgate.schema.json', title: 'rollgate.yaml' }, null, 2) + '\n';
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  const out = new URL('../../schema/rollgate.schema.json', import.meta.url);
  writeFileSync(out, projectJsonSchema());
  console.log(`wrote ${out.pathname}`);
}
