/**
 * systemd units for a host that runs `rollgate agent` and `rollgate server` as services (what
 * `rollgate up` does by hand on a laptop): systemd restarts either on failure, a bounded number
 * of times, and the restarted agent brings back every service from its desired-state file.
 */

export interface UnitOptions {
  /** Absolute paths: the node binary and bin/rollgate.js. */
  node: string;
  bin: string;
  /** Absolute data directory. */
  dataDir: string;
  agentPort: number;
  serverPort: number;
  /** The account to run as; absent: root (needed for per-app OS accounts). */
  user?: string | undefined;
}

export const AGENT_UNIT = 'rollgate-agent.service';
export const SERVER_UNIT = 'rollgate-server.service';

/** One word of an ExecStart line: quoted when it holds a space, quote or backslash. */
function word(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

const exec = (parts: string[]) => parts.map(word).join(' ');

/** Lines shared by both units. */
function serviceCommon(o: UnitOptions): string[] {
  return [
    'Restart=on-failure',
    'RestartSec=1s',
    ...(o.user ? [`User=${o.user}`, `Group=${o.user}`] : []),
    // Hardening that leaves the agent's isolation working. NoNewPrivileges is safe: the agent
    // only drops privileges (setpriv --reuid ... --no-new-privs) and runs bubblewrap as root or
    // in an unprivileged user namespace, never a setuid binary (Debian's bwrap is not setuid; a
    // distribution that ships bwrap setuid needs this line removed). Not used, because they would
    // break it: ProtectSystem=strict and ProtectHome (useradd writes /etc/passwd, data dirs may be
    // under /home), CapabilityBoundingSet (setpriv, useradd and bwrap need CAP_SETUID, CAP_SETGID,
    // CAP_CHOWN, CAP_SYS_ADMIN), RestrictNamespaces and PrivateUsers (bwrap makes namespaces).
    'NoNewPrivileges=yes',
    'ProtectKernelTunables=yes',
    'ProtectKernelModules=yes',
    'ProtectControlGroups=yes',
    'RestrictSUIDSGID=yes',
    'LockPersonality=yes',
    'UMask=0077',
  ];
}

export function agentUnit(o: UnitOptions): string {
  return [
    '# rollgate agent: the data plane (instances and every environment listener).',
    `# Written by \`rollgate agent install --systemd\`; install as /etc/systemd/system/${AGENT_UNIT}`,
    ...(o.user ? [`# Runs as ${o.user}: without root the agent cannot make an OS account per app, so instances get namespace isolation at best.`] : []),
    '[Unit]',
    'Description=Rollgate agent (instances and traffic listeners)',
    'After=network-online.target',
    'Wants=network-online.target',
    // At most 5 starts a minute: a crash loop stops and shows in `systemctl status`.
    'StartLimitIntervalSec=60',
    'StartLimitBurst=5',
    '',
    '[Service]',
    'Type=simple',
    `ExecStart=${exec([o.node, o.bin, 'agent', '--data-dir', o.dataDir, '--port', String(o.agentPort)])}`,
    ...serviceCommon(o),
    // SIGTERM to the agent alone: it drains and stops its instances itself. Whatever is left after
    // the timeout (or after a crash) is killed; a restarted agent reaps leftovers anyway.
    'KillMode=mixed',
    'TimeoutStopSec=90s',
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ].join('\n');
}

export function serverUnit(o: UnitOptions): string {
  return [
    '# rollgate server: the control plane (API, store, rollouts). It finds the agent in the data',
    `# directory's agent.json and agent.token. Install as /etc/systemd/system/${SERVER_UNIT}`,
    '# For PostgreSQL add: Environment=ROLLGATE_DATABASE_URL=postgres://...',
    '[Unit]',
    'Description=Rollgate server (control plane)',
    `After=network-online.target ${AGENT_UNIT}`,
    `Wants=network-online.target ${AGENT_UNIT}`,
    'StartLimitIntervalSec=60',
    'StartLimitBurst=5',
    '',
    '[Service]',
    'Type=simple',
    `ExecStart=${exec([o.node, o.bin, 'server', '--data-dir', o.dataDir, '--port', String(o.serverPort)])}`,
    ...serviceCommon(o),
    'TimeoutStopSec=30s',
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ].join('\n');
}

/** `[Section]` -> key -> values (a key may repeat), for tests and checks. */
export function parseUnit(text: string): Record<string, Record<string, string[]>> {
  const out: Record<string, Record<string, string[]>> = {};
  let section = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const s = /^\[(.+)\]$/.exec(line);
    if (s) {
      section = s[1]!;
      out[section] ??= {};
      continue;
    }
    const eq = line.indexOf('=');
    if (eq < 0) continue;
    const sec = (out[section] ??= {});
    (sec[line.slice(0, eq)] ??= []).push(line.slice(eq + 1));
  }
  return out;
}
