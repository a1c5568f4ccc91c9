// How a rule reads a context field, as Unleash does: the top-level field first, then
// `properties`; null and undefined are absent, anything else is read as a string.
import type { Context } from './types.js';

export function contextValue(context: Context, field: string): string | undefined {
  const v = context[field] ?? context.properties?.[field];
  return v === undefined || v === null ? undefined : typeof v === 'string' ? v : String(v);
}
