/** Table type of flag change requests (migration 0012). */

export interface FlagChangeRequestsTable {
  id: string;
  app: string;
  env: string;
  flag: string;
  action: string;
  proposed_state: string | null;
  rollout_plan: string | null;
  base_state: string | null;
  base_revision: number;
  reason: string;
  status: string;
  proposed_by: string;
  created_at: string;
  expires_at: string;
  decided_by: string | null;
  decided_at: string | null;
  decision_reason: string | null;
  applied_revision: number | null;
}

export interface FlagChangeRequestTables {
  flag_change_requests: FlagChangeRequestsTable;
}
