/**
 * The one place that names a Runtime implementation: an environment's `runtime:` picks one
 * (core/spec.ts RUNTIME_KINDS); nothing else constructs a concrete runtime.
 */
import type { AgentClient } from '../agent/client.js';
import { RollgateError } from '../core/errors.js';
import { RUNTIME_KINDS, type RuntimeKind } from '../core/spec.js';
import type { SecretRefresher } from '../engine/secret-rollout.js';
import type { Logger } from '../engine/logger.js';
import { LocalAgentRuntime, type SecretSource } from './local-agent.js';
import type { Runtime } from './types.js';

export interface RuntimeDeps {
  /** The agent of this host (`local`). */
  agent: AgentClient;
  secrets?: SecretSource;
  log?: Logger;
}

export function createRuntime(kind: RuntimeKind, deps: RuntimeDeps): Runtime & SecretRefresher {
  switch (kind) {
    case 'local':
      return new LocalAgentRuntime(deps.agent, { ...(deps.secrets ? { secrets: deps.secrets } : {}), ...(deps.log ? { log: deps.log } : {}) });
    default:
      // Reached only past the type system (a value not parsed by the spec).
      throw new RollgateError('invalid_input', `unknown runtime ${JSON.stringify(kind)}: the known runtime kinds are ${RUNTIME_KINDS.join(', ')}`);
  }
}
