/** Unleash's client specification (shared/conformance), read for the tests and the benchmark only. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { applyDelta, type DeltaEvent } from './delta.js';
import type { ClientFeatures, Context, VariantResult } from './types.js';

export const SPEC_DIR = '/work/shared/conformance/unleash-client-spec/specifications';

export interface SpecCase {
  kind: 'isEnabled' | 'getVariant';
  description: string;
  context: Context;
  toggleName: string;
  expected: boolean | VariantResult;
}

export interface SpecFile {
  file: string;
  /** The state to evaluate: as given, or the delta's events applied to nothing. */
  state: ClientFeatures;
  /** The delta's events, for files 19 and 20 (the delta API). */
  delta?: DeltaEvent[];
  cases: SpecCase[];
}

interface RawCase { description: string; context: Context; toggleName: string; expectedResult: boolean | VariantResult }
interface RawSpec { state: ClientFeatures | { events: DeltaEvent[] }; tests?: RawCase[]; variantTests?: RawCase[] }

export function loadSpec(): SpecFile[] {
  const files = JSON.parse(readFileSync(join(SPEC_DIR, 'index.json'), 'utf8')) as string[];
  return files.map((file) => {
    const raw = JSON.parse(readFileSync(join(SPEC_DIR, file), 'utf8')) as RawSpec;
    const cases: SpecCase[] = [
      ...(raw.tests ?? []).map((t) => ({ kind: 'isEnabled' as const, description: t.description, context: t.context, toggleName: t.toggleName, expected: t.expectedResult })),
      ...(raw.variantTests ?? []).map((t) => ({ kind: 'getVariant' as const, description: t.description, context: t.context, toggleName: t.toggleName, expected: t.expectedResult })),
    ];
    if ('events' in raw.state) {
      const delta = raw.state.events;
      return { file, state: applyDelta(undefined, delta), delta, cases };
    }
    return { file, state: raw.state, cases };
  });
}

/** A variant without undefined fields and Unleash's extra camel-case copy, to compare by value. */
export function plainVariant(v: object): VariantResult {
  const out: Record<string, unknown> = {};
  for (const [k, value] of Object.entries(v)) if (value !== undefined && k !== 'featureEnabled') out[k] = value;
  return out as unknown as VariantResult;
}
