import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AnalysisMetric } from '../core/spec.js';
import { CommandSource } from './command.js';
import { commandOutputFor, createMetricSources } from './index.js';
import { metricSourceSuite } from './source.suite.js';
import type { CommandQuery, MeasureContext } from './types.js';
import type { TrafficProvider } from '../traffic/types.js';

const ctx: Omit<MeasureContext, 'signal'> = { app: 'shop', env: 'production', canary: 'v2', stable: 'v1', windowMs: 30_000 };
const q = (run: string, over: Partial<CommandQuery> = {}): CommandQuery => ({ run, timeout: '10s', env: {}, ...over });
const source = new CommandSource();
const measure = (query: CommandQuery, signal = new AbortController().signal) => source.measure(query, { ...ctx, signal });

/** Running, as opposed to gone or a zombie (dead, waiting for init to reap it). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

metricSourceSuite('command', async () => ({
  source,
  ctx,
  okQuery: q('echo 0.42', { output: 'number' }),
  okValue: 0.42,
  errorQuery: q('echo hello', { output: 'number' }),
  slowQuery: q('sleep 30', { timeout: '300ms' }),
  slowNaturalMs: 30_000,
  teardown: async () => undefined,
}));

describe('command metric source', { timeout: 30_000 }, () => {
  test('exit 0 is 1, another exit code is 0 with the code and last stderr line', async () => {
    assert.deepEqual((await measure(q('exit 0'))).value, 1);
    const m = await measure(q('echo first >&2; echo "disk almost full" >&2; exit 3'));
    assert.equal(m.value, 0);
    assert.equal(m.error, null, 'a failing check is a measurement, not an error');
    assert.deepEqual(m.raw, { exitCode: 3, signal: null, stdout: null, stderr: 'disk almost full' });
  });

  test('a value is the last non-empty stdout line; a bad line or a failed command is an error', async () => {
    assert.equal((await measure(q('echo noise; echo 17.5; echo; echo "  "', { output: 'number' }))).value, 17.5);
    assert.equal((await measure(q('echo ready', { output: 'text' }))).value, 'ready');
    assert.equal((await measure(q('echo true', { output: 'boolean' }))).value, true);
    assert.equal((await measure(q('echo 0', { output: 'boolean' }))).value, false);
    const nan = await measure(q('echo NaN', { output: 'number' }));
    assert.match(nan.error ?? '', /last line of output "NaN" is not a number/);
    const none = await measure(q('true', { output: 'number' }));
    assert.match(none.error ?? '', /printed nothing/);
    const failed = await measure(q('echo 0.1; echo "db down" >&2; exit 2', { output: 'number' }));
    assert.equal(failed.value, null);
    assert.match(failed.error ?? '', /exited with code 2 \(db down\); its output is not read as a value unless it exits 0/);
  });

  test('env, cwd and the rollout variables reach the command', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rollgate-cmd-'));
    try {
      assert.equal((await measure(q('pwd', { output: 'text', cwd: dir }))).value, realpathSync(dir));
      assert.equal((await measure(q('echo "$LIMIT"', { output: 'number', env: { LIMIT: '7' } }))).value, 7);
      const vars = await measure(q('echo "$ROLLGATE_APP/$ROLLGATE_ENV/$ROLLGATE_CANARY/$ROLLGATE_STABLE/$ROLLGATE_WINDOW_SECONDS"', { output: 'text' }));
      assert.equal(vars.value, 'shop/production/v2/v1/30');
      // Nothing of the server's environment is passed on: neither its ROLLGATE_* settings nor anything else.
      process.env.ROLLGATE_TEST_SECRET = 'hunter2';
      process.env.AWS_SECRET_ACCESS_KEY = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
      try {
        assert.equal((await measure(q('echo "${ROLLGATE_TEST_SECRET:-none}/${AWS_SECRET_ACCESS_KEY:-none}"', { output: 'text' }))).value, 'none/none');
        const names = await measure(q('env | cut -d= -f1 | grep -v -e "^PWD$" -e "^SHLVL$" -e "^_$" | sort | tr "\\n" " "', { output: 'text' }));
        assert.equal(names.value, 'HOME LANG PATH ROLLGATE_APP ROLLGATE_CANARY ROLLGATE_ENV ROLLGATE_STABLE ROLLGATE_WINDOW_SECONDS');
        assert.equal((await measure(q('echo "$HOME"', { output: 'text' }))).value, tmpdir(), "HOME is not the server's");
      } finally {
        delete process.env.ROLLGATE_TEST_SECRET;
        delete process.env.AWS_SECRET_ACCESS_KEY;
      }
      const bad = await measure(q('true', { cwd: join(dir, 'missing') }));
      assert.equal(bad.value, null);
      assert.match(bad.error ?? '', /could not start in .*missing/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('what a measurement quotes is masked: value, last lines and messages, of every source', async () => {
    const value = 'metric-secret-value-42';
    const hex = Buffer.from(value).toString('hex');
    const sources = createMetricSources({ traffic: {} as TrafficProvider, mask: (t) => t.replaceAll(value, '[secret:M]').replaceAll(hex, '[secret:M]') });
    const signal = new AbortController().signal;
    const run = (command: object, condition?: object) => sources.measure(AnalysisMetric.parse({ name: 'm', command, ...(condition ? { condition } : {}) }), { ...ctx, signal });
    const text = await run({ run: `echo ${hex} >&2; echo ${value}` }, { equals: 'x' });
    assert.equal(text.value, '[secret:M]');
    assert.deepEqual([(text.raw as { stdout: string }).stdout, (text.raw as { stderr: string }).stderr], ['[secret:M]', '[secret:M]']);
    const failed = await run({ run: `echo ${value} >&2; exit 2` }, { max: 1 });
    assert.ok(failed.error && !failed.error.includes(value) && failed.error.includes('[secret:M]'), String(failed.error));
    const nan = await run({ run: `echo ${value}` }, { max: 1 });
    assert.ok(nan.error && !nan.error.includes(value), String(nan.error));
    assert.ok(!JSON.stringify([text, failed, nan]).includes(value));
  });

  test('a hung command is killed with its whole process group at the timeout', async () => {
    // The shell starts a background sleep (a grandchild of ours) and waits: both must die.
    const m = await measure(q('sleep 30 & echo $!; wait', { timeout: '400ms' }));
    assert.equal(m.value, null);
    assert.match(m.error ?? '', /timed out after 400ms.*process group was killed/);
    const grandchild = Number((m.raw as { stdout: string }).stdout);
    assert.ok(grandchild > 0, `the background pid was printed: ${JSON.stringify(m.raw)}`);
    for (let i = 0; i < 50 && alive(grandchild); i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(alive(grandchild), false, `background process ${grandchild} outlived the timeout`);
  });

  test('background children left by a command that exits are not left running', async () => {
    const m = await measure(q('sleep 30 >/dev/null 2>&1 & echo $!'));
    assert.equal(m.value, 1);
    const pid = Number((m.raw as { stdout: string }).stdout);
    for (let i = 0; i < 50 && alive(pid); i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(alive(pid), false);
  });

  test('the dispatcher reads the value the condition asks for', async () => {
    const noTraffic: TrafficProvider = { name: 'none', setRoutes: async () => undefined, getRoutes: async () => null, metrics: async () => ({}) };
    const sources = createMetricSources({ traffic: noTraffic });
    const metric = (over: object) => AnalysisMetric.parse({ name: 'smoke', command: { run: 'echo 3; exit 0' }, ...over });
    assert.equal(commandOutputFor(metric({})), 'exit');
    assert.equal(commandOutputFor(metric({ condition: { max: 5 } })), 'number');
    assert.equal(commandOutputFor(metric({ condition: { equals: 'ok' } })), 'text');
    assert.equal(commandOutputFor(metric({ condition: { equals: true } })), 'boolean');
    const signal = new AbortController().signal;
    assert.equal((await sources.measure(metric({}), { ...ctx, signal })).value, 1);
    assert.equal((await sources.measure(metric({ condition: { max: 5 } }), { ...ctx, signal })).value, 3);
  });
});
