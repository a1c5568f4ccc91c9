/**
 * The Notifier boundary: one file per implementation (webhook, slack, cdevents) behind this
 * small interface. A notifier turns one normalised Notification into one HTTP delivery; the
 * dispatcher owns retries, backoff, queueing and the delivery log.
 */

export const NOTIFIER_KINDS = ['webhook', 'slack', 'cdevents'] as const;
export type NotifierKind = (typeof NOTIFIER_KINDS)[number];

/**
 * How the thing the event is about ended or stands. Deployments: succeeded, failed, aborted,
 * rolled_back; pipeline runs: queued, started, succeeded, failed, cancelled, error; incidents:
 * opened, resolved; other events: the verb of their type.
 */
export type Outcome = string;

/** A platform event normalised for people and machines outside Rollgate. Carries no secrets. */
export interface Notification {
  /** Stable per platform event (`evt_<event id>`): receivers deduplicate on it across retries. */
  id: string;
  /** Normalised type that subscriptions match, e.g. `deployment.succeeded`, `incident.opened`. */
  type: string;
  /** The platform event type it came from, e.g. `deployment.finished` (subscriptions match it too). */
  sourceType: string;
  app: string | null;
  env: string | null;
  version: string | null;
  /** The version serving before (deployments), when known. */
  previousVersion: string | null;
  outcome: Outcome | null;
  /** One readable line: "web 1.4.2 deployed to production". */
  summary: string;
  /** Where to look in Rollgate (dashboard URL), when the server knows its public URL. */
  link: string | null;
  /** ISO-8601 UTC time of the event. */
  at: string;
  deploymentId: string | null;
  /** Id of the object the event is about when it is not a deployment (incident id, pipeline run id). */
  subjectId: string | null;
  /** The platform event's own data, as emitted (no secrets are ever put in events). */
  data: Record<string, unknown>;
}

export interface DeliveryResult {
  ok: boolean;
  /** HTTP status, or null when no response came (network error, timeout). */
  status: number | null;
  /** Worth trying again: network errors, timeouts, 408, 429, 5xx. */
  retryable: boolean;
  /** What went wrong, with no secret in it. */
  error: string | null;
  /** From a Retry-After header on 429/503, in ms. */
  retryAfterMs: number | null;
  durationMs: number;
}

export interface Notifier {
  readonly kind: NotifierKind;
  /** Delivers once (no retry); resolves with the result, never rejects for HTTP or network failures. */
  deliver(n: Notification, signal: AbortSignal): Promise<DeliveryResult>;
}
