/**
 * Notification channels wired into the server: declared in the spec with secrets by variable
 * name, fed by real deployments, delivered signed to a local receiver (standing in for a
 * third-party endpoint), verified with the `standardwebhooks` package, listed and resent.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Webhook } from 'standardwebhooks';
import { parse as parseYaml } from 'yaml';
import { runAgent, type RunningAgent } from '../agent/main.js';
import { ApiClient } from '../cli/client.js';
import { flagsClient } from '../cli/client-flags.js';
import { createToken, createUser } from '../cli/client-auth.js';
import { changeRequestsClient } from '../cli/client-flag-change-requests.js';
import { checkReleaseDir, packDir } from '../cli/pack.js';
import { demoSpec, freePort, makeDemoRelease } from '../demo/fixtures.js';
import { waitForDeployment } from '../demo/platform.js';
import { silentLogger } from './logger.js';
import { runServer, type RunningServer } from '../server/main.js';

const SECRET = `whsec_${randomBytes(32).toString('base64')}`;
let work: string;
let agent: RunningAgent;
let server: RunningServer;
let client: ApiClient;
let receiver: Server;
let receiverPort: number;
const received: { headers: IncomingHttpHeaders; body: string }[] = [];

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'rollgate-notify-'));
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      received.push({ headers: req.headers, body });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
  receiverPort = (receiver.address() as { port: number }).port;
  process.env.ROLLGATE_TEST_WEBHOOK_SECRET = SECRET;
  agent = await runAgent({ dataDir: join(work, 'agent'), log: () => {} });
  server = await runServer({ dataDir: join(work, 'server'), port: 0, agent: { url: agent.url, token: agent.token }, log: silentLogger });
  client = new ApiClient(server.url, server.token);
});

after(async () => {
  delete process.env.ROLLGATE_TEST_WEBHOOK_SECRET;
  await server?.stop();
  await agent?.stop();
  await new Promise((r) => receiver.close(r));
  await rm(work, { recursive: true, force: true });
});

const channels = (secretEnv: string) => `notifications:
  channels:
    - name: ops-hook
      kind: webhook
      url: http://127.0.0.1:${receiverPort}/hook
      secretEnv: ${secretEnv}
      events: ["deployment.succeeded", "deployment.rolled_back"]
      envs: [staging]
`;

test('a channel whose secret variable is not set is refused and nothing is applied', async () => {
  const spec = demoSpec({ stagingPort: await freePort(), productionPort: await freePort(), analysis: false }) + channels('ROLLGATE_TEST_UNSET_SECRET');
  await assert.rejects(client.applySpec(parseYaml(spec)), /ROLLGATE_TEST_UNSET_SECRET.*not set in the server's environment/);
  assert.deepEqual(await client.apps(), []);
});

test('a deployment is announced to the channel, signed per Standard Webhooks; deliveries can be listed and resent', async () => {
  const spec = demoSpec({ stagingPort: await freePort(), productionPort: await freePort(), analysis: false }) + channels('ROLLGATE_TEST_WEBHOOK_SECRET');
  await client.applySpec(parseYaml(spec));
  const dir = await makeDemoRelease(join(work, 'releases'), { version: 'v1' });
  await client.uploadRelease('demo', packDir(await checkReleaseDir(dir)), { version: 'v1' });
  const d = await client.deploy({ app: 'demo', env: 'staging', version: 'v1' });
  assert.equal((await waitForDeployment(client, d.id)).status, 'succeeded');

  const deadline = Date.now() + 10_000;
  while (received.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.equal(received.length, 1, 'one event matched the channel (deployment.succeeded in staging)');
  const msg = received[0]!;
  const payload = new Webhook(SECRET).verify(msg.body, {
    'webhook-id': String(msg.headers['webhook-id']),
    'webhook-timestamp': String(msg.headers['webhook-timestamp']),
    'webhook-signature': String(msg.headers['webhook-signature']),
  }) as { type: string; data: { app: string; env: string; version: string } };
  assert.equal(payload.type, 'deployment.succeeded');
  assert.equal(payload.data.version, 'v1');
  assert.throws(() => new Webhook(SECRET).verify(msg.body.replace('v1', 'v9'), { 'webhook-id': String(msg.headers['webhook-id']), 'webhook-timestamp': String(msg.headers['webhook-timestamp']), 'webhook-signature': String(msg.headers['webhook-signature']) }));

  const res = await fetch(`${server.url}/v1/notifications/deliveries?channel=ops-hook`, { headers: { authorization: `Bearer ${server.token}` } });
  const text = await res.text();
  assert.ok(!text.includes(SECRET.slice(6)), 'no secret in the delivery log');
  const deliveries = JSON.parse(text) as { deliveryId: string; outcome: string }[];
  assert.equal(deliveries[0]?.outcome, 'delivered');
  const resent = await fetch(`${server.url}/v1/notifications/deliveries/${deliveries[0]!.deliveryId}/resend`, { method: 'POST', headers: { authorization: `Bearer ${server.token}` } });
  assert.equal(resent.status, 202);
  const deadline2 = Date.now() + 10_000;
  while (received.length < 2 && Date.now() < deadline2) await new Promise((r) => setTimeout(r, 50));
  assert.equal(received.length, 2);
  assert.equal(received[1]!.headers['webhook-id'], msg.headers['webhook-id'], 'a resend keeps the message id (receivers deduplicate on it)');
});

test('flag changes reach a channel that asks for flag.*: who changed what, where, and the revision', async () => {
  const hook = `notifications:
  channels:
    - name: flag-hook
      kind: webhook
      url: http://127.0.0.1:${receiverPort}/flags
      secretEnv: ROLLGATE_TEST_WEBHOOK_SECRET
      events: ["flag.*"]
      envs: [staging]
`;
  await client.applySpec(parseYaml(demoSpec({ stagingPort: await freePort(), productionPort: await freePort(), analysis: false }) + hook));
  const flags = flagsClient(client);
  await flags.create('demo', { name: 'new-checkout' });
  // Not this channel's environment (production takes no direct change but the kill switch).
  await changeRequestsClient(client).kill('demo', 'production', 'new-checkout');
  await flags.enable('demo', 'staging', 'new-checkout');
  const deadline = Date.now() + 10_000;
  const ours = () => received.filter((m) => m.body.includes('"flag.changed"'));
  while (ours().length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  await new Promise((r) => setTimeout(r, 300)); // a delivery for production, if wrongly sent, would be here by now
  const got = ours().map((m) => JSON.parse(m.body) as { type: string; data: { env: string; summary: string } });
  assert.equal(got.length, 1, JSON.stringify(got));
  assert.equal(got[0]!.data.env, 'staging');
  assert.match(got[0]!.data.summary, /^Flag new-checkout of demo: enabled in staging by user:admin \(revision \d+\)$/);
});

test('change requests and the kill switch reach a flag.* channel: proposed, approved (and the change it applied), killed', async () => {
  const hook = `notifications:
  channels:
    - name: prod-flags
      kind: webhook
      url: http://127.0.0.1:${receiverPort}/prod-flags
      secretEnv: ROLLGATE_TEST_WEBHOOK_SECRET
      events: ["flag.*"]
      envs: [production]
`;
  await client.applySpec(parseYaml(demoSpec({ stagingPort: await freePort(), productionPort: await freePort(), analysis: false }) + hook));
  await flagsClient(client).create('demo', { name: 'reviewed' });
  await createUser(client, { name: 'approver', roles: ['release-manager'], generatePassword: true });
  const approver = new ApiClient(server.url, (await createToken(client, { user: 'approver', name: 'notify', expires: '1h' })).token);
  const cr = await changeRequestsClient(client).propose('demo', 'production', 'reviewed', { action: 'enable', reason: 'launch day' });
  await changeRequestsClient(approver).approve(cr.id);
  await changeRequestsClient(approver).kill('demo', 'production', 'reviewed', 'errors');
  const ours = () => received.filter((m) => m.body.includes('"reviewed"')).map((m) => JSON.parse(m.body) as { type: string; data: { summary: string } });
  const deadline = Date.now() + 10_000;
  while (ours().length < 4 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  const summaries = ours().map((m) => m.data.summary);
  assert.deepEqual(
    summaries.map((t) => t.replace(/cr_[0-9a-f]{16}/, 'CR').replace(/\(revision \d+\)/, '(revision N)')),
    [
      'Change request CR for flag reviewed of demo in production (enable) proposed by user:admin: launch day',
      'Flag reviewed of demo: enabled in production by user:approver (revision N)',
      'Change request CR for flag reviewed of demo in production (enable) approved by user:approver',
      'Flag reviewed of demo: killed (kill switch: off at once, no change request) in production by user:approver (revision N)',
    ],
  );
});
