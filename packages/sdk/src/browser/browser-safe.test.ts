/**
 * What a browser loads from this package (`./browser`, `./openfeature-web`) reaches no Node
 * built-in: every module reachable from their entries, as built, imports only relative files
 * or @openfeature/web-sdk, and uses no Node global (Buffer, process, require). The real browser
 * test (packages/rollgate/src/flags/sdk-browser.test.ts) loads them in Chromium.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const DIST = dirname(dirname(fileURLToPath(import.meta.url)));
const ALLOWED = new Set(['@openfeature/web-sdk']);

/** The code without its comments (strings are left; none of ours holds a comment marker). */
const code = (text: string) => text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');

function graph(entry: string): Map<string, string> {
  const seen = new Map<string, string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    const text = code(readFileSync(file, 'utf8'));
    seen.set(file, text);
    for (const m of text.matchAll(/(?:^|\s)(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\s*\(\s*['"]([^'"]+)['"]|^import\s+['"]([^'"]+)['"]/gm)) {
      const spec = m[1] ?? m[2] ?? m[3]!;
      if (spec.startsWith('.')) visit(join(dirname(file), spec));
      else assert.ok(ALLOWED.has(spec), `${relative(DIST, file)} imports ${spec}, which a browser cannot load`);
    }
  };
  visit(join(DIST, entry));
  return seen;
}

for (const entry of ['browser/index.js', 'openfeature/web.js']) {
  test(`${entry}: only browser-safe modules, no Node globals`, () => {
    const files = graph(entry);
    assert.ok(files.size >= 5, `${files.size} modules reached`);
    for (const [file, text] of files) {
      for (const bad of [/\bBuffer\b/, /\bprocess\s*\./, /\brequire\s*\(/, /from\s*['"]node:/]) assert.doesNotMatch(text, bad, `${relative(DIST, file)} uses ${bad.source}`);
    }
    // The server-side OpenFeature SDK and the rules engine stay out of the browser's load.
    assert.ok(![...files.keys()].some((f) => /server-provider|engine[/\\]/.test(f)), [...files.keys()].map((f) => relative(DIST, f)).join(', '));
  });
}
