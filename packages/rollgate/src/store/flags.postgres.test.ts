import { withPostgres } from '../test/pg.js';
import { flagsStoreSuite } from '../test/store-flags.suite.js';
import { openStore } from './index.js';

await withPostgres('flags store on PostgreSQL', (db) => {
  flagsStoreSuite('flags store on PostgreSQL', () => openStore({ url: db.url }), () => db.drop());
});
