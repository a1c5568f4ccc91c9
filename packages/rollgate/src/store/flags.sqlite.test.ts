import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { flagsStoreSuite } from '../test/store-flags.suite.js';
import { openStore } from './index.js';

const dir = mkdtempSync(join(tmpdir(), 'rollgate-flags-store-'));
flagsStoreSuite('flags store on SQLite', () => openStore({ dataDir: dir }), async () => rmSync(dir, { recursive: true, force: true }));
