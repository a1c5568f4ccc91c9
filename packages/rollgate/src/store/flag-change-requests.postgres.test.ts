import { withPostgres } from '../test/pg.js';
import { flagChangeRequestsStoreSuite } from '../test/store-flag-change-requests.suite.js';
import { openStore } from './index.js';

await withPostgres('flag change requests store on PostgreSQL', (db) => {
  flagChangeRequestsStoreSuite('flag change requests store on PostgreSQL', () => openStore({ url: db.url }), () => db.drop());
});
