import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { secretsStoreSuite } from '../test/store-secrets.suite.js';
import { openStore, SQLITE_FILE } from './index.js';

const dir = mkdtempSync(join(tmpdir(), 'rollgate-secrets-store-'));
const file = join(dir, SQLITE_FILE);
secretsStoreSuite(
  'secrets store on SQLite',
  () => openStore({ dataDir: dir }),
  async () => rmSync(dir, { recursive: true, force: true }),
  { files: () => [file, `${file}-wal`] },
);
