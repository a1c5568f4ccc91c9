/**
 * The pipelines declared in rollgate.yaml, as last applied. Kept as one settings entry: they are
 * read when a run is queued (and frozen into it), never while it runs.
 */
import { RollgateError } from '../../core/errors.js';
import { PipelineSpec } from '../../core/pipeline-spec.js';
import type { Store } from '../../store/types.js';

const SETTING = 'pipelines';

export class PipelineCatalog {
  constructor(private readonly store: Store) {}

  async all(): Promise<Record<string, PipelineSpec>> {
    const text = await this.store.getSetting(SETTING);
    if (!text) return {};
    const raw = JSON.parse(text) as Record<string, unknown>;
    const out: Record<string, PipelineSpec> = {};
    for (const [name, spec] of Object.entries(raw)) out[name] = PipelineSpec.parse(spec);
    return out;
  }

  async get(name: string): Promise<PipelineSpec> {
    const all = await this.all();
    const p = all[name];
    if (!p) throw new RollgateError('not_found', `no pipeline "${name}"; declared: ${Object.keys(all).join(', ') || 'none'} (add it under pipelines: in rollgate.yaml and run rollgate apply)`);
    return p;
  }

  /** The pipeline of an app: the one named after it, else its only one. */
  async forApp(app: string): Promise<{ name: string; spec: PipelineSpec }> {
    const all = await this.all();
    const mine = Object.entries(all).filter(([, p]) => p.app === app);
    const named = mine.find(([n]) => n === app);
    if (named) return { name: named[0], spec: named[1] };
    if (mine.length === 1) return { name: mine[0]![0], spec: mine[0]![1] };
    if (mine.length === 0) throw new RollgateError('not_found', `app "${app}" has no pipeline; declare one under pipelines: in rollgate.yaml (with app: ${app})`);
    throw new RollgateError('invalid_input', `app "${app}" has ${mine.length} pipelines (${mine.map(([n]) => n).join(', ')}); name one with --pipeline`);
  }

  async apply(pipelines: Record<string, PipelineSpec>): Promise<void> {
    await this.store.setSetting(SETTING, JSON.stringify(pipelines));
  }
}
