import { withPostgres } from '../test/pg.js';
import { secretsStoreSuite } from '../test/store-secrets.suite.js';
import { openStore } from './index.js';

await withPostgres('secrets store on PostgreSQL', (db) => {
  secretsStoreSuite('secrets store on PostgreSQL', () => openStore({ url: db.url }), () => db.drop());
});
