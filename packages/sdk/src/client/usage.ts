/**
 * Evaluations counted per flag and variant between two reports, in Unleash's metrics bucket
 * format, so the server learns which flags are still used (stale flags) and how often.
 */
export interface ToggleCounts {
  yes: number;
  no: number;
  variants: Record<string, number>;
}

export interface UsageBucket {
  start: string;
  stop: string;
  toggles: Record<string, ToggleCounts>;
}

export class Usage {
  private toggles = new Map<string, ToggleCounts>();
  private start = new Date();

  count(flag: string, enabled: boolean, variant?: string): void {
    let t = this.toggles.get(flag);
    if (!t) this.toggles.set(flag, (t = { yes: 0, no: 0, variants: {} }));
    if (enabled) t.yes++;
    else t.no++;
    if (variant !== undefined) t.variants[variant] = (t.variants[variant] ?? 0) + 1;
  }

  /** The bucket since the last take, and a fresh one from now; null when nothing was evaluated. */
  take(now = new Date()): UsageBucket | null {
    if (this.toggles.size === 0) {
      this.start = now;
      return null;
    }
    const bucket: UsageBucket = { start: this.start.toISOString(), stop: now.toISOString(), toggles: Object.fromEntries(this.toggles) };
    this.toggles = new Map();
    this.start = now;
    return bucket;
  }

  /** Puts back a bucket whose report failed, so no count is lost. */
  restore(bucket: UsageBucket): void {
    for (const [flag, c] of Object.entries(bucket.toggles)) {
      let t = this.toggles.get(flag);
      if (!t) this.toggles.set(flag, (t = { yes: 0, no: 0, variants: {} }));
      t.yes += c.yes;
      t.no += c.no;
      for (const [v, n] of Object.entries(c.variants)) t.variants[v] = (t.variants[v] ?? 0) + n;
    }
    if (bucket.start < this.start.toISOString()) this.start = new Date(bucket.start);
  }
}
