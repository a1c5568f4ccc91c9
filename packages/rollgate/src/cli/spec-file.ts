/** Reads and validates the rollgate.yaml the user points at (so errors carry file:line). */
import { readFile } from 'node:fs/promises';
import { relative, resolve } from 'node:path';
import { RollgateError } from '../core/errors.js';
import { parseSpec } from '../core/spec-load.js';
import type { ProjectSpec } from '../core/project-spec.js';

export const DEFAULT_SPEC_FILE = 'rollgate.yaml';

export interface LoadedSpec {
  /** Absolute path. */
  file: string;
  /** The path as shown to the user (relative to the working directory when inside it). */
  name: string;
  spec: ProjectSpec;
}

export async function loadSpecFile(file: string = DEFAULT_SPEC_FILE): Promise<LoadedSpec> {
  const abs = resolve(file);
  let text: string;
  try {
    text = await readFile(abs, 'utf8');
  } catch (e) {
    const why = e instanceof Error && 'code' in e && e.code === 'EISDIR' ? 'is a directory' : 'cannot be read';
    throw new RollgateError('invalid_input', `spec file ${file} ${why}; create a rollgate.yaml or pass --file PATH`);
  }
  // Name the file as the user would: relative to where they stand.
  const rel = relative(process.cwd(), abs);
  const name = rel === '' || rel.startsWith('..') ? abs : rel;
  return { file: abs, name, spec: parseSpec(text, name) };
}

/** Fails with a clear message when the app or environment is not declared in the spec. */
export function requireAppEnv(loaded: LoadedSpec, app: string, env: string | undefined): void {
  const apps = Object.keys(loaded.spec.apps);
  if (!apps.includes(app)) {
    throw new RollgateError('not_found', `app "${app}" is not declared in ${loaded.name}; declared apps: ${apps.join(', ') || 'none'}`);
  }
  if (env === undefined) return;
  const envs = Object.keys(loaded.spec.environments);
  if (!envs.includes(env)) {
    throw new RollgateError('not_found', `environment "${env}" is not declared in ${loaded.name}; declared environments: ${envs.join(', ') || 'none'}`);
  }
}
