/** `rollgate validate` and `rollgate apply`. */
import type { Command } from 'commander';
import { z } from 'zod';
import { ClientOpts, action, clientFor, clientOptions, fileOption } from '../command.js';
import { loadSpecFile } from '../spec-file.js';

const ValidateOpts = z.object({ file: z.string(), json: z.boolean().optional() });
const ApplyOpts = ClientOpts.extend({ file: z.string() });

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
}
