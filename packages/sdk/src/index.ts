export type * from './engine/types.js';
