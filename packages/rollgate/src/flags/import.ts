/**
 * Importing a `{version, features, segments}` file into one environment of an app, as Unleash's
 * import does for an environment:
 *  - each flag in the file gets the file's rules in that environment (its state replaced whole);
 *    a flag the app does not have yet is created (kind from the feature's `type` when it is a
 *    known kind, else release; its description from the file); an existing flag keeps its
 *    metadata, which is app-wide, not the environment's;
 *  - flags not in the file are left as they are: an import never removes or archives;
 *  - an archived flag in the file refuses the import (naming it), as Unleash refuses them;
 *  - segments in the file replace the environment's segments of the same id; others stay;
 *  - all of it in one transaction with one revision bump and one `flag.import` audit entry.
 */
import type { ClientFeatures } from '@rollgate/sdk/engine';
import { RollgateError } from '../core/errors.js';
import type { AuditInput } from '../engine/audit.js';
import { change, type ChangeDeps, type Who } from './changes.js';
import { stateOf, withFeature } from './feature-state.js';
import type { Flags } from './flags.js';
import { DEFAULT_LIFETIME_DAYS, isFlagKind } from './kinds.js';
import { newProblems, parseRules, renamer, rulesRefused } from './rules-check.js';
import { ClientFeaturesSchema } from './rules-schema.js';

export interface ImportResult {
  app: string;
  env: string;
  revision: number;
  /** Flags created by the import, then the ones whose state it replaced. */
  created: string[];
  updated: string[];
  segments: number[];
}

/** Names listed in an event or an entry, at most this many (the count is always there). */
const LISTED = 100;

export async function importState(flags: Flags, c: ChangeDeps, app: string, env: string, body: unknown, who: Who): Promise<ImportResult> {
  const file = parseRules(ClientFeaturesSchema, body, 'import file');
  await flags.mustApp(app);
  await flags.mustEnv(env);
  return change(c, who, app, 'flag.import', `flags/${app}/${env}`, async (tx) => {
    const revision = await tx.bumpRevision(app, env);
    const before = await tx.readState(app, env);
    const created: string[] = [];
    const updated: string[] = [];
    const archived: string[] = [];
    for (const f of file.features) {
      // No lock: this transaction holds the revision, and flag rows are locked before revisions elsewhere.
      const existing = await tx.getFlag(app, f.name);
      if (existing?.archived) archived.push(f.name);
      else (existing ? updated : created).push(f.name);
    }
    if (archived.length) throw new RollgateError('conflict', `the file names archived flags of ${app}: ${archived.slice(0, 20).join(', ')}${archived.length > 20 ? ` and ${archived.length - 20} more` : ''}; archived flags cannot change, so remove them from the file (nothing was imported)`);

    // The new state, each feature at its old index (new ones appended), so old problems are told apart.
    let after: ClientFeatures = { ...before.state, segments: mergeSegments(before.state, file) };
    const fileIndex = new Map<number, string>();
    const known = new Map((await Promise.all(updated.map((n) => tx.getFlag(app, n)))).map((f) => [f!.name, f!]));
    for (const [i, f] of file.features.entries()) {
      const meta = known.get(f.name);
      const kind = meta?.kind ?? (isFlagKind(f.type) ? f.type : 'release');
      const placed = withFeature(after, { name: f.name, type: kind, description: meta?.description ?? f.description ?? '', ...stateOf(f) });
      after = placed.after;
      fileIndex.set(placed.index, `features[${i}]`);
    }
    const segIndex = new Map<number, string>();
    (after.segments ?? []).forEach((s, k) => {
      const i = (file.segments ?? []).findIndex((x) => x.id === s.id);
      if (i >= 0) segIndex.set(k, `segments[${i}]`);
    });
    const problems = newProblems(before.state, after, [...fileIndex.keys()], renamer({ features: fileIndex, segments: segIndex }));
    if (problems.length) throw rulesRefused('import file', problems);

    // New flags by name, so two imports creating the same ones wait for each other, never in a circle.
    const byName = new Map(file.features.map((f) => [f.name, f]));
    for (const n of [...created].sort()) {
      const f = byName.get(n)!;
      const kind = isFlagKind(f.type) ? f.type : 'release';
      await tx.insertFlag({ app, name: f.name, kind, owner: who.actor, description: f.description ?? '', lifetimeDays: DEFAULT_LIFETIME_DAYS[kind], createdBy: who.actor });
    }
    const also: AuditInput[] = [];
    for (const f of file.features) {
      await tx.putState(app, env, f.name, stateOf(f), who.actor);
      // A rollout running on a flag whose percentage the file moves pauses: the import took over.
      const prior = before.state.features.find((x) => x.name === f.name);
      also.push(...(await flags.stateChanged(tx, { app, env, flag: f.name, prior: prior ? stateOf(prior) : null, state: stateOf(f), actor: who.actor })));
    }
    for (const s of file.segments ?? []) await tx.putSegment(app, env, s, who.actor);

    const names = file.features.map((f) => f.name);
    const touched = new Set(names);
    const ids = new Set((file.segments ?? []).map((s) => s.id));
    const result: ImportResult = { app, env, revision, created, updated, segments: [...ids] };
    return {
      result,
      // What the import replaced and what it put there (the trail bounds a large entry by its digest).
      before: { revision: before.revision, features: before.state.features.filter((f) => touched.has(f.name)), segments: (before.state.segments ?? []).filter((s) => ids.has(s.id)) },
      after: { revision, created: created.length, updated: updated.length, features: file.features, segments: file.segments ?? [] },
      moved: [{ env, revision, flag: null, flags: names.slice(0, LISTED) }],
      also,
    };
  });
}

function mergeSegments(state: ClientFeatures, file: ClientFeatures): NonNullable<ClientFeatures['segments']> {
  const out = [...(state.segments ?? [])];
  for (const s of file.segments ?? []) {
    const i = out.findIndex((x) => x.id === s.id);
    if (i >= 0) out[i] = s;
    else out.push(s);
  }
  return out;
}
