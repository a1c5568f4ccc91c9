import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AgentClient } from '../agent/client.js';
import { RollgateError } from '../core/errors.js';
import type { RuntimeKind, TrafficKind } from '../core/spec.js';
import { createTraffic } from '../traffic/factory.js';
import { createRuntime } from './factory.js';

// No agent answers here: constructing an implementation must not call it.
const agent = new AgentClient({ url: 'http://127.0.0.1:9', token: 'unused' });

test('each known kind builds its implementation', () => {
  assert.equal(createRuntime('local', { agent }).name, 'local-agent');
  assert.equal(createTraffic('builtin', { agent }).name, 'builtin');
});

test('a kind that got past the spec is refused, naming the known kinds', () => {
  assert.throws(() => createRuntime('nomad' as RuntimeKind, { agent }), (e: unknown) => e instanceof RollgateError && e.code === 'invalid_input' && /unknown runtime "nomad": the known runtime kinds are local/.test(e.message));
  assert.throws(() => createTraffic('nginx' as TrafficKind, { agent }), (e: unknown) => e instanceof RollgateError && /unknown traffic "nginx": the known traffic kinds are builtin/.test(e.message));
});
