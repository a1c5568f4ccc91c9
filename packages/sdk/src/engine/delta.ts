// Unleash's delta API: a list of events that hydrate or change a state. Both the server (to
// keep its state) and the SDK (to follow a stream) apply them with applyDelta.
import type { ClientFeatures, Feature, Segment } from './types.js';

export type DeltaEvent =
  | { eventId: number; type: 'hydration'; features: Feature[]; segments?: Segment[] }
  | { eventId: number; type: 'feature-updated'; feature: Feature }
  | { eventId: number; type: 'feature-removed'; featureName: string; project?: string }
  | { eventId: number; type: 'segment-updated'; segment: Segment }
  | { eventId: number; type: 'segment-removed'; segmentId: number };

/** Unleash's delta response body. */
export interface ClientFeaturesDelta {
  events: DeltaEvent[];
}

/**
 * The state after the events, in order; the given state is not changed. A hydration replaces
 * everything; an update replaces a flag or segment in place or appends it; an event of an
 * unknown type is skipped, as Unleash's SDKs do.
 */
export function applyDelta(state: ClientFeatures | undefined, events: readonly DeltaEvent[]): ClientFeatures {
  const features = new Map<string, Feature>();
  const segments = new Map<number, Segment>();
  for (const f of state?.features ?? []) features.set(f.name, f);
  for (const s of state?.segments ?? []) segments.set(s.id, s);
  for (const e of events) {
    switch (e.type) {
      case 'hydration':
        features.clear();
        segments.clear();
        for (const f of e.features ?? []) features.set(f.name, f);
        for (const s of e.segments ?? []) segments.set(s.id, s);
        break;
      case 'feature-updated':
        features.set(e.feature.name, e.feature);
        break;
      case 'feature-removed':
        features.delete(e.featureName);
        break;
      case 'segment-updated':
        segments.set(e.segment.id, e.segment);
        break;
      case 'segment-removed':
        segments.delete(e.segmentId);
        break;
      default:
        break;
    }
  }
  return { version: state?.version ?? 1, features: [...features.values()], segments: [...segments.values()] };
}
