import { withPostgres } from '../test/pg.js';
import { authStoreSuite } from '../test/store-auth.suite.js';
import { openStore } from './index.js';

await withPostgres('auth store on PostgreSQL', (db) => {
  authStoreSuite('auth store on PostgreSQL', () => openStore({ url: db.url }), () => db.drop());
});
