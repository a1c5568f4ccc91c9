/**
 * The demo app as releases: a copy of examples/demo-app per version, with that version's
 * behaviour in behavior.json. Used by the demo, end-to-end tests and benchmarks.
 */
import { execFile } from 'node:child_process';
import { cp, mkdir, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const exec = promisify(execFile);

export const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
export const DEMO_APP_DIR = join(REPO_ROOT, 'examples', 'demo-app');
export const ROLLGATE_BIN = join(REPO_ROOT, 'packages', 'rollgate', 'bin', 'rollgate.js');

export interface Behavior {
  version: string;
  failRate?: number;
  latencyMs?: number;
  latencyJitterMs?: number;
  crashOnStart?: boolean;
  crashAfter?: number;
  healthy?: boolean;
  startDelayMs?: number;
  /** A cold start: extra latency for coldForMs from the first request. */
  coldLatencyMs?: number;
  coldForMs?: number;
  /** Bytes each request keeps for ever (a memory leak). */
  leakBytesPerRequest?: number;
  /** CPU each request burns in a busy loop, in ms. */
  cpuSpinMsPerRequest?: number;
  /** Flag name -> failure rate of requests served with it on (needs `withSdk` and the flags env; see examples/demo-app). */
  flags?: Record<string, number>;
}

export const SDK_DIR = join(REPO_ROOT, 'packages', 'sdk');

/** Ships @rollgate/sdk in the release's node_modules, as an app built with it would (its built files, no tests). */
async function addSdk(dir: string): Promise<void> {
  const to = join(dir, 'node_modules', '@rollgate', 'sdk');
  await mkdir(to, { recursive: true });
  await cp(join(SDK_DIR, 'package.json'), join(to, 'package.json'));
  await cp(join(SDK_DIR, 'dist'), join(to, 'dist'), { recursive: true, filter: (src) => !/\.(test|testkit)\.(js|d\.ts)(\.map)?$|[\\/]bench([\\/]|$)|\.tsbuildinfo$/.test(src) });
}

/** Writes a release directory of the demo app under `baseDir/<version>` and returns its path. */
export async function makeDemoRelease(baseDir: string, behavior: Behavior, opts: { withSdk?: boolean } = {}): Promise<string> {
  const dir = join(baseDir, behavior.version);
  await mkdir(dir, { recursive: true });
  await cp(join(DEMO_APP_DIR, 'server.js'), join(dir, 'server.js'));
  await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'demo-app', private: true, type: 'module' }) + '\n');
  await writeFile(join(dir, 'behavior.json'), JSON.stringify(behavior, null, 2) + '\n');
  if (opts.withSdk) await addSdk(dir);
  return dir;
}

/**
 * A source tree of the demo app, as a developer has it: the app, its tests and a git history
 * (so releases carry a commit time for lead time). The pipeline builds the release from it.
 */
export async function makeDemoSource(baseDir: string, behavior: Behavior): Promise<string> {
  const dir = await makeDemoRelease(baseDir, behavior);
  await cp(join(DEMO_APP_DIR, 'server.test.mjs'), join(dir, 'server.test.mjs'));
  const git = (...args: string[]) => exec('git', ['-C', dir, '-c', 'user.name=Demo Developer', '-c', 'user.email=dev@demo.invalid', ...args]);
  await git('init', '-q');
  await git('add', '-A');
  await git('commit', '-q', '-m', `demo app ${behavior.version}`);
  return dir;
}

/** A free loopback TCP port (best effort: free when asked). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface DemoSpecOptions {
  stagingPort: number;
  productionPort: number;
  replicas?: number;
  previewPort?: number;
  canaryPauseMs?: number;
  /** false: no automated analysis (tests of rollout mechanics without traffic). */
  analysis?: boolean;
  /** Production's canary judges the new version in an analysis step instead of pausing for `rollgate promote`. */
  canaryAnalysisStep?: boolean;
  /** Add the demo's release pipeline. */
  pipeline?: boolean;
  /** The server the app's SDK reads its flags from (FLAGS_URL; the key is the FLAGS_KEY secret). */
  flagsUrl?: string;
}

/** The release pipeline of the demo app: the five stages of the seed articles, end to end. */
const DEMO_PIPELINE = `pipelines:
  demo:
    app: demo
    release: { path: dist }
    stages:
      - name: build
        run: { command: "mkdir -p dist && cp server.js package.json behavior.json dist/", retrySafe: true }
      - name: test
        run: { command: "mkdir -p reports && node --test --test-reporter=junit --test-reporter-destination=reports/junit.xml server.test.mjs", artifacts: [reports/junit.xml], timeout: 2m }
      - name: unit-tests
        gate: { junit: { path: reports/junit.xml } }
      - name: staging
        deploy: { env: staging }
      - name: staging-healthy
        approval: { auto: { healthy: { env: staging, for: 3s }, gatesPassed: true } }
      - name: sign-off
        approval: { manual: { roles: [release-manager] } }
      - name: production
        deploy: { env: production }
`;

/** rollgate.yaml for the demo app with the given listener ports. */
export function demoSpec(o: DemoSpecOptions): string {
  return `# generated by the Rollgate demo
apps:
  demo:
    run: node server.js
    portEnv: PORT
    replicas: ${o.replicas ?? 2}
    drainTimeout: 10s
    healthCheck: { path: /healthz, interval: 200ms, timeout: 1s, startTimeout: 15s }${o.flagsUrl ? `\n    env: { FLAGS_URL: "${o.flagsUrl}" }` : ''}
environments:
  staging:
    listen: ${o.stagingPort}${o.analysis === false ? '\n    analysis: false' : ''}
  production:
    listen: ${o.productionPort}${o.analysis === false ? '\n    analysis: false' : ''}
    progressDeadline: 2m
    strategy:
      canary:
        steps:
          - setWeight: 20
${
  o.canaryAnalysisStep
    ? `          - analysis: { duration: 5s }
          - setWeight: 50
          - pause: { duration: ${o.canaryPauseMs ?? 3000}ms }`
    : `          - pause: { duration: ${o.canaryPauseMs ?? 3000}ms }
          - setWeight: 50
          - pause: {}`
}
        scaleDownDelay: 60s
${o.pipeline ? DEMO_PIPELINE : ''}`;
}
