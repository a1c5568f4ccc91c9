import { withPostgres } from '../test/pg.js';
import { flagRolloutsStoreSuite } from '../test/store-flag-rollouts.suite.js';
import { openStore } from './index.js';

await withPostgres('flag rollouts store on PostgreSQL', (db) => {
  flagRolloutsStoreSuite('flag rollouts store on PostgreSQL', () => openStore({ url: db.url }), () => db.drop());
});
