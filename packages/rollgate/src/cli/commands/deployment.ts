/** `rollgate deployment show ID` (also `rollgate history ID`): one deployment told in full. */
import type { Command } from 'commander';
import { errorMessage } from '../../core/errors.js';
import type { AuditEntry } from '../../engine/audit.js';
import type { ApiClient } from '../client.js';
import { auditList } from '../client-audit.js';
import { ClientOpts, action, clientFor, clientOptions } from '../command.js';
import { resolveDeploymentId } from '../deployment-ref.js';
import { buildReport, auditAbout, reportText } from '../deployment-report.js';
import { ApiError } from '../exit.js';
import type { Output } from '../output.js';

export function registerDeployment(program: Command): void {
  const group = program.command('deployment').description('one deployment in detail (see also `rollgate history`)');
  clientOptions(
    group
      .command('show')
      .description('the step timeline (start, end, duration), analysis verdicts with their evidence, who did what, and the outcome')
      .argument('<id>', 'deployment id (or its start, as `rollgate history` shows it)'),
  ).action(
    action(ClientOpts, async (opts, { out }, ref: string) => {
      const client = clientFor(opts);
      await showDeployment(client, out, await resolveDeploymentId(client, ref));
    }),
  );
}

export async function showDeployment(client: ApiClient, out: Output, id: string): Promise<void> {
  const view = await client.deployment(id);
  let audit: AuditEntry[] | null = null;
  let note: string | null = null;
  try {
    // From just before it was created: its creation and every command on it come after.
    const since = new Date(Date.parse(view.createdAt) - 1000).toISOString();
    audit = auditAbout(id, await auditList(client, { since, limit: 1000 }));
  } catch (e) {
    note =
      e instanceof ApiError && e.status === 403
        ? 'your role may not read the audit trail (audit.read): who did what is taken from the deployment\'s own timeline'
        : `the audit trail could not be read (${errorMessage(e)}): who did what is taken from the deployment's own timeline`;
  }
  const report = buildReport(view, audit, note);
  out.result(report, () => reportText(report));
}
