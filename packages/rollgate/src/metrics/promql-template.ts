/**
 * Fills `{{app}} {{env}} {{canary}} {{stable}} {{window}}` into a PromQL query, escaping each
 * value for where it stands: inside "…" or '…' the string's quote and backslashes are escaped,
 * inside a regex matcher (`=~` / `!~`) regex metacharacters too, inside `…` (raw string, no
 * escapes) a value holding a backtick is refused, and outside any string only a plain token
 * (letters, digits, `_ . : + -`) is accepted. So a value can never change the query's shape.
 */

export interface TemplateVars {
  app: string;
  env: string;
  canary: string;
  stable: string | null;
  windowMs: number;
}

export const TEMPLATE_VARS = ['app', 'env', 'canary', 'stable', 'window'] as const;
type VarName = (typeof TEMPLATE_VARS)[number];

export type RenderResult = { ok: true; query: string } | { ok: false; error: string };

/** A PromQL duration for a window: whole seconds as `30s`, else milliseconds as `1500ms`. */
export function promDuration(ms: number): string {
  const n = Math.max(1, Math.round(ms));
  return n % 1000 === 0 ? `${n / 1000}s` : `${n}ms`;
}

const REGEX_META = /[\\^$.*+?()[\]{}|]/g;
const PLAIN_TOKEN = /^[A-Za-z0-9_.:+-]+$/;
const PLACEHOLDER = /^\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/;

function escapeIn(quote: '"' | "'" | '`' | null, regex: boolean, name: VarName, value: string): RenderResult {
  if (quote === null) {
    return PLAIN_TOKEN.test(value)
      ? { ok: true, query: value }
      : { ok: false, error: `{{${name}}} is outside a quoted string and its value ${JSON.stringify(value)} is not a plain name; put it in quotes, e.g. version="{{${name}}}"` };
  }
  let v = regex ? value.replace(REGEX_META, (c) => `\\${c}`) : value;
  if (quote === '`') {
    // Raw strings have no escapes: a regex escape is taken literally by RE2, which is what we want.
    return v.includes('`') ? { ok: false, error: `{{${name}}} value ${JSON.stringify(value)} contains a backtick and cannot go in a \`…\` string; use "…"` } : { ok: true, query: v };
  }
  v = v.replace(/\\/g, '\\\\').replace(quote === '"' ? /"/g : /'/g, `\\${quote}`).replace(/\n/g, '\\n').replace(/\r/g, '\\r');
  return { ok: true, query: v };
}

export function renderPromQL(template: string, vars: TemplateVars): RenderResult {
  const values: Record<VarName, string | null> = {
    app: vars.app,
    env: vars.env,
    canary: vars.canary,
    stable: vars.stable,
    window: promDuration(vars.windowMs),
  };
  let out = '';
  let quote: '"' | "'" | '`' | null = null;
  let regex = false;
  let i = 0;
  while (i < template.length) {
    const ch = template[i] as string;
    if (ch === '{' && template[i + 1] === '{') {
      const m = PLACEHOLDER.exec(template.slice(i));
      if (m) {
        const name = m[1] as string;
        if (!(TEMPLATE_VARS as readonly string[]).includes(name)) {
          return { ok: false, error: `unknown template variable {{${name}}}; known: ${TEMPLATE_VARS.map((v) => `{{${v}}}`).join(' ')}` };
        }
        const value = values[name as VarName];
        if (value === null) return { ok: false, error: `the query uses {{${name}}} but there is no stable version yet (first deployment); judge this metric without {{stable}}` };
        const r = escapeIn(quote, regex, name as VarName, value);
        if (!r.ok) return r;
        out += r.query;
        i += m[0].length;
        continue;
      }
    }
    if (quote === null) {
      if (ch === '#') {
        // A comment runs to the end of the line; copy it unchanged (placeholders in it are inert).
        const end = template.indexOf('\n', i);
        const stop = end === -1 ? template.length : end;
        out += template.slice(i, stop);
        i = stop;
        continue;
      }
      if (ch === '"' || ch === "'" || ch === '`') {
        quote = ch;
        regex = /[=!]~\s*$/.test(out);
      }
    } else if (ch === '\\' && quote !== '`') {
      out += template.slice(i, i + 2);
      i += 2;
      continue;
    } else if (ch === quote) {
      quote = null;
      regex = false;
    }
    out += ch;
    i++;
  }
  return { ok: true, query: out };
}
