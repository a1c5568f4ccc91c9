/** The Runtime contract on the local agent: a real agent (runAgent) on loopback running the demo app. */
import { AgentClient } from '../agent/client.js';
import { runAgent } from '../agent/main.js';
import { demoVersion, tempDir } from '../agent/testkit.js';
import { freePort } from '../demo/fixtures.js';
import { runtimeSuite } from '../test/runtime.suite.js';
import { LocalAgentRuntime } from './local-agent.js';

runtimeSuite('local agent', async () => {
  const tmp = tempDir('rollgate-runtime-suite-');
  const agent = await runAgent({ dataDir: tmp.dir, log: () => undefined, shutdownTimeoutMs: 5000 });
  const runtime = new LocalAgentRuntime(new AgentClient({ url: agent.url, token: agent.token, timeoutMs: 10_000 }));
  return {
    runtime,
    version: (name, replicas) => demoVersion(name, { replicas }),
    listen: { host: '127.0.0.1', port: await freePort() },
    async teardown() {
      await agent.stop();
      tmp.cleanup();
    },
  };
});
