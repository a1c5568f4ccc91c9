import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { flagChangeRequestsStoreSuite } from '../test/store-flag-change-requests.suite.js';
import { openStore } from './index.js';

const dir = mkdtempSync(join(tmpdir(), 'rollgate-flag-change-requests-store-'));
flagChangeRequestsStoreSuite('flag change requests store on SQLite', () => openStore({ dataDir: dir }), async () => rmSync(dir, { recursive: true, force: true }));
