// The rules a flag evaluates by, in Unleash's client-features format, so that a state exported
// from Unleash (or a client-specification file) is Rollgate's own state with nothing converted.
// Values are as sent on the wire: parameters are strings (numbers are tolerated), dates ISO 8601.

export type Operator =
  | 'IN' | 'NOT_IN'
  | 'STR_CONTAINS' | 'STR_STARTS_WITH' | 'STR_ENDS_WITH'
  | 'NUM_EQ' | 'NUM_GT' | 'NUM_GTE' | 'NUM_LT' | 'NUM_LTE'
  | 'DATE_AFTER' | 'DATE_BEFORE'
  | 'SEMVER_EQ' | 'SEMVER_GT' | 'SEMVER_GTE' | 'SEMVER_LT' | 'SEMVER_LTE'
  | 'REGEX' | 'IN_CIDR';

export interface Constraint {
  contextName: string;
  operator: Operator;
  /** For IN, NOT_IN, STR_*, REGEX flags in Unleash's list form, IN_CIDR. */
  values?: string[];
  /** For NUM_*, DATE_*, SEMVER_*, and a single REGEX. */
  value?: string;
  inverted?: boolean;
  caseInsensitive?: boolean;
}

export interface Payload {
  type: 'string' | 'json' | 'csv' | 'number';
  value: string;
}

export interface VariantOverride {
  contextName: string;
  values: string[];
}

export interface Variant {
  name: string;
  weight: number;
  /** 'variable' weights share what 'fix' weights leave of 1000. */
  weightType?: 'variable' | 'fix';
  stickiness?: string;
  payload?: Payload;
  overrides?: VariantOverride[];
}

export interface Strategy {
  name: string;
  parameters?: Record<string, string | number>;
  constraints?: Constraint[];
  /** Segment ids, each a shared list of constraints, all of which must hold. */
  segments?: number[];
  variants?: Variant[];
  disabled?: boolean | null;
  sortOrder?: number;
  title?: string | null;
  id?: string;
}

export interface Dependency {
  feature: string;
  /** false: the parent must be off. Default true. */
  enabled?: boolean;
  /** The parent must give one of these variants. */
  variants?: string[];
}

export interface Feature {
  name: string;
  enabled: boolean;
  type?: string;
  description?: string | null;
  project?: string;
  stale?: boolean;
  impressionData?: boolean;
  strategies?: Strategy[];
  variants?: Variant[];
  dependencies?: Dependency[];
}

export interface Segment {
  id: number;
  name?: string;
  constraints: Constraint[];
}

/** Unleash's `/api/client/features` body. */
export interface ClientFeatures {
  version: number;
  features: Feature[];
  segments?: Segment[];
}

/** The context a flag is evaluated for. Unknown fields are looked up in `properties`. */
export interface Context {
  userId?: string;
  sessionId?: string;
  remoteAddress?: string;
  environment?: string;
  appName?: string;
  currentTime?: string | Date;
  properties?: Record<string, string | undefined>;
  [field: string]: unknown;
}

/** What evaluating a flag's variant gives; Unleash's shape. */
export interface VariantResult {
  name: string;
  enabled: boolean;
  /** Whether the flag itself is on (Unleash's `feature_enabled`). */
  feature_enabled?: boolean;
  payload?: Payload;
}
