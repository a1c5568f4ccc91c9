import { withPostgres } from '../test/pg.js';
import { auditStoreSuite } from '../test/store-audit.suite.js';
import { openStore } from './index.js';

await withPostgres('audit trail on PostgreSQL', (db) => {
  auditStoreSuite('audit trail on PostgreSQL', () => openStore({ url: db.url }), () => db.drop(), { url: db.url });
});
