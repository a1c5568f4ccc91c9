/**
 * The SDK's browser side against the real server (agent process, SQLite) with real client keys,
 * in Node: RollgateWebProvider through the real @openfeature/web-sdk (values, variants, reasons
 * and error codes; a context change fetches again; a change made through the API is a
 * CONFIGURATION_CHANGED naming the flag), ETag polling without the stream, a revoked and a wrong
 * key (defaults, with the reason), a server gone away (the last values serve, STALE; on its
 * return the client catches up, READY), usage reaching the server, and a bootstrap.
 * The same code in a real browser: sdk-browser.test.ts.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { OpenFeature, ProviderEvents, ProviderStatus } from '@openfeature/web-sdk';
import { RollgateBrowserClient } from '@rollgate/sdk/browser';
import { RollgateWebProvider } from '@rollgate/sdk/openfeature-web';
import { startFlagsPlatform, type FlagsPlatform } from '../test/flags-platform.js';
import { until } from '../test/split-platform.js';
import { sdkKey } from '../test/delivery-kit.js';
import { CutProxy } from '../test/cut-proxy.js';

const on = { enabled: true, strategies: [{ name: 'default', constraints: [] }] };
const off = { enabled: false, strategies: [{ name: 'default', constraints: [] }] };
const variant = (name: string, payload: { type: string; value: string }) => ({ enabled: true, strategies: [{ name: 'default', constraints: [] }], variants: [{ name, weight: 1000, weightType: 'variable', stickiness: 'default', payload }] });

describe('the web provider against a misbehaving server (a local stand-in)', () => {
  test("the server's error codes pass through (PARSE_ERROR; an unknown one is GENERAL); garbage keeps the last values and says why", async () => {
    let garbage = false;
    const srv = createServer((req, res) => {
      if (req.url?.startsWith('/ofrep/v1/evaluate/flags')) {
        res.writeHead(200, { 'content-type': 'application/json' });
        return void res.end(garbage ? '{"flags": [{"value": 1}]}' : JSON.stringify({ flags: [{ key: 'n', errorCode: 'PARSE_ERROR', errorDetails: 'flag n: the number payload "forty" is not a number' }, { key: 'w', errorCode: 'SOMETHING_NEW' }, { key: 'on', value: true, variant: 'on', reason: 'STATIC' }] }));
      }
      res.writeHead(404).end();
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    const url = `http://127.0.0.1:${(srv.address() as { port: number }).port}`;
    const provider = new RollgateWebProvider({ url, key: 'rgc_x', streaming: false, refreshIntervalMs: 50, metricsIntervalMs: 0 });
    const errors: string[] = [];
    provider.client.on('error', (e) => errors.push(e.message));
    try {
      await OpenFeature.setProviderAndWait('stand-in', provider);
      const of = OpenFeature.getClient('stand-in');
      const n = of.getNumberDetails('n', 1);
      assert.deepEqual([n.value, n.reason, n.errorCode, n.errorMessage], [1, 'ERROR', 'PARSE_ERROR', 'flag n: the number payload "forty" is not a number']);
      assert.equal(of.getBooleanDetails('w', true).errorCode, 'GENERAL');
      garbage = true;
      await until('the garbage said', async () => errors.some((m) => /not evaluations/.test(m)));
      assert.equal(of.getBooleanValue('on', false), true, 'the last values serve');
    } finally {
      await OpenFeature.clearProviders();
      await new Promise((r) => srv.close(r));
    }
  });
});

describe('the browser client against a stand-in that answers out of order', () => {
  test('an answer for an older context that arrives after the newer one is not taken', async () => {
    let releaseSlow: () => void = () => undefined;
    const slowHeld = new Promise<void>((r) => (releaseSlow = r));
    let slowAnswered!: () => void;
    const slowDone = new Promise<void>((r) => (slowAnswered = r));
    const srv = createServer((req, res) => {
      let text = '';
      req.on('data', (c: Buffer) => (text += c.toString()));
      req.on('end', () => {
        const user = (JSON.parse(text || '{}') as { context?: { targetingKey?: string } }).context?.targetingKey ?? '';
        const answer = () => res.writeHead(200, { 'content-type': 'application/json', etag: `"1-${user}"` }).end(JSON.stringify({ flags: [{ key: 'who', value: user, variant: user, reason: 'TARGETING_MATCH' }], metadata: { revision: 1 } }));
        if (user === 'slow') void slowHeld.then(answer).then(() => slowAnswered());
        else answer();
      });
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    const c = new RollgateBrowserClient({ url: `http://127.0.0.1:${(srv.address() as { port: number }).port}`, key: 'rgc_x', streaming: false, refreshIntervalMs: 3_600_000, metricsIntervalMs: 0, context: { targetingKey: 'first' } });
    try {
      c.start();
      await c.ready();
      assert.equal(c.getValue('who', ''), 'first');
      const slow = c.setContext({ targetingKey: 'slow' });
      await c.setContext({ targetingKey: 'fast' });
      assert.equal(c.getValue('who', ''), 'fast');
      releaseSlow();
      await slowDone;
      await slow;
      assert.equal(c.getValue('who', ''), 'fast', 'the slow answer for the older context was dropped');
    } finally {
      releaseSlow();
      await c.close();
      srv.closeAllConnections();
      await new Promise((r) => srv.close(r));
    }
  });
});

describe('the browser SDK (client keys) and the OpenFeature web provider against the server', () => {
  let p: FlagsPlatform;
  let key: string;
  const closers: (() => Promise<void>)[] = [];
  const set = (flag: string, state: unknown) => p.admin.request('PUT', `/v1/apps/shop/envs/staging/flags/${flag}`, { body: state });
  const client = (o: Partial<ConstructorParameters<typeof RollgateBrowserClient>[0]> = {}) => {
    const c = new RollgateBrowserClient({ url: p.server.url, key, metricsIntervalMs: 0, ...o });
    closers.push(() => c.close());
    return c;
  };

  before(async () => {
    p = await startFlagsPlatform();
    const flags: Record<string, unknown> = {
      checkout: on,
      beta: { enabled: true, strategies: [{ name: 'userWithId', parameters: { userIds: 'u1' }, constraints: [] }] },
      theme: variant('blue', { type: 'string', value: 'navy' }),
      limit: variant('high', { type: 'number', value: '42.5' }),
      layout: variant('grid', { type: 'json', value: '{"columns":3}' }),
      dark: off,
    };
    for (const [name, state] of Object.entries(flags)) {
      await p.admin.request('POST', '/v1/apps/shop/flags', { body: { name, kind: 'release' } });
      await set(name, state);
    }
    key = (await sdkKey(p.admin, 'shop', 'staging', 'client')).key;
  });
  after(async () => {
    for (const c of closers) await c();
    await OpenFeature.close();
    await p?.stop();
  });

  test('the web SDK: typed values, variants, reasons and error codes; a context change fetches again; an API change is CONFIGURATION_CHANGED', async () => {
    await OpenFeature.setContext('web', { targetingKey: 'u1' });
    await OpenFeature.setProviderAndWait('web', new RollgateWebProvider({ url: p.server.url, key, metricsIntervalMs: 0 }));
    const of = OpenFeature.getClient('web');
    assert.equal(of.providerStatus, ProviderStatus.READY);
    assert.equal(of.getBooleanValue('checkout', false), true);
    const pick = (d: { value: unknown; variant?: string | undefined; reason?: string | undefined; errorCode?: string | undefined }) => ({ value: d.value, variant: d.variant, reason: d.reason, errorCode: d.errorCode });
    assert.deepEqual(pick(of.getBooleanDetails('beta', false)), { value: true, variant: 'on', reason: 'TARGETING_MATCH', errorCode: undefined });
    assert.deepEqual(pick(of.getStringDetails('theme', 'x')), { value: 'navy', variant: 'blue', reason: 'STATIC', errorCode: undefined });
    assert.deepEqual(pick(of.getNumberDetails('limit', 0)), { value: 42.5, variant: 'high', reason: 'STATIC', errorCode: undefined });
    assert.deepEqual(of.getObjectValue('layout', {}), { columns: 3 });
    assert.deepEqual(pick(of.getBooleanDetails('dark', true)), { value: false, variant: 'off', reason: 'DISABLED', errorCode: undefined });
    const missing = of.getBooleanDetails('no-such-flag', true);
    assert.deepEqual([missing.value, missing.reason, missing.errorCode], [true, 'ERROR', 'FLAG_NOT_FOUND']);
    const mismatch = of.getNumberDetails('theme', 7);
    assert.deepEqual([mismatch.value, mismatch.errorCode], [7, 'TYPE_MISMATCH']);
    assert.match(mismatch.errorMessage ?? '', /theme gives a string/);

    // Static context: a new context is evaluated by the server before the SDK says it changed.
    const contextChanged: number[] = [];
    of.addHandler(ProviderEvents.ContextChanged, () => contextChanged.push(1));
    const changed: string[][] = [];
    of.addHandler(ProviderEvents.ConfigurationChanged, (d) => changed.push(d?.flagsChanged ?? []));
    await OpenFeature.setContext('web', { targetingKey: 'u2' });
    assert.equal(of.getBooleanValue('beta', true), false, 'u2 is not a beta user');
    assert.equal(contextChanged.length, 1);
    await OpenFeature.setContext('web', {});
    assert.equal(of.getBooleanDetails('beta', false).errorCode, 'TARGETING_KEY_MISSING');
    await OpenFeature.setContext('web', { targetingKey: 'u1' });
    assert.equal(of.getBooleanValue('beta', false), true);
    assert.equal(changed.length, 0, `a context change is CONTEXT_CHANGED, not a configuration change: ${JSON.stringify(changed)}`);

    await set('checkout', off);
    await until('CONFIGURATION_CHANGED for checkout', async () => changed.some((f) => f.includes('checkout')));
    assert.equal(of.getBooleanValue('checkout', true), false);
    assert.ok(changed.every((f) => f.length === 1 && f[0] === 'checkout'), `only checkout's value changed: ${JSON.stringify(changed)}`);
    await set('checkout', on);
    await until('and back', async () => of.getBooleanValue('checkout', false));
  });

  test('streaming off: ETag polling finds the change, and answers 304 while nothing changed', async () => {
    const statuses: number[] = [];
    const counting: typeof fetch = async (input, init) => {
      const res = await fetch(input, init);
      if (String(input).includes('/ofrep/v1/evaluate/flags')) statuses.push(res.status);
      return res;
    };
    const c = client({ streaming: false, refreshIntervalMs: 100, fetch: counting, context: { targetingKey: 'u1' } }).start();
    await c.ready();
    assert.equal(c.isEnabled('checkout'), true);
    await until('a poll answered 304', async () => statuses.includes(304));
    await set('checkout', off);
    await until('a poll to bring the change', async () => c.isEnabled('checkout', true) === false);
    await set('checkout', on);
    await until('and back', async () => c.isEnabled('checkout'));
    assert.equal(statuses[0], 200);
  });

  test('a revoked client key: ERROR, then every flag gives its default with the reason', async () => {
    const own = await sdkKey(p.admin, 'shop', 'staging', 'client');
    const provider = new RollgateWebProvider({ url: p.server.url, key: own.key, metricsIntervalMs: 0 });
    await OpenFeature.setProviderAndWait('revoked', provider);
    const of = OpenFeature.getClient('revoked');
    assert.equal(of.getBooleanValue('checkout', false), true);
    const errors: string[] = [];
    of.addHandler(ProviderEvents.Error, (d) => errors.push(d?.message ?? ''));
    await p.admin.request('DELETE', `/v1/apps/shop/envs/staging/flag-keys/${own.id}`);
    await until('the revocation to reach the provider', async () => errors.some((m) => /401/.test(m) && /revoked/.test(m)));
    const d = of.getBooleanDetails('checkout', false);
    assert.deepEqual([d.value, d.reason, d.errorCode], [false, 'ERROR', 'GENERAL']);
    assert.match(d.errorMessage ?? '', /refused the SDK key.*revoked/);
    assert.equal(provider.client.isEnabled('checkout', false), false, 'the client alone serves defaults too');
  });

  test('a wrong key: setProviderAndWait fails saying why; defaults are served', async () => {
    await assert.rejects(OpenFeature.setProviderAndWait('wrong', new RollgateWebProvider({ url: p.server.url, key: `rgc_${'W'.repeat(43)}`, metricsIntervalMs: 0 })), /401.*unknown SDK key/);
    const d = OpenFeature.getClient('wrong').getBooleanDetails('checkout', false);
    assert.deepEqual([d.value, d.errorCode], [false, 'GENERAL']);
    assert.match(d.errorMessage ?? '', /unknown SDK key/);
  });

  test('the server goes away: the last values serve (STALE); changes made meanwhile arrive on its return (READY)', async () => {
    const proxy = await CutProxy.start(p.server.url);
    closers.push(() => proxy.close());
    await OpenFeature.setContext('away', { targetingKey: 'u1' });
    await OpenFeature.setProviderAndWait('away', new RollgateWebProvider({ url: proxy.url, key, metricsIntervalMs: 0 }));
    const of = OpenFeature.getClient('away');
    const seen: string[] = [];
    for (const e of [ProviderEvents.Stale, ProviderEvents.Ready, ProviderEvents.ConfigurationChanged, ProviderEvents.Error]) of.addHandler(e, () => seen.push(e));
    assert.equal(of.getStringValue('theme', 'x'), 'navy');
    proxy.down();
    await until('STALE', async () => seen.includes(ProviderEvents.Stale));
    assert.equal(of.providerStatus, ProviderStatus.STALE);
    assert.equal(of.getStringValue('theme', 'x'), 'navy', 'the last values serve');
    // A new context while away: the last values stay, the client tries again with it.
    await OpenFeature.setContext('away', { targetingKey: 'u3' });
    for (let i = 0; i < 5; i++) await set('theme', variant(`v${i}`, { type: 'string', value: `teal${i}` }));
    assert.equal(of.getStringValue('theme', 'x'), 'navy');
    proxy.up();
    await until('the change after the return', async () => of.getStringValue('theme', 'x') === 'teal4', 40_000);
    await until('READY again', async () => of.providerStatus === ProviderStatus.READY);
    assert.equal(of.getBooleanValue('beta', true), false, 'evaluated for the context set while away (u3)');
    assert.ok(seen.includes(ProviderEvents.ConfigurationChanged));
    assert.ok(!seen.includes(ProviderEvents.Error), `no ERROR for a server away: ${seen.join(',')}`);
    await set('theme', variant('blue', { type: 'string', value: 'navy' }));
  });

  test('usage is reported in batches to the frontend API and reaches the server', async () => {
    const c = client({ context: { targetingKey: 'u1' } }).start();
    await c.ready();
    for (let i = 0; i < 12; i++) c.isEnabled('checkout');
    for (let i = 0; i < 3; i++) c.getValue('theme', 'x');
    await c.flushUsage();
    const rows = await until('the usage on record', async () => {
      const r = await p.store.flagMetrics.usage('shop', 'staging', 'checkout');
      return r.find((x) => x.variant === null && x.yes >= 12) ? r : null;
    });
    assert.ok(rows.length > 0);
    const theme = await until('the variant counts on record', async () => (await p.store.flagMetrics.usage('shop', 'staging', 'theme')).find((x) => x.variant === 'blue' && x.yes >= 3));
    assert.ok(theme);
  });

  test('a bootstrap serves before (and without) the server; bad bootstrap values are refused at once', async () => {
    const c = client({ url: 'http://127.0.0.1:9', bootstrap: [{ key: 'from-page', value: true, variant: 'on', reason: 'STATIC' }, { key: 'color', value: 'red', variant: 'r', reason: 'STATIC' }] }).start();
    await c.ready();
    assert.equal(c.isEnabled('from-page'), true);
    assert.equal(c.getValue('color', 'blue'), 'red');
    assert.equal(c.getValue('color', 3), 3, 'not a number: the default');
    assert.throws(() => client({ bootstrap: [{ value: true }] as never }), /bootstrap must be a list of evaluated flags/);
  });
});
