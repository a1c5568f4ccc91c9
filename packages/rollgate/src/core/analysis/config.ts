/** Helpers for resolving judge configs: defaults merged under user values. */

/** Drops keys whose value is undefined, so `{ ...defaults, ...stripUndefined(user) }` keeps defaults. */
export function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
