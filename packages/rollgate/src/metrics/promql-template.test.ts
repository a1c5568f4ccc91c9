import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { promDuration, renderPromQL, type TemplateVars } from './promql-template.js';

const vars: TemplateVars = { app: 'shop', env: 'production', canary: 'v2', stable: 'v1', windowMs: 30_000 };
const render = (t: string, over: Partial<TemplateVars> = {}) => renderPromQL(t, { ...vars, ...over });

describe('PromQL templates', () => {
  test('replaces every variable; the window is a PromQL duration', () => {
    const r = render('sum(rate(rollgate_requests_total{app="{{app}}",env="{{ env }}",version="{{canary}}"}[{{window}}])) / on() sum(rate(x{version="{{stable}}"}[{{window}}]))');
    assert.deepEqual(r, { ok: true, query: 'sum(rate(rollgate_requests_total{app="shop",env="production",version="v2"}[30s])) / on() sum(rate(x{version="v1"}[30s]))' });
    assert.equal(promDuration(1500), '1500ms');
    assert.equal(promDuration(300_000), '300s');
    assert.equal(promDuration(0), '1ms');
  });
  test('escapes a value for the string it stands in', () => {
    const odd = 'a"b\\c\'d\ne';
    assert.deepEqual(render('x{v="{{canary}}"}', { canary: odd }), { ok: true, query: 'x{v="a\\"b\\\\c\'d\\ne"}' });
    assert.deepEqual(render("x{v='{{canary}}'}", { canary: odd }), { ok: true, query: "x{v='a\"b\\\\c\\'d\\ne'}" });
    // In a regex matcher, regex metacharacters are escaped too: 1.2 must not match 1x2.
    assert.deepEqual(render('x{v=~"{{canary}}|other"}', { canary: '1.2+rc' }), { ok: true, query: 'x{v=~"1\\\\.2\\\\+rc|other"}' });
    assert.deepEqual(render('x{v!~ `{{canary}}`}', { canary: '1.2' }), { ok: true, query: 'x{v!~ `1\\.2`}' });
    const tick = render('x{v=`{{canary}}`}', { canary: 'a`b' });
    assert.equal(tick.ok, false);
  });
  test('quotes and escapes inside the template itself are respected', () => {
    // The placeholder after an escaped quote is still inside the string.
    assert.deepEqual(render('x{a="q\\"{{app}}"}', { app: 'p"q' }), { ok: true, query: 'x{a="q\\"p\\"q"}' });
    // A comment is copied as is.
    assert.deepEqual(render('up # {{nothing}}\n'), { ok: true, query: 'up # {{nothing}}\n' });
  });
  test('a value outside quotes must be a plain token: it can never change the query', () => {
    const r = render('x{v="a"} and on() {{canary}}', { canary: 'v1"} or vector(1) #' });
    assert.equal(r.ok, false);
    assert.match(!r.ok ? r.error : '', /not a plain name; put it in quotes/);
    assert.deepEqual(render('x[{{window}}] offset {{window}}'), { ok: true, query: 'x[30s] offset 30s' });
  });
  test('unknown variables and a missing stable version are errors that say what to do', () => {
    const u = render('x{a="{{application}}"}');
    assert.equal(u.ok, false);
    assert.match(!u.ok ? u.error : '', /unknown template variable \{\{application\}\}; known: \{\{app\}\}/);
    const s = render('x{v="{{stable}}"}', { stable: null });
    assert.equal(s.ok, false);
    assert.match(!s.ok ? s.error : '', /no stable version yet/);
    // Single braces (PromQL label sets) are untouched.
    assert.deepEqual(render('sum by (le) (x{a="b"})'), { ok: true, query: 'sum by (le) (x{a="b"})' });
  });
});
