/**
 * Object keys no input may use at any depth (JSON bodies, rollgate.yaml): they name an object's
 * prototype, so a plain object drops or misreads them silently, and code that copies keys into
 * an object could reach Object.prototype.
 */
export const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

export function isForbiddenKey(key: string): boolean {
  return FORBIDDEN_KEYS.has(key);
}

/** The message for a forbidden key found at `where` (a dotted path such as `spec.apps.__proto__`). */
export function forbiddenKeyMessage(where: string, key: string): string {
  return `${where}: key "${key}" is not allowed (it names an object's prototype); rename it`;
}
