// Runs every compiled test file with Node's test runner. Extra args filter by path substring.
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';

const packages = new URL('../packages/', import.meta.url).pathname;
const root = join(packages, 'rollgate/dist/');
const filters = process.argv.slice(2);
const files = [];
function walk(dir) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (name.endsWith('.test.js')) files.push(p);
  }
}
walk(join(packages, 'sdk/dist'));
walk(root);
// Filters match the path under packages/, without dist: "sdk/engine", "rollgate/api" or just "api/".
const shown = (f) => relative(packages, f).replace('/dist/', '/');
const chosen = files.filter((f) => filters.length === 0 || filters.some((x) => shown(f).includes(x))).sort();
if (chosen.length === 0) {
  console.error(`no test files matched ${filters.join(' ') || '(all)'}`);
  process.exit(1);
}
// As root, isolated instances run as OS accounts the platform makes: a test run makes its own
// under a prefix of its own, removed at its end, so it never touches a real platform's accounts
// nor those of another test run going on at the same time.
const prefix = `rgt${Math.random().toString(36).slice(2, 8).padEnd(6, '0')}`;
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=2', '--test-timeout=180000', ...chosen], { stdio: 'inherit', env: { ...process.env, ROLLGATE_ISOLATION_ACCOUNT_PREFIX: prefix } });
if (process.getuid?.() === 0) {
  const { removeAccounts } = await import(new URL('isolation/os-accounts.js', `file://${root}`).href);
  await removeAccounts(prefix);
}
process.exit(r.status ?? 1);
