import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  BUILTIN_ROLES,
  PERMISSIONS,
  READ_PERMISSIONS,
  RoleSpec,
  can,
  canAnywhere,
  describeResource,
  type Grant,
  type Permission,
  type Resource,
  type Role,
} from './authz.js';

const { viewer, developer, admin } = BUILTIN_ROLES;
const rm = BUILTIN_ROLES['release-manager'];
const staging: Resource = { app: 'shop', env: 'staging', production: false };
const prod: Resource = { app: 'shop', env: 'production', production: true };

const name = fc.constantFrom('shop', 'api', 'web', 'staging', 'production', 'qa', 'live');
const permission = fc.constantFrom(...PERMISSIONS);
const resource: fc.Arbitrary<Resource> = fc.record(
  { app: name, env: name, production: fc.boolean(), envless: fc.boolean(), own: fc.boolean() },
  { requiredKeys: [] },
);
const grant: fc.Arbitrary<Grant> = fc.record(
  {
    permissions: fc.oneof(fc.constant('*' as const), fc.uniqueArray(permission, { minLength: 1 })),
    apps: fc.uniqueArray(name, { minLength: 1, maxLength: 3 }),
    envs: fc.uniqueArray(name, { minLength: 1, maxLength: 3 }),
    nonProduction: fc.boolean(),
    own: fc.boolean(),
  },
  { requiredKeys: ['permissions'] },
);
const custom = (grants: Grant[]): Role => ({ name: 'custom', description: '', builtin: false, grants });

describe('built-in roles', () => {
  test('viewer reads; developer changes non-production only; release-manager also production; admin everything', () => {
    assert.ok(can([viewer], 'read', prod));
    assert.ok(!can([viewer], 'deploy', staging));
    assert.ok(can([developer], 'deploy', staging));
    assert.ok(can([developer], 'pipelines.run', staging));
    assert.ok(!can([developer], 'deploy', prod));
    assert.ok(!can([developer], 'approve', staging), 'approving is for release managers');
    assert.ok(can([developer], 'flags', staging), 'flags outside production, as deploying');
    assert.ok(can([developer], 'flags', { app: 'shop', envless: true }), "a flag's metadata touches no environment");
    assert.ok(!can([developer], 'flags', prod));
    assert.ok(!can([developer], 'flags', { ...prod, own: true }), 'owning a flag does not open production');
    assert.ok(!can([developer], 'flags', { app: 'shop' }), 'archiving spans every environment');
    for (const p of ['deploy', 'promote', 'approve', 'rollback', 'pipelines.run', 'flags'] as const) assert.ok(can([rm], p, prod), p);
    for (const p of ['users.manage', 'settings', 'secrets.write', 'spec.apply', 'chaos', 'audit.read'] as const) assert.ok(!can([rm], p, prod), p);
    assert.ok(can([admin], 'users.manage'));
  });

  test('an environment of unknown kind counts as production; a list over every environment is no non-production action', () => {
    assert.ok(!can([developer], 'deploy', { app: 'shop', env: 'staging' }));
    assert.ok(!can([developer], 'deploy', { app: 'shop' }));
    assert.ok(can([developer], 'deploy', { app: 'shop', envless: true }), 'uploading a release touches no environment');
  });

  test('everybody manages their own tokens, only admins those of others', () => {
    for (const r of [viewer, developer, rm]) {
      assert.ok(can([r], 'tokens.manage', { own: true }), r.name);
      assert.ok(!can([r], 'tokens.manage', { own: false }), r.name);
      assert.ok(!can([r], 'tokens.manage', {}), r.name);
    }
    assert.ok(can([admin], 'tokens.manage', { own: false }));
  });

  test('admin can everything, everywhere', () => {
    fc.assert(fc.property(permission, resource, (p, r) => can([admin], p, r)));
  });

  test('viewer never changes anything but its own tokens', () => {
    fc.assert(
      fc.property(permission, resource, (p, r) => {
        if (READ_PERMISSIONS.includes(p) && p !== 'read') return !can([viewer], p, r);
        if (p === 'read') return can([viewer], p, r);
        if (p === 'tokens.manage') return can([viewer], p, r) === (r.own === true);
        return !can([viewer], p, r);
      }),
    );
  });

  test('developer never acts on a production environment except its own tokens (proposing a flag change changes nothing)', () => {
    fc.assert(
      fc.property(permission, name, name, (p, app, env) => {
        const r: Resource = { app, env, production: true };
        if (p === 'read' || p === 'flags.propose') return can([developer], p, r);
        return !can([developer], p, r);
      }),
    );
  });
});

describe('scoped grants', () => {
  test('"may deploy shop to staging only"', () => {
    const role = custom([{ permissions: ['deploy'], apps: ['shop'], envs: ['staging'] }]);
    assert.ok(can([role], 'deploy', staging));
    assert.ok(can([role], 'deploy', { app: 'shop', envless: true }), 'uploading a release of shop');
    assert.ok(!can([role], 'deploy', prod));
    assert.ok(!can([role], 'deploy', { app: 'api', env: 'staging', production: false }));
    assert.ok(!can([role], 'deploy', { app: 'shop' }), 'every environment of shop');
    assert.ok(!can([role], 'deploy', { env: 'staging', production: false }), 'every app in staging');
    assert.ok(!can([role], 'promote', staging));
  });

  test('a scoped grant never leaks to another app or environment', () => {
    fc.assert(
      fc.property(grant, permission, resource, (g, p, r) => {
        const allowed = can([custom([g])], p, r);
        if (!allowed) return true;
        if (g.apps && (r.app === undefined || !g.apps.includes(r.app))) return false;
        const envless = r.env === undefined && r.envless === true;
        if (g.envs && !envless && (r.env === undefined || !g.envs.includes(r.env))) return false;
        if (g.nonProduction && !envless && r.production !== false) return false;
        if (g.own && r.own !== true) return false;
        return g.permissions === '*' || g.permissions.includes(p);
      }),
      { numRuns: 2000 },
    );
  });

  test('more roles never take a permission away; canAnywhere holds whenever can does', () => {
    fc.assert(
      fc.property(fc.array(grant, { maxLength: 4 }), fc.array(grant, { maxLength: 4 }), permission, resource, (a, b, p, r) => {
        const one = can([custom(a)], p, r);
        const both = can([custom(a), custom(b)], p, r);
        return (!one || both) && (!both || canAnywhere([custom(a), custom(b)], p));
      }),
    );
  });

  test('no role, no permission', () => {
    fc.assert(fc.property(permission, resource, (p: Permission, r) => !can([], p, r)));
  });
});

describe('custom role specs and descriptions', () => {
  test('a role spec is checked: known permissions, valid names, not a built-in name', () => {
    assert.ok(RoleSpec.safeParse({ name: 'shop-deployer', grants: [{ permissions: ['deploy'], apps: ['shop'], envs: ['staging'] }] }).success);
    assert.ok(!RoleSpec.safeParse({ name: 'admin', grants: [{ permissions: ['read'] }] }).success);
    assert.ok(!RoleSpec.safeParse({ name: 'x', grants: [{ permissions: ['fly'] }] }).success);
    assert.ok(!RoleSpec.safeParse({ name: 'x', grants: [] }).success);
    assert.ok(!RoleSpec.safeParse({ name: 'x', grants: [{ permissions: ['read'], apps: ['Shop!'] }] }).success);
    assert.ok(!RoleSpec.safeParse({ name: 'x', grants: [{ permissions: ['read'], extra: 1 }] }).success);
  });

  test('describeResource names the scope a 403 needs', () => {
    assert.equal(describeResource(prod), 'app shop, environment production (production)');
    assert.equal(describeResource(staging), 'app shop, environment staging');
    assert.equal(describeResource({}), 'every app and environment');
    assert.equal(describeResource({ app: 'shop', envless: true }), 'app shop');
  });
});
