import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RollgateError } from '../core/errors.js';
import { DEFAULT_SERVER, discoverServer } from './config.js';

describe('server URL and token discovery', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'rollgate-config-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('defaults to the local server without a token', () => {
    const empty = join(dir, 'empty');
    mkdirSync(empty);
    assert.deepEqual(discoverServer({ cwd: empty, env: {} }), { url: DEFAULT_SERVER, token: null, source: 'default', tokenFile: null });
  });

  test('reads server.json and the api.token beside it', () => {
    const proj = join(dir, 'proj');
    mkdirSync(join(proj, '.rollgate'), { recursive: true });
    writeFileSync(join(proj, '.rollgate', 'server.json'), JSON.stringify({ url: 'http://127.0.0.1:40001/', pid: 1 }));
    writeFileSync(join(proj, '.rollgate', 'api.token'), 'tok-file\n');
    const cfg = discoverServer({ cwd: proj, env: {} });
    assert.equal(cfg.url, 'http://127.0.0.1:40001');
    assert.equal(cfg.token, 'tok-file');
    assert.equal(cfg.source, 'server.json');
    // env beats the file, the flag beats env; ROLLGATE_TOKEN beats the token file.
    assert.equal(discoverServer({ cwd: proj, env: { ROLLGATE_SERVER: 'http://h:1' } }).url, 'http://h:1');
    assert.equal(discoverServer({ cwd: proj, env: { ROLLGATE_SERVER: 'http://h:1' }, flag: 'http://f:2' }).url, 'http://f:2');
    assert.equal(discoverServer({ cwd: proj, env: { ROLLGATE_TOKEN: 'tok-env' } }).token, 'tok-env');
    // With an explicit URL the local token file is still used (same machine, usual case).
    assert.equal(discoverServer({ cwd: proj, env: {}, flag: 'http://f:2' }).token, 'tok-file');
  });

  test('a broken server.json or a bad URL is a clear error', () => {
    const broken = join(dir, 'broken');
    mkdirSync(join(broken, '.rollgate'), { recursive: true });
    writeFileSync(join(broken, '.rollgate', 'server.json'), '{nope');
    assert.throws(() => discoverServer({ cwd: broken, env: {} }), (e: unknown) => e instanceof RollgateError && /server\.json is not valid JSON/.test(e.message));
    assert.throws(() => discoverServer({ cwd: broken, env: {}, flag: 'not a url' }), /--server "not a url" is not a URL/);
    assert.throws(() => discoverServer({ cwd: broken, env: { ROLLGATE_SERVER: 'ftp://x' } }), /must start with http/);
  });
});
