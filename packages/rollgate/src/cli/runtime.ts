/**
 * The server and the agent, loaded only by the commands that run them, so client commands start
 * fast and never load the store, its native driver or the router.
 */
import { fileURLToPath } from 'node:url';
import type { runServer } from '../server/main.js';
import type { runAgent } from '../agent/main.js';

/** The executable that `rollgate up` starts the agent with. */
export const BIN_PATH = fileURLToPath(new URL('../../bin/rollgate.js', import.meta.url));

export async function loadRunServer(): Promise<typeof runServer> {
  return (await import('../server/main.js')).runServer;
}

export async function loadRunAgent(): Promise<typeof runAgent> {
  return (await import('../agent/main.js')).runAgent;
}
