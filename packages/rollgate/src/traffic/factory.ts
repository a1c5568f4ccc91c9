/**
 * The one place that names a TrafficProvider implementation: an environment's `traffic:` picks
 * one (core/spec.ts TRAFFIC_KINDS); nothing else constructs a concrete provider.
 */
import type { AgentClient } from '../agent/client.js';
import { RollgateError } from '../core/errors.js';
import { TRAFFIC_KINDS, type TrafficKind } from '../core/spec.js';
import { BuiltinTraffic } from './builtin.js';
import type { TrafficProvider } from './types.js';

export interface TrafficDeps {
  /** The agent whose router serves the environment (`builtin`). */
  agent: AgentClient;
}

export function createTraffic(kind: TrafficKind, deps: TrafficDeps): TrafficProvider {
  switch (kind) {
    case 'builtin':
      return new BuiltinTraffic(deps.agent);
    default:
      throw new RollgateError('invalid_input', `unknown traffic ${JSON.stringify(kind)}: the known traffic kinds are ${TRAFFIC_KINDS.join(', ')}`);
  }
}
