/**
 * Ctrl-C (and SIGTERM, SIGHUP) while following something: stop following, not the thing
 * followed. Gives an AbortSignal for the follow loop and removes its handlers when done.
 */
export interface Interrupt {
  signal: AbortSignal;
  /** Removes the signal handlers (call in finally). */
  release(): void;
}

export function onInterrupt(): Interrupt {
  const ctl = new AbortController();
  const stop = () => ctl.abort();
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const s of signals) process.on(s, stop);
  return {
    signal: ctl.signal,
    release: () => {
      for (const s of signals) process.off(s, stop);
    },
  };
}
