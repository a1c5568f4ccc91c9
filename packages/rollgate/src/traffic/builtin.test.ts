/** The TrafficProvider contract on the built-in router: a real agent on loopback with two versions of the demo app. */
import { AgentClient } from '../agent/client.js';
import { runAgent } from '../agent/main.js';
import { demoVersion, tempDir, waitFor } from '../agent/testkit.js';
import type { ServiceKey } from '../core/dataplane.js';
import { freePort } from '../demo/fixtures.js';
import { LocalAgentRuntime } from '../runtime/local-agent.js';
import { trafficSuite } from '../test/traffic.suite.js';
import { BuiltinTraffic } from './builtin.js';

trafficSuite('builtin router', async () => {
  const tmp = tempDir('rollgate-traffic-suite-');
  const agent = await runAgent({ dataDir: tmp.dir, log: () => undefined, shutdownTimeoutMs: 5000 });
  const client = new AgentClient({ url: agent.url, token: agent.token, timeoutMs: 10_000 });
  const runtime = new LocalAgentRuntime(client);
  const key: ServiceKey = { env: 'suite', app: 'demo' };
  const listenPort = await freePort();
  await runtime.apply({ ...key, listenHost: '127.0.0.1', listenPort, hosts: [], versions: [demoVersion('v1'), demoVersion('v2')] });
  await waitFor('v1 and v2 ready', async () => (await runtime.observe(key))?.versions.every((v) => v.ready === 1) ?? false, 30_000);
  return {
    traffic: new BuiltinTraffic(client),
    key,
    listenPort,
    async teardown() {
      await runtime.close();
      await agent.stop();
      tmp.cleanup();
    },
  };
});
