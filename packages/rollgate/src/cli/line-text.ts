/** Small text rules shared by lines that print a status, a duration and a message together. */

/** "v2 serves all traffic in production (took 12s)" → without the "(took …)": the line shows its own duration. */
export function withoutTook(message: string): string {
  return message.replace(/\s*\(took [^)]*\)/g, '').trim();
}

/** The message, unless it only repeats the status ("running — running"). */
export function besidesStatus(status: string, message: string | null | undefined): string {
  const m = (message ?? '').trim();
  return m === '' || m.toLowerCase() === status.toLowerCase() ? '' : m;
}
