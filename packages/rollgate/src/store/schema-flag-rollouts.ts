/** Table types of flag rollouts and scheduled flag changes (migration 0011). */

export interface FlagRolloutsTable {
  id: string;
  app: string;
  env: string;
  flag: string;
  variant: string | null;
  /** JSON array of percentages. */
  steps: string;
  every_ms: number;
  applied: number;
  next_step_at: string | null;
  remaining_ms: number | null;
  status: string;
  reason: string | null;
  guard: string | null;
  started_by: string;
  created_at: string;
  updated_at: string;
  finished_at: string | null;
}

export interface FlagSchedulesTable {
  id: string;
  app: string;
  env: string;
  flag: string;
  action: string;
  percent: number | null;
  at: string;
  status: string;
  applied_at: string | null;
  late_ms: number | null;
  message: string | null;
  created_by: string;
  created_at: string;
  cancelled_by: string | null;
}

export interface FlagRolloutTables {
  flag_rollouts: FlagRolloutsTable;
  flag_schedules: FlagSchedulesTable;
}
