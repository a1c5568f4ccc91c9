/**
 * `rollgate audit`: read the audit trail, check its hash chain, export it as JSON lines.
 *   rollgate audit [--since 7d] [--actor A] [--action X] [--outcome denied] [--json]
 *   rollgate audit verify        exit 1 naming the first broken entry when the chain is broken
 *   rollgate audit export > audit.jsonl
 *   rollgate audit logins [--since 24h]   failed logins per name, address and window, with counts
 */
import { createWriteStream, openSync, rmSync } from 'node:fs';
import { finished } from 'node:stream/promises';
import type { Command } from 'commander';
import { z } from 'zod';
import { errorMessage } from '../../core/errors.js';
import { isSince } from '../../dora/window.js';
import type { AuditEntry } from '../../engine/audit.js';
import { AUDIT_OUTCOMES } from '../../store/audit-types.js';
import { auditExport, auditList, auditVerify, loginFailures } from '../client-audit.js';
import { ClientOpts, IntString, action, clientFor, clientOptions } from '../command.js';
import { OperationFailed, UsageError } from '../exit.js';
import { formatTime, table } from '../format.js';

const ListOpts = ClientOpts.extend({
  since: z.string().trim().refine(isSince, { message: 'write a look-back such as 7d, 12w, 36h, or a date such as 2024-01-31' }).optional(),
  actor: z.string().trim().min(1).max(200).optional(),
  action: z.string().trim().min(1).max(80).optional(),
  outcome: z.enum(AUDIT_OUTCOMES).optional(),
  limit: IntString(1, 1000).default(50),
});
const LoginsOpts = ClientOpts.extend({
  since: z.string().trim().refine(isSince, { message: 'write a look-back such as 1h, 7d, or a date such as 2024-01-31' }).default('24h'),
  limit: IntString(1, 1000).default(200),
});
const ExportOpts = ClientOpts.extend({ output: z.string().min(1).optional() });

export function registerAudit(program: Command): void {
  const audit = clientOptions(
    program
      .command('audit')
      .description('the audit trail: who changed what, when, from where (newest first); `audit verify` checks it, `audit export` writes it as JSON lines')
      .option('--since <when>', 'only entries since a look-back (7d, 12w, 36h) or a date (2024-01-31)')
      .option('--actor <actor>', 'only entries by this actor')
      .option('--action <action>', 'only this action (deployments.create), or a prefix ending in * (deployments.*)')
      .option('--outcome <outcome>', 'only ok, denied or failed entries')
      .option('-n, --limit <n>', 'how many', '50'),
  ).action(
    action(ListOpts, async (opts, { out }) => {
      const list = await auditList(clientFor(opts), { since: opts.since, actor: opts.actor, action: opts.action, outcome: opts.outcome, limit: opts.limit });
      out.result(list, () => (list.length === 0 ? 'no audit entries match' : auditTable(list)));
    }),
  );

  clientOptions(audit.command('verify').description('check the hash chain of the whole trail; exit 1 naming the first broken entry')).action(
    action(ClientOpts, async (opts, { out }) => {
      const r = await auditVerify(clientFor(opts));
      if (!r.ok) throw new OperationFailed('audit_broken', `audit trail broken at entry ${r.firstBroken}: ${r.reason}`, r);
      out.result(r, () =>
        r.head === null ? 'audit trail intact: no entries yet' : `audit trail intact: ${r.entries} entries, head is entry ${r.head.seq} (hash ${r.head.hash})`,
      );
    }),
  );

  clientOptions(
    audit
      .command('logins')
      .description('failed logins per attempted name, client address and 10-minute window, with counts (the trail holds the first of each and a summary)')
      .option('--since <when>', 'windows since a look-back (1h, 7d) or a date', '24h')
      .option('-n, --limit <n>', 'how many windows', '200'),
  ).action(
    action(LoginsOpts, async (opts, { out }) => {
      const list = await loginFailures(clientFor(opts), { since: opts.since, limit: opts.limit });
      out.result(list, () =>
        list.length === 0
          ? `no failed logins since ${opts.since}`
          : table(
              ['window', 'name', 'from', 'failed', 'refused', 'last'],
              list.map((w) => [formatTime(w.windowStart), w.name, w.address, String(w.failures), String(w.refused), formatTime(w.lastAt)]),
            ),
      );
    }),
  );

  clientOptions(
    audit
      .command('export')
      .description('write the whole trail as JSON lines, oldest first (to stdout, or --output)')
      .option('-o, --output <file>', 'write to this file (created with mode 0600) instead of stdout'),
  ).action(
    action(ExportOpts, async (opts) => {
      const client = clientFor(opts);
      if (opts.output === undefined) {
        const n = await auditExport(client, process.stdout);
        // stderr: stdout is the export.
        process.stderr.write(`exported ${n} audit entries\n`);
        return;
      }
      let fd: number;
      try {
        fd = openSync(opts.output, 'wx', 0o600);
      } catch (e) {
        const why = (e as NodeJS.ErrnoException).code === 'EEXIST' ? 'it exists already; give a new file name (an export never overwrites one)' : errorMessage(e);
        throw new UsageError(`cannot write ${opts.output}: ${why}`);
      }
      const file = createWriteStream('', { fd });
      try {
        const n = await auditExport(client, file);
        file.end();
        await finished(file);
        process.stderr.write(`exported ${n} audit entries to ${opts.output}\n`);
      } catch (e) {
        // A partial export must not pass for the whole trail.
        file.destroy();
        rmSync(opts.output, { force: true });
        throw e;
      }
    }),
  );
}

export function auditTable(list: AuditEntry[]): string {
  const rows = list.map((e) => [
    String(e.seq),
    formatTime(e.at),
    e.actor,
    e.action,
    e.target,
    e.outcome,
    e.source.address ?? '-',
  ]);
  return table(['seq', 'at', 'actor', 'action', 'target', 'outcome', 'from'], rows);
}
