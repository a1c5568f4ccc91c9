import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { flagRolloutsStoreSuite } from '../test/store-flag-rollouts.suite.js';
import { openStore } from './index.js';

const dir = mkdtempSync(join(tmpdir(), 'rollgate-flag-rollouts-store-'));
flagRolloutsStoreSuite('flag rollouts store on SQLite', () => openStore({ dataDir: dir }), async () => rmSync(dir, { recursive: true, force: true }));
