/**
 * A StreamSink in memory for EventStream tests: collects what is written, and can play a
 * connection that is full (write answers false) until `drain()`.
 */
import type { EventStream, StreamSink } from '../api/event-stream.js';

export class MemorySink implements StreamSink {
  text = '';
  /** What was written, by reference. */
  readonly chunks: Uint8Array[] = [];
  dropped: string | null = null;
  /** Bytes taken while full: what a real connection would hold. */
  pending = 0;
  private full = false;
  private waiters: (() => void)[] = [];

  constructor(private readonly stream: EventStream) {
    stream.attach(this);
  }

  write(bytes: Uint8Array): boolean {
    this.chunks.push(bytes);
    this.text += Buffer.from(bytes).toString();
    if (this.full) this.pending += bytes.length;
    for (const w of this.waiters.splice(0)) w();
    return !this.full;
  }

  drop(reason: string): void {
    this.dropped = reason;
  }

  /** From now on the connection answers "full" (and holds what it takes). */
  fill(): void {
    this.full = true;
  }

  /** The client read everything: the connection takes more again. */
  drain(): void {
    this.full = false;
    this.pending = 0;
    this.stream.resume();
  }

  /** Resolves once the text so far satisfies `done`. */
  async until(done: (text: string) => boolean): Promise<string> {
    while (!done(this.text)) await new Promise<void>((r) => this.waiters.push(r));
    return this.text;
  }
}
