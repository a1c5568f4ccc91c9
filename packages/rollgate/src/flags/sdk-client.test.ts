/**
 * Rollgate's own SDK against the real server (agent process, SQLite): the client fetches the
 * rules once and follows the stream; polling alone works too; a server that goes away leaves the
 * last rules in force and is caught up on return; wrong and revoked keys give a clear error and
 * defaults; usage reaches the server; a bootstrap serves before the server answers; every spec
 * case answers through the SDK as through the engine; and the OpenFeature provider answers as
 * the official OFREP provider does for the same flags.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { compile, RollgateClient, type ClientFeatures } from '@rollgate/sdk';
import { RollgateProvider } from '@rollgate/sdk/openfeature';
import { OFREPProvider } from '@openfeature/ofrep-provider';
import { OpenFeature, ProviderEvents, type EvaluationContext } from '@openfeature/server-sdk';
import { startFlagsPlatform, type FlagsPlatform } from '../test/flags-platform.js';
import { until } from '../test/split-platform.js';
import { importDropping, sdkKey, specFiles } from '../test/delivery-kit.js';

const on = { enabled: true, strategies: [{ name: 'default', constraints: [] }] };
const off = { enabled: false, strategies: [{ name: 'default', constraints: [] }] };

describe('the Rollgate SDK against a misbehaving server (a local stand-in that answers garbage)', () => {
  test('bad JSON, a stream of garbage, a 500 and a server that hangs up: errors are said, the last rules serve', async () => {
    let mode: 'garbage-json' | 'garbage-stream' | 'fail' = 'garbage-json';
    const hits: string[] = [];
    const srv = createServer((req, res) => {
      hits.push(`${mode} ${req.url}`);
      if (mode === 'fail') return void res.writeHead(500).end('boom');
      if (req.url?.startsWith('/api/client/features')) return void res.writeHead(200, { 'content-type': 'application/json' }).end(mode === 'garbage-json' ? '{"features": [' : JSON.stringify({ version: 2, features: 'nope' }));
      if (req.url?.startsWith('/api/client/streaming')) {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write('event: unleash-connected\ndata: {not json\n\n');
        res.write('event: unleash-updated\ndata: {"events": 5}\n\n');
        return void res.end();
      }
      res.writeHead(404).end();
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    const url = `http://127.0.0.1:${(srv.address() as { port: number }).port}`;
    const bootstrap: ClientFeatures = { version: 2, features: [{ name: 'kept', enabled: true, strategies: [{ name: 'default' }] }] };
    const c = new RollgateClient({ url, key: 'rgs_x', bootstrap, metricsIntervalMs: 0 });
    const errors: string[] = [];
    c.on('error', (e) => errors.push(e.message));
    try {
      c.start();
      await until('the bad JSON said', async () => errors.length > 0);
      assert.equal(c.isEnabled('kept'), true, 'the bootstrap still serves');
      mode = 'garbage-stream';
      await until('the garbage stream said', async () => hits.some((h) => h.startsWith('garbage-stream /api/client/')) && errors.length > 1, 20_000);
      assert.equal(c.isEnabled('kept'), true, 'rules that are not rules change nothing');
      mode = 'fail';
      await until('the 500 said', async () => errors.some((m) => /500/.test(m)), 20_000);
      assert.equal(c.isEnabled('kept'), true);
    } finally {
      await c.close();
      await new Promise((r) => srv.close(r));
    }
  });
});

describe('the Rollgate SDK against the server', () => {
  let p: FlagsPlatform;
  let key: string;
  const clients: RollgateClient[] = [];
  const client = (o: Partial<ConstructorParameters<typeof RollgateClient>[0]> = {}) => {
    const c = new RollgateClient({ url: p.server.url, key, metricsIntervalMs: 0, ...o });
    clients.push(c);
    return c;
  };
  const set = (flag: string, state: unknown, env = 'staging') => p.admin.request('PUT', `/v1/apps/shop/envs/${env}/flags/${flag}`, { body: state });

  before(async () => {
    p = await startFlagsPlatform();
    await p.admin.request('POST', '/v1/apps/shop/flags', { body: { name: 'checkout', kind: 'release' } });
    await set('checkout', on);
    key = (await sdkKey(p.admin, 'shop', 'staging', 'server')).key;
  });
  after(async () => {
    for (const c of clients) await c.close();
    await OpenFeature.close();
    await p?.stop();
  });

  test('rules fetched once, then every change follows over the stream', async () => {
    const c = client().start();
    await c.ready();
    assert.equal(c.isEnabled('checkout'), true);
    assert.equal(c.isEnabled('no-such-flag', {}, true), true, 'an unknown flag gives the default');
    await set('checkout', off);
    await until('the stream to bring the change', async () => c.isEnabled('checkout') === false);
    await set('checkout', on);
    await until('and back', async () => c.isEnabled('checkout') === true);
    assert.ok((c.revision ?? 0) >= 3, `revision ${c.revision}`);
  });

  test('streaming off: ETag polling finds the change', async () => {
    const c = client({ streaming: false, refreshIntervalMs: 100 }).start();
    await c.ready();
    await set('checkout', off);
    await until('a poll to bring it', async () => c.isEnabled('checkout') === false);
    await set('checkout', on);
    await until('and back', async () => c.isEnabled('checkout') === true);
  });

  test('many changes in a row while clients connect: every client ends on the server state', async () => {
    const many = Array.from({ length: 10 }, () => client().start());
    for (let i = 0; i < 30; i++) {
      await set('checkout', i % 2 === 0 ? off : on);
      if (i === 10) many.push(client().start(), client({ streaming: false, refreshIntervalMs: 100 }).start());
    }
    await set('checkout', { ...on, strategies: [{ name: 'userWithId', parameters: { userIds: 'final' }, constraints: [] }] });
    const state = (await p.admin.request('GET', '/v1/apps/shop/envs/staging/flags')) as { revision: number };
    for (const c of many) {
      await until('each client on the final rules', async () => c.isEnabled('checkout', { userId: 'final' }) && !c.isEnabled('checkout', { userId: 'other' }));
    }
    assert.ok(many.every((c) => c.revision === state.revision), `revisions ${many.map((c) => c.revision).join(',')} vs ${state.revision}`);
  });

  test('a wrong key: a clear error, and defaults are served', async () => {
    const errors: { message: string; status?: number }[] = [];
    const c = client({ key: `rgs_${'W'.repeat(43)}` });
    c.on('error', (e) => errors.push(e));
    c.start();
    await until('the refusal', async () => errors.length > 0);
    assert.equal(errors[0]!.status, 401);
    assert.match(errors[0]!.message, /unknown SDK key/);
    assert.equal(c.isEnabled('checkout', {}, false), false, 'the default: no rules were ever given');
  });

  test('a revoked key: the stream ends, the error says revoked, the last rules stay in force', async () => {
    await set('checkout', on);
    const own = await sdkKey(p.admin, 'shop', 'staging', 'server');
    const errors: { message: string; status?: number }[] = [];
    const c = client({ key: own.key });
    c.on('error', (e) => errors.push(e));
    c.start();
    await c.ready();
    assert.equal(c.isEnabled('checkout'), true);
    await p.admin.request('DELETE', `/v1/apps/shop/envs/staging/flag-keys/${own.id}`);
    await until('the revocation to reach the client', async () => errors.some((e) => e.status === 401 && /revoked/.test(e.message)));
    assert.equal(c.isEnabled('checkout'), true, 'the last rules serve');
  });

  test('usage is reported in batches and reaches the server', async () => {
    const c = client().start();
    await c.ready();
    for (let i = 0; i < 25; i++) c.isEnabled('checkout', { userId: `u${i}` });
    await c.flushUsage();
    const usage = await until('the usage on record', async () => {
      const rows = await p.store.flagMetrics.usage('shop', 'staging', 'checkout');
      return rows.find((r) => r.variant === null && r.yes + r.no >= 25) ?? null;
    });
    assert.ok(usage.yes + usage.no >= 25);
  });

  test('a bootstrap serves before (and without) the server', async () => {
    const bootstrap: ClientFeatures = { version: 2, features: [{ name: 'from-file', enabled: true, strategies: [{ name: 'default' }] }] };
    const c = new RollgateClient({ url: 'http://127.0.0.1:9', key, bootstrap, metricsIntervalMs: 0 });
    clients.push(c);
    c.start();
    await c.ready();
    assert.equal(c.isEnabled('from-file'), true);
  });

  test('every specification case answers through the SDK as through the engine', async () => {
    let cases = 0;
    // One environment per file would need as many environments: each file is imported into
    // staging of its own app, declared alongside shop.
    const files = specFiles();
    const applied = await p.admin.appliedSpec();
    await p.admin.applySpec({ apps: { ...applied.apps, ...Object.fromEntries(files.map((_, i) => [`spec${i}`, { run: 'node server.js' }])) }, environments: applied.environments });
    for (const [i, file] of files.entries()) {
      const app = `spec${i}`;
      // Flags whose rules the server refuses (deliberately invalid values) are left out of both sides.
      const dropped = await importDropping(p.admin, app, 'staging', file.state);
      const kept = { ...file.state, features: file.state.features.filter((f) => !dropped.has(f.name)) };
      const k = await sdkKey(p.admin, app, 'staging', 'server');
      const c = client({ key: k.key }).start();
      await c.ready();
      const engine = compile(kept);
      for (const t of file.cases) {
        if (t.kind === 'isEnabled') assert.equal(c.isEnabled(t.toggleName, t.context), engine.isEnabled(t.toggleName, t.context), `${file.file}: ${t.description}`);
        else assert.deepEqual({ ...c.getVariant(t.toggleName, t.context) }, { ...engine.getVariant(t.toggleName, t.context) }, `${file.file}: ${t.description}`);
        cases++;
      }
      await c.close();
    }
    assert.ok(cases > 250, `${cases} cases`);
  });

  test('the OpenFeature provider answers as the official OFREP provider does, and says when the rules change', async () => {
    const flags: Record<string, unknown> = {
      theme: { enabled: true, strategies: [{ name: 'default' }], variants: [{ name: 'blue', weight: 1000, stickiness: 'default', payload: { type: 'string', value: 'navy' } }] },
      limit: { enabled: true, strategies: [{ name: 'default' }], variants: [{ name: 'high', weight: 1000, stickiness: 'default', payload: { type: 'number', value: '42.5' } }] },
      layout: { enabled: true, strategies: [{ name: 'default' }], variants: [{ name: 'grid', weight: 1000, stickiness: 'default', payload: { type: 'json', value: '{"columns":3}' } }] },
      beta: { enabled: true, strategies: [{ name: 'userWithId', parameters: { userIds: 'u1' } }] },
    };
    for (const [name, state] of Object.entries(flags)) {
      await p.admin.request('POST', '/v1/apps/shop/flags', { body: { name, kind: 'release' } });
      await set(name, state);
    }
    await set('checkout', on);
    const ours = new RollgateProvider({ url: p.server.url, key, metricsIntervalMs: 0 });
    await OpenFeature.setProviderAndWait('rollgate', ours);
    await OpenFeature.setProviderAndWait('ofrep', new OFREPProvider({ baseUrl: p.server.url, headers: { Authorization: key } }));
    const a = OpenFeature.getClient('rollgate');
    const b = OpenFeature.getClient('ofrep');
    const pick = (d: { value: unknown; variant?: string | undefined; reason?: string | undefined; errorCode?: string | undefined }) => ({ value: d.value, variant: d.variant, reason: d.reason, errorCode: d.errorCode });
    // A context with an object in it is INVALID_CONTEXT through both (Unleash properties are strings).
    const contexts: EvaluationContext[] = [{ targetingKey: 'u1' }, { targetingKey: 'u2', plan: 'pro' }, {}, { targetingKey: 'u1', nested: { a: 1 } }];
    for (const ctx of contexts) {
      assert.deepEqual(pick(await a.getBooleanDetails('checkout', false, ctx)), pick(await b.getBooleanDetails('checkout', false, ctx)), 'checkout');
      assert.deepEqual(pick(await a.getBooleanDetails('beta', false, ctx)), pick(await b.getBooleanDetails('beta', false, ctx)), `beta ${JSON.stringify(ctx)}`);
      assert.deepEqual(pick(await a.getStringDetails('theme', 'x', ctx)), pick(await b.getStringDetails('theme', 'x', ctx)), 'theme');
      assert.deepEqual(pick(await a.getNumberDetails('limit', 0, ctx)), pick(await b.getNumberDetails('limit', 0, ctx)), 'limit');
      assert.deepEqual(pick(await a.getObjectDetails('layout', {}, ctx)), pick(await b.getObjectDetails('layout', {}, ctx)), 'layout');
      assert.deepEqual(pick(await a.getBooleanDetails('no-such', true, ctx)), pick(await b.getBooleanDetails('no-such', true, ctx)), 'missing');
      assert.deepEqual(pick(await a.getNumberDetails('theme', 7, ctx)), pick(await b.getNumberDetails('theme', 7, ctx)), 'type mismatch');
    }
    assert.equal(await a.getStringValue('theme', 'x', {}), 'navy');
    const changed: string[][] = [];
    OpenFeature.getClient('rollgate').addHandler(ProviderEvents.ConfigurationChanged, (d) => changed.push(d?.flagsChanged ?? []));
    await set('checkout', off);
    await until('configuration changed for checkout', async () => changed.some((f) => f.includes('checkout')));
    assert.equal(await a.getBooleanValue('checkout', true, {}), false);
  });
});
