/**
 * The attack of issue 9 as a program: run as "the platform" (root, or an ordinary user), it
 * launches a hostile command through one isolation kind and reports what the command could
 * read. Run by isolation.test.ts in a child process so the ordinary-user case is real.
 */
import { spawn } from 'node:child_process';
import { detectIsolation, type IsolationChoice } from '../isolation/detect.js';

export interface AttackInput {
  kind: IsolationChoice;
  accountPrefix: string;
  dataDir: string;
  /** Files the command must not read (data directory files, other apps' releases). */
  forbidden: string[];
  workDir: string;
  writable: boolean;
  principal: { app: string; scope: string };
  /** A value only the platform's own environment holds. */
  platformSecret: string;
}

export interface AttackResult {
  kind: string;
  /** Lines the command printed: READ <file>, LIST <name>, ENVIRON <file>, OWN-OK, WRITE-OK, ID <id>. */
  lines: string[];
  exitCode: number | null;
}

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

export function attackScript(a: AttackInput, platformPid: number): string {
  return [
    `echo "ID $(id -u)"`,
    `for f in ${[...a.forbidden, `/proc/${platformPid}/environ`].map(q).join(' ')}; do if cat "$f" >/dev/null 2>&1; then echo "READ $f"; fi; done`,
    `ls -A ${q(a.dataDir)} 2>/dev/null | sed 's/^/LIST /'`,
    `grep -l ${q(a.platformSecret)} /proc/[0-9]*/environ 2>/dev/null | sed 's/^/ENVIRON /'`,
    // By absolute path, as a runtime resolves its modules: every directory on the way must be passable.
    `cat ${q(a.workDir)}/own.txt >/dev/null 2>&1 && echo OWN-OK`,
    `(echo x > .write-probe) 2>/dev/null && echo WRITE-OK`,
    'exit 0',
  ].join('\n');
}

async function main(): Promise<void> {
  const input = JSON.parse(process.argv[2]!) as AttackInput;
  const isolation = detectIsolation({ hide: [input.dataDir], choice: input.kind, accountPrefix: input.accountPrefix });
  const launch = await isolation.launch({ principal: input.principal, command: attackScript(input, process.pid), workDir: input.workDir, writable: input.writable });
  const child = spawn(launch.file, launch.args, { cwd: input.workDir, env: { PATH: '/usr/bin:/bin', ROLLGATE_TEST_PLATFORM: 'inherited-not', ...launch.env }, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  const exitCode = await new Promise<number | null>((ok) => child.on('close', ok));
  const result: AttackResult = { kind: isolation.kind, lines: out.split('\n').filter(Boolean), exitCode };
  process.stdout.write(JSON.stringify(result));
}

if (process.argv[1]?.endsWith('isolation-attack.js')) await main();
