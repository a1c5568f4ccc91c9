/** `rollgate validate`, `rollgate apply` and `rollgate schema`. */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { z } from 'zod';
import { ClientOpts, action, clientFor, clientOptions, fileOption } from '../command.js';
import { SCHEMA_FILE } from '../../core/spec-hints.js';
import { loadSpecFile } from '../spec-file.js';

const ValidateOpts = z.object({ file: z.string(), json: z.boolean().optional() });
const ApplyOpts = ClientOpts.extend({ file: z.string() });
const SchemaOpts = z.object({});

export function registerSpecCommands(program: Command): void {
  fileOption(
    program
      .command('validate')
      .description('check a rollgate.yaml without contacting the server; prints "valid" or every problem with file:line')
      .option('--json', 'print one JSON document on stdout'),
  ).action(
    action(ValidateOpts, async (opts, { out }) => {
      const { file, spec } = await loadSpecFile(opts.file);
      out.result({ valid: true, file, apps: Object.keys(spec.apps), environments: Object.keys(spec.environments) }, () => 'valid');
    }),
  );

  fileOption(clientOptions(program.command('apply').description('validate rollgate.yaml locally, then send it to the server (apps and environments)'))).action(
    action(ApplyOpts, async (opts, { out }) => {
      const { spec } = await loadSpecFile(opts.file);
      const res = await clientFor(opts).applySpec(spec);
      out.result(res, () => `applied: apps ${res.apps.join(', ') || '-'}; environments ${res.environments.join(', ') || '-'}`);
    }),
  );

  program
    .command('schema')
    .description(`print the JSON schema of rollgate.yaml (every field and allowed form; editors complete from it: add \`# yaml-language-server: $schema=${SCHEMA_FILE}\` to rollgate.yaml)`)
    .action(
      action(SchemaOpts, async () => {
        const text = await readFile(SCHEMA_FILE, 'utf8');
        // It is JSON either way. Waits until written: the CLI exits right after, and a pipe takes ~200 kB in pieces.
        await new Promise<void>((done, fail) => process.stdout.write(text, (e) => (e ? fail(e) : done())));
      }),
    );
}
