/**
 * The `rollgate` command line. Parses argv with commander and exits with:
 *   0 ok · 1 operation failed · 2 usage/validation error · 3 server unreachable or server error
 */
import { terminalText } from './terminal-text.js';
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { EXIT_OK, EXIT_USAGE, UsageError } from './exit.js';
import { Output } from './output.js';
import { envErrorFilter, isMissingEnv, missingEnvMessage } from './env-hint.js';
import { registerChaos } from './commands/chaos.js';
import { registerControl } from './commands/control.js';
import { registerDaemons } from './commands/daemons.js';
import { registerDeploy } from './commands/deploy.js';
import { registerDora } from './commands/dora.js';
import { registerIncidents } from './commands/incidents.js';
import { registerInfo } from './commands/info.js';
import { registerWatch } from './commands/watch.js';
import { registerDeployment } from './commands/deployment.js';
import { registerPipeline } from './commands/pipeline.js';
import { registerAuth } from './commands/auth.js';
import { registerUsers } from './commands/users.js';
import { registerTokens } from './commands/tokens.js';
import { registerAudit } from './commands/audit.js';
import { registerSecret } from './commands/secret.js';
import { registerFlags } from './commands/flags.js';
import { registerReleases } from './commands/releases.js';
import { releaseFlags } from './release-flags.js';
import { registerSpecCommands } from './commands/spec.js';
import { registerUp } from './commands/up.js';
import { registerDown } from './commands/down.js';
import { registerInit } from './commands/init.js';

export function buildProgram(): Command {
  const program = new Command('rollgate')
    .description('Rollgate: deploy services and move live traffic between versions (rolling, blue-green, canary), roll back at once')
    .version(packageVersion(), '-V, --version', 'print the rollgate version')
    // Options belong to the command they follow, so `deploy --version 2` is the release version.
    .enablePositionalOptions()
    .showHelpAfterError('(run with --help for usage)')
    // A missing --env is reported by main() with the environments that exist (cli/env-hint.ts).
    .configureOutput(envErrorFilter())
    .exitOverride();
  registerUp(program);
  registerDown(program);
  registerInit(program);
  registerDaemons(program);
  registerSpecCommands(program);
  registerDeploy(program);
  registerControl(program);
  registerInfo(program);
  registerWatch(program);
  registerDeployment(program);
  registerIncidents(program);
  registerDora(program);
  registerChaos(program);
  registerPipeline(program);
  registerAuth(program);
  registerUsers(program);
  registerTokens(program);
  registerAudit(program);
  registerSecret(program);
  registerFlags(program);
  registerReleases(program);
  // Release limits and retention are settings of whatever runs the server.
  for (const c of program.commands) if (c.name() === 'up' || c.name() === 'server') releaseFlags(c);
  program.addHelpText(
    'after',
    `
Server and token: --server, else $ROLLGATE_SERVER, else .rollgate/server.json, else http://127.0.0.1:7070;
token from $ROLLGATE_TOKEN, else the one saved by \`rollgate login\` (~/.config/rollgate/credentials.json),
else .rollgate/api.token.
Exit codes: 0 ok, 1 the operation failed (e.g. a deployment ended failed or rolled back),
2 usage or validation error, 3 the server cannot be reached or failed.`,
  );
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version') return EXIT_OK;
      if (isMissingEnv(e.code, e.message)) {
        const message = await missingEnvMessage(argv);
        process.stderr.write(`error: ${terminalText(message)}\n`);
        if (argv.includes('--json')) new Output(true, process.stdout, { write: () => true } as unknown as NodeJS.WritableStream).error(new UsageError(message));
        return EXIT_USAGE;
      }
      // commander already printed its message on stderr; with --json also give a document.
      if (argv.includes('--json')) new Output(true, process.stdout, { write: () => true } as unknown as NodeJS.WritableStream).error(new UsageError(e.message.replace(/^error: /, '')));
      return EXIT_USAGE;
    }
    throw e;
  }
  return typeof process.exitCode === 'number' ? process.exitCode : EXIT_OK;
}

function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : '0.0.0';
  } catch {
    return '0.0.0';
  }
}

// Run when loaded as the program (bin/rollgate.js imports this module).
main(process.argv).then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`error: ${terminalText(e instanceof Error ? (process.env.ROLLGATE_DEBUG === '1' ? (e.stack ?? e.message) : e.message) : String(e))}\n`);
    process.exit(1);
  },
);
