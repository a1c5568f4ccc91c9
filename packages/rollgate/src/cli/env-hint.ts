/**
 * A forgotten `--env` names the environments that exist, so the next try is right:
 * `--env is required; environments: staging, production`. Taken from the server when it
 * answers (what can be deployed to), else from the spec file in the working directory.
 */
import { clientFor } from './command.js';
import { loadSpecFile } from './spec-file.js';

/** The value given to `flag` in argv (`--flag v` or `--flag=v`), if any. */
function argValue(argv: string[], ...flags: string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    for (const f of flags) {
      if (a === f) return argv[i + 1];
      if (a.startsWith(`${f}=`)) return a.slice(f.length + 1);
    }
  }
  return undefined;
}

/** The environments, or null when neither the server nor a spec file could say. */
export async function knownEnvironments(argv: string[]): Promise<string[] | null> {
  let answered = false;
  try {
    const envs = await clientFor({ server: argValue(argv, '--server') }).environments();
    answered = true;
    if (envs.length > 0) return envs.map((e) => e.name).sort();
  } catch {
    // no server: the spec file may still say
  }
  try {
    return Object.keys((await loadSpecFile(argValue(argv, '--file', '-f'))).spec.environments).sort();
  } catch {
    return answered ? [] : null;
  }
}

export async function missingEnvMessage(argv: string[]): Promise<string> {
  const envs = await knownEnvironments(argv);
  if (envs === null) return '--env is required: give -e ENV (the environments could not be listed: no server answered and there is no rollgate.yaml here)';
  if (envs.length === 0) return '--env is required (no environment is declared yet: add one under `environments:` in rollgate.yaml and run `rollgate apply`)';
  return `--env is required; environments: ${envs.join(', ')} (e.g. --env ${envs[0]})`;
}

/** Commander's message for a missing `-e, --env` (the option every such command spells the same way). */
export function isMissingEnv(code: string, message: string): boolean {
  return code === 'commander.missingMandatoryOptionValue' && message.includes('--env <env>');
}

/**
 * Commander's error writers with its message for a missing --env (and the usage hint it writes
 * after it) left out: main() says it instead, with the environments.
 */
export function envErrorFilter(): { outputError: (str: string, write: (s: string) => void) => void; writeErr: (str: string) => void } {
  let skipHint = false;
  return {
    outputError: (str, write) => {
      if (/required option '-e, --env <env>'/.test(str)) skipHint = true;
      else write(str);
    },
    writeErr: (str) => {
      if (skipHint && str.startsWith('(run with --help')) skipHint = false;
      else process.stderr.write(str);
    },
  };
}
