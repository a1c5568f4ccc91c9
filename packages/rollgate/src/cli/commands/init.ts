/**
 * `rollgate init`: a commented rollgate.yaml for the project in the current directory, from what
 * cli/project-detect.ts finds, and `.rollgate/` in .gitignore. Never overwrites without --force.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { z } from 'zod';
import { RollgateError } from '../../core/errors.js';
import { parseSpec } from '../../core/spec-load.js';
import { action } from '../command.js';
import { detectProject, type Detected } from '../project-detect.js';

const InitOpts = z.object({ file: z.string(), force: z.boolean().optional(), json: z.boolean().optional() });

export function registerInit(program: Command): void {
  program
    .command('init')
    .description('write a commented rollgate.yaml for the project in this directory (start command, port variable and health path detected) and keep .rollgate/ out of git')
    .option('-f, --file <path>', 'where to write the spec', 'rollgate.yaml')
    .option('--force', 'overwrite an existing spec file')
    .option('--json', 'print one JSON document on stdout')
    .action(
      action(InitOpts, async (opts, { out }) => {
        if (existsSync(opts.file) && !opts.force) {
          throw new RollgateError('conflict', `${opts.file} already exists and was left as it is; edit it, or run \`rollgate init --force\` to replace it`);
        }
        const found = detectProject(process.cwd());
        const text = specText(found);
        parseSpec(text, opts.file); // what init writes must be a valid spec
        writeFileSync(opts.file, text);
        const gitignore = ignoreDataDir(process.cwd());
        out.result({ file: opts.file, detected: found, gitignore }, () =>
          [
            `wrote ${opts.file} for app "${found.app}"`,
            `  run:         ${found.run ? `${found.run.command}   (from ${found.run.from})` : 'node server.js   (guessed: no start script found; edit it)'}`,
            `  port:        $${found.portEnv?.name ?? 'PORT'}   (${found.portEnv ? `used in ${found.portEnv.from}` : 'default; the app must listen on it'})`,
            `  healthCheck: ${found.healthPath?.path ?? '/'}   (${found.healthPath ? `found in ${found.healthPath.from}` : 'no health route found; / must answer 2xx'})`,
            gitignore === 'unchanged' ? '  .gitignore already keeps .rollgate/ out of git' : `  .gitignore: .rollgate/ ${gitignore === 'created' ? 'in a new file' : 'added'}`,
            'next: `rollgate up`, then `rollgate deploy ' + found.app + ' --env staging --path DIR --version 1 --wait` (DIR: the app\'s files, . included: .rollgate/ is always left out)',
          ].join('\n'),
        );
      }),
    );
}

function specText(d: Detected): string {
  const run = d.run?.command ?? 'node server.js';
  return `# rollgate.yaml for ${d.app}, written by \`rollgate init\`. Editor completion and every field:
# packages/rollgate/schema/rollgate.schema.json in the Rollgate repository. Check it: \`rollgate validate\`.
apps:
  ${d.app}:
    # The command that starts one instance, run in the release directory
    # (${d.run ? `from ${d.run.from}` : 'guessed: no start script in package.json; edit it'}).
    run: ${JSON.stringify(run)}
    # Each instance gets the port it must listen on in this variable
    # (${d.portEnv ? `used in ${d.portEnv.from}` : 'the default; make the app listen on it'}).
    portEnv: ${d.portEnv?.name ?? 'PORT'}
    # An instance gets traffic once this path answers 2xx
    # (${d.healthPath ? `found in ${d.healthPath.from}` : 'no health route found in the code: / is used; a dedicated one is better'}).
    healthCheck: { path: ${d.healthPath?.path ?? '/'}, interval: 1s, startTimeout: 30s }
    replicas: 2
    drainTimeout: 30s            # in-flight requests may finish this long after a version leaves
environments:
  staging:
    listen: 8080                 # where users reach this environment
    strategy:
      rolling: {}
  production:
    listen: 8081
    strategy:
      canary:                    # a little traffic first, judged against the stable version
        steps:
          - setWeight: 10
          - pause: { duration: 1m }
          - setWeight: 50
          - pause: {}            # until \`rollgate promote\`
`;
}

/** Adds `.rollgate/` to ./.gitignore unless a line already covers it. */
function ignoreDataDir(dir: string): 'created' | 'added' | 'unchanged' {
  const file = join(dir, '.gitignore');
  const existing = existsSync(file) ? readFileSync(file, 'utf8') : null;
  if (existing !== null && existing.split(/\r?\n/).some((l) => /^\/?\.rollgate\/?\s*$/.test(l.trim()))) return 'unchanged';
  const line = '# rollgate: the local data directory (database, tokens, master.key)\n.rollgate/\n';
  writeFileSync(file, existing === null ? line : existing + (existing === '' || existing.endsWith('\n') ? '' : '\n') + line);
  return existing === null ? 'created' : 'added';
}
