/**
 * The Server-Sent Events the delivery streams send, each encoded once per revision and shared
 * by every stream that carries it. Unleash's streaming API: `unleash-connected` with a
 * hydration, then `unleash-updated` with delta events (the SDK applies them as applyDelta
 * does). OFREP (ADR-0008): `event: message` whose data is {type: "refetchEvaluation", etag,
 * lastModified}; the provider then fetches the bulk evaluation again.
 */
import { createHash } from 'node:crypto';
import type { ClientFeatures, DeltaEvent, Feature, Segment } from '@rollgate/sdk/engine';
import type { Frame } from '../../api/event-replay.js';
import { canonicalJson } from '../../core/canonical-json.js';

const frame = (id: number, event: string, data: unknown): Frame => ({ id, bytes: Buffer.from(`id: ${id}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`), live: true });

/** The ETag of a revision (quoted, as HTTP has it). */
export const revisionEtag = (revision: number): string => `"${revision}"`;

/** The ETag of answers evaluated for one context: the revision and the context together (one context's answers can be cached, another's not mixed up with them). */
export const contextEtag = (revision: number, context: unknown): string => `"${revision}-${createHash('sha256').update(canonicalJson(context)).digest('base64url').slice(0, 16)}"`;

export function unleashConnected(revision: number, state: ClientFeatures): Frame {
  const hydration: DeltaEvent = { eventId: revision, type: 'hydration', features: state.features, segments: state.segments ?? [] };
  return frame(revision, 'unleash-connected', { events: [hydration] });
}

/** The delta events from one state to the next: changed or new flags and segments, removed ones. */
export function deltaEvents(revision: number, before: ClientFeatures, after: ClientFeatures): DeltaEvent[] {
  const out: DeltaEvent[] = [];
  const was = new Map<string, string>(before.features.map((f) => [f.name, canonicalJson(f)]));
  const now = new Set<string>();
  const wasSeg = new Map<number, string>((before.segments ?? []).map((s) => [s.id, canonicalJson(s)]));
  const nowSeg = new Set<number>();
  // Segments first: an updated flag may name a segment that is new in this revision.
  for (const s of after.segments ?? []) {
    nowSeg.add(s.id);
    if (wasSeg.get(s.id) !== canonicalJson(s)) out.push({ eventId: revision, type: 'segment-updated', segment: s as Segment });
  }
  for (const f of after.features) {
    now.add(f.name);
    if (was.get(f.name) !== canonicalJson(f)) out.push({ eventId: revision, type: 'feature-updated', feature: f as Feature });
  }
  for (const name of was.keys()) if (!now.has(name)) out.push({ eventId: revision, type: 'feature-removed', featureName: name });
  for (const id of wasSeg.keys()) if (!nowSeg.has(id)) out.push({ eventId: revision, type: 'segment-removed', segmentId: id });
  return out;
}

export function unleashUpdated(revision: number, before: ClientFeatures, after: ClientFeatures): Frame {
  return frame(revision, 'unleash-updated', { events: deltaEvents(revision, before, after) });
}

/** lastModified in Unix seconds, as ADR-0008 recommends. */
export function ofrepRefetch(revision: number, changedAtMs: number): Frame {
  return frame(revision, 'message', { type: 'refetchEvaluation', etag: revisionEtag(revision), lastModified: Math.floor(changedAtMs / 1000) });
}

export const CONNECTED_COMMENT: Frame = { id: null, bytes: Buffer.from(': connected\n\n'), live: true };
