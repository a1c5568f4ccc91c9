/**
 * The `rollgate-flags` field taken out of a raw response head (the upgrade tunnel relays heads
 * as bytes, not through the parser of router-http1.ts). Upgrades are rare, so a regular
 * expression is fine here; the common head without the field costs one search.
 */

const FIELD = /\r\nrollgate-flags[ \t]*:([^\r\n]*)/gi;

/** `head` without its final blank line; returns it without the field and the field's values (joined), or flags null. */
export function takeFlagsField(head: string): { head: string; flags: string | null } {
  if (!/\r\nrollgate-flags[ \t]*:/i.test(head)) return { head, flags: null };
  const values: string[] = [];
  const rest = head.replace(FIELD, (_m, v: string) => {
    values.push(v.trim());
    return '';
  });
  return { head: rest, flags: values.join(', ') };
}
