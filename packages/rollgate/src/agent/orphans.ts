/**
 * Process groups of running instances, saved in `<dataDir>/agent/instances.json`. An agent that
 * died without stopping them (SIGKILL, power cut of the agent alone) left them running with
 * their ports; the next agent reaps them before starting its own, so nothing runs twice.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { groupMembers } from './ports.js';

const FileSchema = z.record(z.string(), z.object({ pgid: z.number().int().positive() }));

export function instancesFilePath(dataDir: string): string {
  return join(dataDir, 'agent', 'instances.json');
}

export class PidRegistry {
  private readonly groups = new Map<string, number>();

  constructor(private readonly file: string) {}

  add(instanceId: string, pgid: number): void {
    this.groups.set(instanceId, pgid);
    this.save();
  }

  remove(instanceId: string, pgid: number): void {
    if (this.groups.get(instanceId) !== pgid) return;
    this.groups.delete(instanceId);
    this.save();
  }

  private save(): void {
    try {
      mkdirSync(dirname(this.file), { recursive: true });
      const tmp = `${this.file}.${process.pid}.tmp`;
      writeFileSync(tmp, JSON.stringify(Object.fromEntries([...this.groups].map(([id, pgid]) => [id, { pgid }]))));
      renameSync(tmp, this.file);
    } catch {
      // best effort: losing this file only weakens orphan cleanup
    }
  }
}

/** Whether a process still carries `ROLLGATE_INSTANCE=<id>` (so a reused pid is never killed). */
async function carriesInstance(pid: number, id: string): Promise<boolean> {
  try {
    const environ = await readFile(`/proc/${pid}/environ`, 'utf8');
    return environ.split('\0').includes(`ROLLGATE_INSTANCE=${id}`);
  } catch {
    return false;
  }
}

/** Kills instance process groups left by a previous agent. Returns the ids it reaped. */
export async function reapOrphans(file: string): Promise<string[]> {
  let saved: z.infer<typeof FileSchema>;
  try {
    const parsed = FileSchema.safeParse(JSON.parse(readFileSync(file, 'utf8')));
    if (!parsed.success) return [];
    saved = parsed.data;
  } catch {
    return [];
  }
  const reaped: string[] = [];
  for (const [id, { pgid }] of Object.entries(saved)) {
    const members = await groupMembers(pgid);
    let ours = false;
    for (const pid of members) if (await carriesInstance(pid, id)) ours = true;
    if (!ours) continue;
    try {
      process.kill(-pgid, 'SIGKILL');
      reaped.push(id);
    } catch {
      // gone meanwhile
    }
  }
  writeFileSync(file, '{}');
  return reaped;
}
