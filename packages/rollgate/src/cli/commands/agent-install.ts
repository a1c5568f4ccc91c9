/**
 * `rollgate agent install --systemd`: the systemd units that keep the agent and the server running
 * on a host (restart on failure), printed by default or written with `--write DIR`.
 */
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { z } from 'zod';
import { RollgateError } from '../../core/errors.js';
import { IntString, action } from '../command.js';
import { BIN_PATH } from '../runtime.js';
import { AGENT_UNIT, SERVER_UNIT, agentUnit, serverUnit } from '../systemd-unit.js';

const installOpts = (ports: Ports) => z.object({
  systemd: z.boolean().optional(),
  write: z.string().min(1).optional(),
  user: z.string().regex(/^[a-z_][a-z0-9_-]{0,31}$/, { message: 'a user name (lower-case letters, digits, "_" and "-", at most 32)' }).optional(),
  dataDir: z.string(),
  port: IntString(1, 65535).default(ports.agent),
  serverPort: IntString(1, 65535).default(ports.server),
  json: z.boolean().optional(),
});

/** The default ports come from daemons.ts, which registers this (passed in: no import cycle). */
interface Ports {
  agent: number;
  server: number;
}

export function registerAgentInstall(agent: Command, ports: Ports): void {
  agent
    .command('install')
    .description('print (or --write) systemd units that run the agent and the server with restart on failure')
    .option('--systemd', 'systemd units (the only kind for now)')
    .option('--write <dir>', 'write rollgate-agent.service and rollgate-server.service into this existing directory (e.g. /etc/systemd/system) instead of printing them')
    .option('--user <name>', 'run as this account (default root: per-app OS accounts need it)')
    .option('-d, --data-dir <dir>', 'the data directory the services use', '/var/lib/rollgate')
    .option('-p, --port <n>', 'agent API port', String(ports.agent))
    .option('--server-port <n>', 'server API port', String(ports.server))
    .option('--json', 'print one JSON document on stdout')
    .action(
      action(installOpts(ports), async (opts, { out }) => {
        if (!opts.systemd) throw new RollgateError('invalid_input', 'say which service manager: --systemd (the only one supported)');
        const o = { node: process.execPath, bin: BIN_PATH, dataDir: resolve(opts.dataDir), agentPort: opts.port, serverPort: opts.serverPort, user: opts.user };
        const units = { [AGENT_UNIT]: agentUnit(o), [SERVER_UNIT]: serverUnit(o) };
        if (opts.user) out.warn(`--user ${opts.user}: the agent cannot make an OS account per app without root, so instances get namespace isolation at best; create the account and give it ${o.dataDir} (chown -R ${opts.user} ${o.dataDir})`);
        if (!opts.write) {
          out.result({ units }, () => Object.entries(units).map(([name, text]) => `# ---- ${name}\n${text}`).join('\n'));
          return;
        }
        const dir = resolve(opts.write);
        const written: string[] = [];
        for (const [name, text] of Object.entries(units)) {
          const file = join(dir, name);
          try {
            writeFileSync(file, text, { mode: 0o644 });
          } catch (e) {
            throw new RollgateError('invalid_input', `cannot write ${file} (--write ${opts.write}): ${whyNot(e)}${written.length ? `; already written: ${written.join(', ')}` : ''}; or leave out --write and save the printed units yourself`);
          }
          written.push(file);
        }
        out.result({ written }, () => [...written.map((f) => `wrote ${f}`), `next: systemctl daemon-reload && systemctl enable --now ${AGENT_UNIT} ${SERVER_UNIT}`].join('\n'));
      }),
    );
}

function whyNot(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied: run as root for /etc/systemd/system, or pick a directory you can write';
  if (code === 'ENOENT') return 'no such directory: create it first';
  if (code === 'ENOTDIR') return 'that is not a directory: give the directory the units go in';
  return (e as Error).message;
}
