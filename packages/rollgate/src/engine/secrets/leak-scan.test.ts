/**
 * No secret value leaks, end to end: known secrets are set, an app that prints them is deployed,
 * a secret is rotated and deployed again, a release that crashes after printing them fails and
 * is rolled back. Then every file of the data directory (database, WAL, agent state, instance
 * logs), the server's log, the database rows (PostgreSQL), the event stream and every API answer
 * read along the way are searched for the values (as text, base64 and hex): none may hold one.
 * Real agent and server processes' code, real instances, SQLite and PostgreSQL.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { ApiClient } from '../../cli/client.js';
import { rotateSecret, setSecret } from '../../cli/client-secrets.js';
import { checkReleaseDir, packDir } from '../../cli/pack.js';
import { freePort } from '../../demo/fixtures.js';
import { waitForDeployment } from '../../demo/platform.js';
import { jsonLogger } from '../logger.js';
import { runServer, type RunningServer } from '../../server/main.js';
import { withPostgres, type TestDatabase } from '../../test/pg.js';
import { SplitPlatform, filesUnder, until } from '../../test/split-platform.js';

const DB_PASSWORD = 'pa55-word-Ω-never-logged-1';
const API_TOKEN = 'tok$en.(with)*regex+chars?2';
const ROTATED = 'rotated-db-password-value-3';
const VALUES = [DB_PASSWORD, API_TOKEN, ROTATED];
const forms = (v: string) => [v, Buffer.from(v).toString('base64'), Buffer.from(v).toString('hex')];

const APP = `import { createServer } from 'node:http';
console.log('starting with DB_PASSWORD=' + process.env.DB_PASSWORD);
console.error('and API_TOKEN=' + process.env.API_TOKEN);
if (process.env.CRASH === '1') setTimeout(() => process.exit(3), 50);
else createServer((req, res) => res.end('ok')).listen(Number(process.env.PORT), '127.0.0.1');
`;

async function release(dir: string, version: string, crash: boolean): Promise<string> {
  const d = join(dir, version);
  await mkdir(d, { recursive: true });
  await writeFile(join(d, 'app.js'), APP);
  await writeFile(join(d, 'package.json'), JSON.stringify({ type: 'module' }));
  await writeFile(join(d, 'crash.env'), crash ? '1' : '0');
  return d;
}

function leakSuite(name: string, database: () => TestDatabase | null) {
  describe(name, () => {
    let work: string;
    let dataDir: string;
    let platform: SplitPlatform;
    let server: RunningServer;
    const serverLog: string[] = [];
    const answers: string[] = [];
    let client: ApiClient;

    before(async () => {
      work = await mkdtemp(join(tmpdir(), 'rollgate-leak-'));
      dataDir = join(work, '.rollgate');
      platform = new SplitPlatform(dataDir);
      await platform.startAgent();
      const agent = await platform.agentConnection();
      const db = database();
      server = await runServer({
        dataDir,
        port: await freePort(),
        agent,
        log: jsonLogger('server', { write: (s: string) => serverLog.push(s) } as unknown as NodeJS.WritableStream),
        ...(db ? { databaseUrl: db.url } : {}),
      });
      client = new ApiClient(server.url, server.token!);
    });

    after(async () => {
      await server?.stop();
      await platform?.stopAll();
      await rm(work, { recursive: true, force: true });
    });

    /** Reads through the API like a user would, keeping every answer for the scan. */
    const read = async (path: string) => {
      const text = await client.request<string>('GET', path, { as: 'text' });
      answers.push(text);
      return text;
    };

    test('deploy, rotate, fail and roll back with secrets; then no value anywhere', async () => {
      const port = await freePort();
      // Each version reads CRASH from its own file, so the failing release is the app's own doing.
      await client.applySpec({
        apps: { vault: { run: 'CRASH=$(cat crash.env) node app.js', replicas: 1, drainTimeout: '1s', healthCheck: { path: '/', interval: '100ms', startTimeout: '5s' } } },
        environments: { staging: { listen: port, analysis: false, progressDeadline: '30s' } },
      });
      answers.push(JSON.stringify(await setSecret(client, 'vault', 'staging', 'DB_PASSWORD', Buffer.from(DB_PASSWORD))));
      answers.push(JSON.stringify(await setSecret(client, 'vault', 'staging', 'API_TOKEN', Buffer.from(API_TOKEN))));
      const deploy = async (version: string, crash: boolean) => {
        const dir = await release(join(work, 'src'), version, crash);
        await client.uploadRelease('vault', packDir(await checkReleaseDir(dir)), { version });
        const d = await client.deploy({ app: 'vault', env: 'staging', version });
        const end = await waitForDeployment(client, d.id, 60_000);
        answers.push(JSON.stringify(end));
        return end;
      };
      const v1End = await deploy('v1', false);
      assert.equal(v1End.status, 'succeeded', v1End.message);
      // The app did print its secrets: the captured output shows them masked.
      const logs1 = await until('the app output', async () => {
        const t = await read('/v1/logs?app=vault&env=staging&tail=200');
        return t.includes('DB_PASSWORD=') && t.includes('API_TOKEN=') ? t : null;
      });
      assert.match(logs1, /DB_PASSWORD=\[secret:DB_PASSWORD\]/);
      assert.match(logs1, /API_TOKEN=\[secret:API_TOKEN\]/);

      answers.push(JSON.stringify(await rotateSecret(client, 'vault', 'staging', 'DB_PASSWORD', Buffer.from(ROTATED))));
      const v2End = await deploy('v2', false);
      assert.equal(v2End.status, 'succeeded', v2End.message);
      const failed = await deploy('v3', true);
      assert.notEqual(failed.status, 'succeeded', 'the crashing release does not go live');

      for (const path of ['/v1/status?app=vault&env=staging', '/v1/deployments?app=vault', '/v1/apps/vault/secrets?env=staging', '/v1/audit?limit=1000', '/v1/audit/export', '/v1/logs?app=vault&env=staging&tail=1000', '/v1/apps', '/v1/incidents?status=all']) await read(path);
      // The event stream, as a client sees it.
      const ac = new AbortController();
      const seen: string[] = [];
      const stopAt = setTimeout(() => ac.abort(), 1500);
      try {
        for await (const e of client.events({ signal: ac.signal })) seen.push(JSON.stringify(e));
      } catch {
        // aborted: the stream has no end of its own
      }
      clearTimeout(stopAt);
      assert.ok(seen.length > 10, 'events were read');
      answers.push(...seen);

      const places: { where: string; text: string }[] = [];
      for (const f of await filesUnder(dataDir)) {
        if ((await stat(f)).size > 50 * 1024 * 1024) continue;
        places.push({ where: f, text: (await readFile(f)).toString('latin1') + (await readFile(f, 'utf8')) });
      }
      places.push({ where: 'server log', text: serverLog.join('') });
      places.push({ where: 'API answers and event stream', text: answers.join('\n') });
      const db = database();
      if (db) {
        const c = new pg.Client({ connectionString: db.url });
        await c.connect();
        try {
          const tables = await c.query<{ table_name: string }>("select table_name from information_schema.tables where table_schema = 'public'");
          for (const t of tables.rows) {
            const rows = await c.query(`select t::text as row from "${t.table_name}" t`);
            places.push({ where: `PostgreSQL table ${t.table_name}`, text: rows.rows.map((r: { row: string }) => r.row).join('\n') });
          }
        } finally {
          await c.end();
        }
      }
      assert.ok(places.some((p) => p.where.endsWith('.log') || p.where.includes('logs')), 'instance logs were scanned');
      for (const v of VALUES) for (const form of forms(v)) for (const p of places) assert.ok(!p.text.includes(form), `${p.where} holds a secret value (${form === v ? 'plain' : 'encoded'})`);
    });
  });
}

leakSuite('no secret leaks on SQLite', () => null);

await withPostgres('no secret leaks on PostgreSQL', (db) => {
  leakSuite('no secret leaks on PostgreSQL', () => db);
  after(() => db.drop());
});
