/**
 * The SDK in a real browser: headless Chromium (the machine's /usr/bin/chromium, driven by
 * playwright-core; no browser is ever downloaded) loads the SDK's built ES modules and the
 * OpenFeature web SDK's ESM build from a static server on another loopback port (an import map,
 * no bundler), so every call to Rollgate is cross-origin as on a real site. With a client key it
 * evaluates flags through RollgateWebProvider, sees a change made through the API as
 * CONFIGURATION_CHANGED over the event stream, fetches again on a context change, registers and
 * reports usage (also as the page is left); the key never appears in a URL.
 *
 * Without /usr/bin/chromium the suite skips saying so, except under ROLLGATE_REQUIRE_ALL=1,
 * where it fails.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { OpenFeature as OpenFeatureApi, ProviderEvents as ProviderEventsEnum, EvaluationDetails, FlagValue } from '@openfeature/web-sdk';
import type { RollgateWebProvider as Provider } from '@rollgate/sdk/openfeature-web';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startFlagsPlatform, type FlagsPlatform } from '../test/flags-platform.js';
import { sdkKey } from '../test/delivery-kit.js';
import { until } from '../test/split-platform.js';
import { ModuleServer } from '../test/module-server.js';
import { requireAllBackends } from '../test/pg.js';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** What the page puts on `window` for the test to drive. */
interface PageApi {
  OpenFeature: typeof OpenFeatureApi;
  ProviderEvents: typeof ProviderEventsEnum;
  RollgateWebProvider: typeof Provider;
  changes: string[][];
  provider?: Provider;
}
// Functions given to page.evaluate run in the page: they reach its API through this cast, written out in each (they are serialized, closures do not travel).
type Win = { rg: PageApi };

const dirOf = (specifier: string, up: number) => {
  let d = fileURLToPath(import.meta.resolve(specifier));
  for (let i = 0; i < up; i++) d = dirname(d);
  return d;
};

const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>rollgate browser test</title><link rel="icon" href="data:,">
<script type="importmap">${JSON.stringify({
  imports: {
    '@rollgate/sdk/openfeature-web': '/sdk/openfeature/web.js',
    '@rollgate/sdk/browser': '/sdk/browser/index.js',
    '@openfeature/web-sdk': '/web-sdk/index.js',
    '@openfeature/core': '/of-core/index.js',
  },
})}</script>
<script type="module">
import { OpenFeature, ProviderEvents } from '@openfeature/web-sdk';
import { RollgateWebProvider } from '@rollgate/sdk/openfeature-web';
window.rg = { OpenFeature, ProviderEvents, RollgateWebProvider, changes: [] };
</script></head><body></body></html>`;

const missing = existsSync(CHROMIUM) ? null : `${CHROMIUM} is missing (apt-get install chromium)`;

if (missing) {
  test('the SDK in a real browser', (t) => {
    if (requireAllBackends()) throw new Error(`${missing}: the browser test cannot run (ROLLGATE_REQUIRE_ALL=1)`);
    console.warn(`\n*** SKIPPED: the SDK in a real browser — ${missing} ***\n`);
    t.skip(missing);
  });
} else {
  describe('the SDK in a real browser (headless Chromium) against the server, with a client key', () => {
    let p: FlagsPlatform;
    let modules: ModuleServer;
    let browser: Browser;
    let page: Page;
    let key: string;
    const urls: string[] = [];
    const pageErrors: string[] = [];
    const set = (flag: string, state: unknown) => p.admin.request('PUT', `/v1/apps/shop/envs/staging/flags/${flag}`, { body: state });

    before(async () => {
      p = await startFlagsPlatform();
      for (const [name, state] of Object.entries({
        checkout: { enabled: true, strategies: [{ name: 'default', constraints: [] }] },
        beta: { enabled: true, strategies: [{ name: 'userWithId', parameters: { userIds: 'u1' }, constraints: [] }] },
        theme: { enabled: true, strategies: [{ name: 'default', constraints: [] }], variants: [{ name: 'blue', weight: 1000, weightType: 'variable', stickiness: 'default', payload: { type: 'string', value: 'navy' } }] },
      })) {
        await p.admin.request('POST', '/v1/apps/shop/flags', { body: { name, kind: 'release' } });
        await set(name, state);
      }
      key = (await sdkKey(p.admin, 'shop', 'staging', 'client')).key;
      modules = await ModuleServer.start({ '/sdk/': dirOf('@rollgate/sdk/browser', 2), '/web-sdk/': dirOf('@openfeature/web-sdk', 1), '/of-core/': dirOf('@openfeature/core', 1) }, PAGE);
      browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS });
      page = await browser.newPage();
      page.on('request', (r) => urls.push(r.url()));
      page.on('response', (r) => {
        if (r.status() >= 400) pageErrors.push(`${r.status()} ${r.url()}`);
      });
      page.on('pageerror', (e) => pageErrors.push(String(e)));
      page.on('console', (m) => {
        if (m.type() === 'error') pageErrors.push(m.text());
      });
      await page.goto(`${modules.url}/`);
      await page.waitForFunction(() => 'rg' in globalThis, undefined, { timeout: 20_000 }).catch((e: unknown) => {
        throw new Error(`the page did not load the SDK's modules: ${pageErrors.join('; ') || String(e)}`);
      });
    });
    after(async () => {
      await browser?.close();
      await modules?.close();
      await p?.stop();
    });

    test('a flag evaluated in the browser; a change through the API arrives as CONFIGURATION_CHANGED; a context change fetches again; usage reaches the server, also when the page is left', async () => {
      type Details = Pick<EvaluationDetails<FlagValue>, 'value' | 'variant' | 'reason' | 'errorCode'>;
      const first = await page.evaluate(
        async ({ url, key }) => {
          const rg = (globalThis as unknown as Win).rg;
          await rg.OpenFeature.setContext({ targetingKey: 'u1' });
          rg.provider = new rg.RollgateWebProvider({ url, key, appName: 'shop-web', instanceId: 'browser-test' });
          await rg.OpenFeature.setProviderAndWait(rg.provider);
          const c = rg.OpenFeature.getClient();
          c.addHandler(rg.ProviderEvents.ConfigurationChanged, (d) => rg.changes.push(d?.flagsChanged ?? []));
          const pick = (d: Details): Details => ({ value: d.value, variant: d.variant, reason: d.reason, errorCode: d.errorCode });
          return { checkout: pick(c.getBooleanDetails('checkout', false)), beta: c.getBooleanValue('beta', false), theme: pick(c.getStringDetails('theme', 'x')), missing: pick(c.getBooleanDetails('nope', true)) };
        },
        { url: p.server.url, key },
      );
      assert.deepEqual(first.checkout, { value: true, variant: 'on', reason: 'STATIC', errorCode: undefined });
      assert.equal(first.beta, true);
      assert.deepEqual(first.theme, { value: 'navy', variant: 'blue', reason: 'STATIC', errorCode: undefined });
      assert.deepEqual(first.missing, { value: true, variant: undefined, reason: 'ERROR', errorCode: 'FLAG_NOT_FOUND' });

      await set('checkout', { enabled: false, strategies: [{ name: 'default', constraints: [] }] });
      await page.waitForFunction(() => (globalThis as unknown as Win).rg.changes.some((f) => f.includes('checkout')), undefined, { timeout: 20_000 });
      assert.equal(await page.evaluate(() => (globalThis as unknown as Win).rg.OpenFeature.getClient().getBooleanValue('checkout', true)), false);
      assert.ok(urls.some((u) => u.startsWith(`${p.server.url}/ofrep/v1/events`)), 'the change came over the event stream');

      const beta = await page.evaluate(async () => {
        await (globalThis as unknown as Win).rg.OpenFeature.setContext({ targetingKey: 'u2' });
        return (globalThis as unknown as Win).rg.OpenFeature.getClient().getBooleanValue('beta', true);
      });
      assert.equal(beta, false, 'u2 is not a beta user: evaluated by the server for the new context');

      await page.evaluate(() => (globalThis as unknown as Win).rg.provider!.client.flushUsage());
      const usage = await p.store.flagMetrics.usage('shop', 'staging', 'checkout');
      assert.ok(usage.some((r) => r.yes + r.no >= 2), `usage on record: ${JSON.stringify(usage)}`);
      const sdks = await p.admin.request<{ instances: { appName: string; instanceId: string; sdkVersion: string | null }[] }>('GET', '/v1/apps/shop/envs/staging/flag-sdks');
      assert.ok(sdks.instances.some((i) => i.appName === 'shop-web' && i.instanceId === 'browser-test' && /^rollgate-sdk:/.test(i.sdkVersion ?? '')), `the browser registered: ${JSON.stringify(sdks.instances)}`);
      assert.ok(urls.every((u) => !u.includes(key)), 'the key never travels in a URL');
      assert.deepEqual(pageErrors, []);

      // A tab closed never closes the client: what was counted since the last report goes as the page is left.
      await page.evaluate(() => {
        const c = (globalThis as unknown as Win).rg.OpenFeature.getClient();
        for (let i = 0; i < 7; i++) c.getStringValue('theme', 'x');
      });
      await page.goto('about:blank');
      await until('the usage reported as the page went away', async () => (await p.store.flagMetrics.usage('shop', 'staging', 'theme')).find((r) => r.variant === 'blue' && r.yes >= 8));
    });
  });
}
