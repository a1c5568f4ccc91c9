/**
 * The real unleash-client (Node), offline, as the reference the engine is checked against in
 * tests and measured against in the benchmark: no fetching (refreshInterval 0 and a URL that is
 * never called), no metrics, an in-memory backup; the state comes in through its bootstrap, or a
 * delta through its repository's own save, the path its fetcher takes for delta responses.
 */
import { once } from 'node:events';
import { InMemStorageProvider, Unleash } from 'unleash-client';
import RepositoryModule from 'unleash-client/lib/repository/index.js';
import type { DeltaEvent } from './delta.js';
import type { ClientFeatures, Context, VariantResult } from './types.js';

// The CommonJS module's default export is its class.
const Repository = (RepositoryModule as unknown as { default: typeof RepositoryModule.default }).default;

export const REFERENCE_APP = 'rollgate-reference';
/** What unleash-client adds to every context (its static context); give the engine the same. */
export const STATIC_CONTEXT = { appName: REFERENCE_APP, environment: 'default' } as const;
const NEVER_CALLED = 'http://127.0.0.1:9/api/';
/** Offline: never fetch (refreshInterval 0), no metrics, no warning for many instances in one process. */
const OFFLINE = { appName: REFERENCE_APP, url: NEVER_CALLED, refreshInterval: 0, disableMetrics: true, skipInstanceCountWarning: true } as const;

export interface Reference {
  isEnabled(name: string, context: Context): boolean;
  getVariant(name: string, context: Context): VariantResult;
  destroy(): void;
}

function wrap(u: Unleash): Reference {
  return {
    isEnabled: (name, context) => u.isEnabled(name, context as never),
    getVariant: (name, context) => u.getVariant(name, context as never) as unknown as VariantResult,
    destroy: () => u.destroy(),
  };
}

async function ready(u: Unleash): Promise<void> {
  const timer = setTimeout(() => u.emit('error', new Error('unleash-client did not become ready in 5 s')), 5000);
  try {
    await once(u, 'ready');
  } finally {
    clearTimeout(timer);
  }
}

/** unleash-client bootstrapped with a full state (it needs at least one flag to become ready). */
export async function referenceFor(state: ClientFeatures): Promise<Reference> {
  const u = new Unleash({
    ...OFFLINE,
    storageProvider: new InMemStorageProvider(),
    bootstrap: { data: state.features as never, segments: (state.segments ?? []) as never },
  });
  u.on('warn', () => {});
  await ready(u);
  return wrap(u);
}

/** unleash-client given a delta (Unleash's delta API events) through its repository. */
export async function referenceForDelta(events: DeltaEvent[]): Promise<Reference> {
  const repository = new Repository({
    url: NEVER_CALLED,
    appName: REFERENCE_APP,
    instanceId: 'rollgate-reference',
    connectionId: 'rollgate-reference',
    refreshInterval: 0,
    bootstrapProvider: { readBootstrap: async () => undefined },
    storageProvider: new InMemStorageProvider(),
    mode: { type: 'polling', format: 'delta' },
  });
  const u = new Unleash({ ...OFFLINE, repository });
  u.on('warn', () => {});
  const isReady = ready(u);
  await repository.save({ type: 'delta', events } as never, true);
  await isReady;
  return wrap(u);
}
