/**
 * `<dataDir>/agent.json` names the agent serving this data directory (url, pid), beside
 * `<dataDir>/agent.token`; runAgent (src/agent/main.ts) writes both and removes agent.json on a
 * clean stop. `rollgate up` and `rollgate server` read them to find (and adopt) a running agent.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { AgentClient } from '../agent/client.js';
import { readTokenFile } from './config.js';

const AgentFile = z.object({ url: z.string().url(), pid: z.number().int().positive(), startedAt: z.string().optional() });
export type AgentFile = z.infer<typeof AgentFile>;

export const agentFilePath = (dataDir: string) => join(dataDir, 'agent.json');
export const agentTokenPath = (dataDir: string) => join(dataDir, 'agent.token');

export function readAgentFile(dataDir: string): AgentFile | null {
  try {
    const r = AgentFile.safeParse(JSON.parse(readFileSync(agentFilePath(dataDir), 'utf8')));
    return r.success ? r.data : null;
  } catch {
    return null;
  }
}

export interface LiveAgent {
  url: string;
  token: string;
  pid: number;
}

/** The agent named by agent.json when it answers its health check with agent.token; else null. */
export async function findLiveAgent(dataDir: string, opts: { pid?: number } = {}): Promise<LiveAgent | null> {
  const info = readAgentFile(dataDir);
  const token = readTokenFile(agentTokenPath(dataDir));
  if (!info || !token) return null;
  if (opts.pid !== undefined && info.pid !== opts.pid) return null;
  try {
    const h = await new AgentClient({ url: info.url, token, timeoutMs: 2000 }).health();
    return h.ok ? { url: info.url, token, pid: h.pid } : null;
  } catch {
    return null;
  }
}
