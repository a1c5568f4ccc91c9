import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { auditStoreSuite } from '../test/store-audit.suite.js';
import { openStore } from './index.js';

const dir = mkdtempSync(join(tmpdir(), 'rollgate-audit-store-'));
auditStoreSuite(
  'audit trail on SQLite',
  () => openStore({ dataDir: join(dir, 'suite') }),
  async () => rmSync(join(dir, 'suite'), { recursive: true, force: true }),
  { dataDir: join(dir, 'suite') },
);
after(() => rmSync(dir, { recursive: true, force: true }));
