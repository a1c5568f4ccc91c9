import type { EventRecord } from '../core/domain.js';
import type { NewEvent, Store } from '../store/types.js';

export type EventListener = (e: EventRecord) => void;

/**
 * The platform event stream: every event is written to the store first (so SSE clients can
 * resume with Last-Event-ID, and nothing is lost on a crash), then pushed to live listeners.
 */
export class EventBus {
  private readonly listeners = new Set<EventListener>();

  constructor(private readonly store: Store) {}

  async emit(e: NewEvent): Promise<EventRecord> {
    const rec = await this.store.appendEvent(e);
    for (const l of this.listeners) {
      try {
        l(rec);
      } catch {
        // A broken listener (e.g. a closed SSE stream) must not stop the others.
      }
    }
    return rec;
  }

  subscribe(l: EventListener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }
}
