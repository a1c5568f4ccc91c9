/** The agent API refuses prototype and duplicate keys in bodies (400, nothing changed), as the control plane does. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runAgent, type RunningAgent } from './main.js';

let dir: string;
let agent: RunningAgent;
before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'rollgate-agent-body-'));
  agent = await runAgent({ dataDir: dir, log: () => {} });
});
after(async () => {
  await agent.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('a body with __proto__ or a duplicate key is refused with its path', async () => {
  const put = (body: string) => fetch(`${agent.url}/v1/services/staging/web/routes`, { method: 'PUT', headers: { authorization: `Bearer ${agent.token}`, 'content-type': 'application/json' }, body });
  for (const [body, where] of [
    ['{"weights":{"__proto__":{"v1":100}}}', /weights\.__proto__/],
    ['{"weights":{"v1":100},"weights":{"v2":100}}', /weights/],
  ] as const) {
    const res = await put(body);
    assert.equal(res.status, 400, body);
    const err = ((await res.json()) as { error: { code: string; message: string } }).error;
    assert.equal(err.code, 'invalid_input');
    assert.match(err.message, where);
  }
});
