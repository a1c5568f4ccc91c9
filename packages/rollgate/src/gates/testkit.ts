/** Test helpers: a temp workspace holding the committed fixtures plus files a test writes. */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { evaluateGate } from './evaluate.js';
import { workspaceReader } from './paths.js';
import { GateSpec } from './spec.js';
import type { GateResult } from './types.js';

export const FIXTURES = fileURLToPath(new URL('../../test-fixtures/gates/', import.meta.url));

export function fixture(name: string): string {
  return readFileSync(join(FIXTURES, name), 'utf8');
}

export interface Workspace {
  dir: string;
  write(rel: string, content: string): void;
  /** Parses `spec` with the real schema (as the pipeline loader will), then evaluates it here. */
  gate(spec: unknown): Promise<GateResult>;
  dispose(): void;
}

export function workspace(): Workspace {
  const dir = mkdtempSync(join(tmpdir(), 'rollgate-gates-'));
  cpSync(FIXTURES, join(dir, 'reports'), { recursive: true });
  return {
    dir,
    write(rel, content) {
      mkdirSync(dirname(join(dir, rel)), { recursive: true });
      writeFileSync(join(dir, rel), content);
    },
    gate: (spec) => evaluateGate(GateSpec.parse(spec), workspaceReader(dir)),
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}
