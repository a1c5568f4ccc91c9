/** Evidence from the Rollgate router: the agent's report of the service (`flagMetrics`), read through the Runtime. */
import type { FlagMetrics } from '../../core/dataplane.js';
import type { Runtime } from '../../runtime/types.js';
import type { FlagEvidence } from './types.js';

export class RouterEvidence implements FlagEvidence {
  readonly name = 'router' as const;
  constructor(private readonly runtime: Pick<Runtime, 'observe'>) {}

  async read(app: string, env: string): Promise<FlagMetrics | undefined> {
    return (await this.runtime.observe({ app, env }))?.flagMetrics;
  }
}
