/**
 * Unleash's frontend API: the flags evaluated on the server for one context, only the enabled
 * ones, as browser and mobile SDKs (unleash-proxy-client and the like) expect them. The context
 * comes as query parameters (`userId=…&properties[plan]=pro`) or a JSON `{context}`; Unleash's
 * own fields stay top-level, anything else becomes a property.
 */
import type { Context, VariantResult } from '@rollgate/sdk/engine';
import { RollgateError } from '../../core/errors.js';
import type { Snapshot } from './hub.js';

const TOP_LEVEL = new Set(['userId', 'sessionId', 'remoteAddress', 'environment', 'appName', 'currentTime']);
const FORBIDDEN = new Set(['__proto__', 'constructor', 'prototype']);

export interface FrontendToggle {
  name: string;
  enabled: true;
  variant: VariantResult;
  impressionData: boolean;
}

function put(ctx: Context, props: Record<string, string>, key: string, value: unknown): void {
  if (value === undefined || value === null) return;
  if (typeof value === 'object') throw new RollgateError('invalid_input', `context field ${key.slice(0, 100)} is ${Array.isArray(value) ? 'a list' : 'an object'}; context fields are strings`);
  const m = /^properties\[(.+)\]$/.exec(key);
  const name = m ? m[1]! : key;
  if (FORBIDDEN.has(name)) throw new RollgateError('invalid_input', `context field ${name} is not allowed`);
  if (!m && TOP_LEVEL.has(name)) ctx[name] = String(value);
  else props[name] = String(value);
}

/** The context of a frontend request: query parameters, or the body's `context` (with its `properties`). */
export function frontendContext(query: Record<string, string>, body: Record<string, unknown> | undefined, address: string | null): Context {
  const ctx: Context = {};
  const props: Record<string, string> = Object.create(null) as Record<string, string>;
  if (body) {
    for (const [k, v] of Object.entries(body)) {
      if (k === 'properties' && v !== null && typeof v === 'object' && !Array.isArray(v)) for (const [pk, pv] of Object.entries(v)) put(ctx, props, `properties[${pk}]`, pv);
      else put(ctx, props, k, v);
    }
  } else for (const [k, v] of Object.entries(query)) put(ctx, props, k, v);
  // Unleash's frontend API fills in the caller's address when the context has none.
  if (ctx.remoteAddress === undefined && address) ctx.remoteAddress = address;
  if (Object.keys(props).length) ctx.properties = { ...props };
  return ctx;
}

export function frontendToggles(s: Snapshot, ctx: Context): FrontendToggle[] {
  const out: FrontendToggle[] = [];
  for (const e of s.evaluator.evaluateAll(ctx)) {
    if (!e.value) continue;
    out.push({ name: e.name, enabled: true, variant: e.variant, impressionData: s.features.get(e.name)?.impressionData === true });
  }
  return out;
}
