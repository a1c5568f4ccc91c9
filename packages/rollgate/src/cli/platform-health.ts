/**
 * What the local platform's processes are doing, from `<dataDir>/up.json` and agent.json, for
 * `rollgate status` and a second `rollgate up`: a dead agent (or a dead `up`) is named as dead,
 * with when it was last seen and what to run, never shown by its address as if it served.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { readAgentFile } from './agent-file.js';
import { DEFAULT_DATA_DIR, discoverServer } from './config.js';
import { isAlive } from './daemon-process.js';
import { dataDirFlag, readUpFile } from './platform-file.js';
import { formatTime } from './format.js';

export interface PlatformHealth {
  /** True when a process the platform needs is not running. */
  problem: boolean;
  line: string;
}

export function platformHealth(dataDir: string, shownDataDir = '.rollgate'): PlatformHealth | null {
  const again = `run \`rollgate up${dataDirFlag(shownDataDir)}\` again`;
  const up = readUpFile(dataDir);
  if (up) {
    const rec = up.agent;
    const where = `pid ${up.agentPid}${rec ? `, ${rec.url}` : ''}`;
    const seen = rec ? `, last seen ${formatTime(rec.lastSeenAt)}` : '';
    const agentAlive = isAlive(up.agentPid);
    if (!isAlive(up.pid)) {
      const agent = agentAlive
        ? `its agent (${where}) still serves the environments and \`rollgate up\` adopts it`
        : `its agent (${where}) is not running either${seen}: every environment listener refuses connections; ${again}`;
      return { problem: true, line: `rollgate up (pid ${up.pid}) is not running: it was stopped without cleaning up (killed?); the API it served is gone; ${agent}${agentAlive ? `; ${again}` : ''}` };
    }
    const died = rec?.lastExit ? `pid ${rec.lastExit.pid} died (${rec.lastExit.how}) at ${formatTime(rec.lastExit.at)}` : null;
    if (!agentAlive || rec?.state === 'restarting' || rec?.state === 'dead') {
      const gaveUp = rec?.state === 'dead';
      return {
        problem: true,
        line: `agent: DEAD, unreachable (${where}${seen}${died ? `; ${died}` : ''}); every environment listener refuses connections; ${gaveUp ? `rollgate up (pid ${up.pid}) stopped restarting it after too many deaths in a minute: see ${dataDir}/agent.log, then stop that up and ${again}` : `rollgate up (pid ${up.pid}) is restarting it; if it does not come back, ${again}`}`,
      };
    }
    const restarted = rec && rec.restarts > 0 ? `; restarted ${rec.restarts} time(s) by rollgate up${died ? `, last after ${died}` : ''}` : '';
    return { problem: false, line: `agent: running (${where})${restarted}` };
  }
  const agent = readAgentFile(dataDir);
  if (agent && !isAlive(agent.pid)) {
    return { problem: true, line: `agent: DEAD, unreachable (pid ${agent.pid}, ${agent.url}${agent.startedAt ? `, started ${formatTime(agent.startedAt)}` : ''}); it was stopped without cleaning up; ${again}` };
  }
  return null;
}

/**
 * The health of the platform in <cwd>/.rollgate when the CLI talks to it (the server it would
 * reach is that data directory's `up`, or nothing names another server); else null.
 */
export function localPlatformHealth(serverFlag: string | undefined): PlatformHealth | null {
  const dataDir = resolve(DEFAULT_DATA_DIR);
  if (!existsSync(dataDir)) return null;
  const up = readUpFile(dataDir);
  let target: string;
  try {
    target = discoverServer({ flag: serverFlag }).url;
  } catch {
    return null;
  }
  const same = (a: string, b: string) => a.replace(/\/+$/, '') === b.replace(/\/+$/, '');
  if (up ? !same(up.api, target) : serverFlag !== undefined) return null;
  return platformHealth(dataDir);
}
