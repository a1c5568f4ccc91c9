/**
 * One deployment per service (app × environment) at a time; pipeline deploys that want the same
 * service wait in the order they became ready (then run order). The queue lives in memory and
 * is rebuilt from the stages' recorded `waitingSince` when the server starts.
 */
export interface QueueEntry {
  runId: string;
  runSeq: number;
  stage: string;
  /** When the stage began waiting (ISO). */
  since: string;
}

const before = (a: QueueEntry, b: QueueEntry) => (a.since === b.since ? a.runSeq < b.runSeq : a.since < b.since);

export class DeployQueue {
  private readonly queues = new Map<string, QueueEntry[]>();
  /** Told when a run comes first in line (the one before it left). */
  onHead: (runId: string) => void = () => undefined;

  /** Adds the entry (once) and returns how many wait ahead of it. */
  enter(service: string, e: QueueEntry): number {
    let q = this.queues.get(service);
    if (!q) this.queues.set(service, (q = []));
    let i = q.findIndex((x) => x.runId === e.runId && x.stage === e.stage);
    if (i === -1) {
      i = q.findIndex((x) => before(e, x));
      if (i === -1) i = q.length;
      q.splice(i, 0, e);
    }
    return i;
  }

  leave(service: string, runId: string, stage: string): void {
    const q = this.queues.get(service);
    if (!q) return;
    const i = q.findIndex((x) => x.runId === runId && x.stage === stage);
    if (i !== -1) q.splice(i, 1);
    if (q.length === 0) this.queues.delete(service);
    else if (i === 0) this.onHead(q[0]!.runId);
  }

  ahead(service: string, runId: string, stage: string): QueueEntry[] {
    const q = this.queues.get(service) ?? [];
    const i = q.findIndex((x) => x.runId === runId && x.stage === stage);
    return i === -1 ? [] : q.slice(0, i);
  }

  /** Runs waiting for a service (to wake when it frees up). */
  waiting(service: string): string[] {
    return (this.queues.get(service) ?? []).map((x) => x.runId);
  }
}
