import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { authStoreSuite } from '../test/store-auth.suite.js';
import { openStore } from './index.js';

const dir = mkdtempSync(join(tmpdir(), 'rollgate-auth-store-'));
authStoreSuite(
  'auth store on SQLite',
  () => openStore({ dataDir: dir }),
  async () => rmSync(dir, { recursive: true, force: true }),
);
