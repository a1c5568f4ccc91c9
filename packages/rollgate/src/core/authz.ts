/**
 * Who may do what. Permissions are granted by roles; a grant may be limited to some apps, some
 * environments, non-production environments, or the caller's own things (tokens).
 * `can` is the one decision; the API works out what a request touches (a Resource) and asks it.
 * Pure: no I/O, so the rules can be tested exhaustively.
 */
import { z } from 'zod';
import { NAME_RE } from './spec.js';

export const PERMISSIONS = [
  'read',
  'deploy',
  'promote',
  'rollback',
  'approve',
  'pipelines.run',
  'chaos',
  'incidents',
  'flags',
  'flags.propose',
  'flags.kill',
  'secrets.read',
  'secrets.write',
  'spec.apply',
  'users.manage',
  'tokens.manage',
  'audit.read',
  'settings',
] as const;
export type Permission = (typeof PERMISSIONS)[number];

/** Permissions that change nothing (secrets.read lists names and versions, never values). */
export const READ_PERMISSIONS: readonly Permission[] = ['read', 'secrets.read', 'audit.read'];

export function isPermission(p: string): p is Permission {
  return (PERMISSIONS as readonly string[]).includes(p);
}

/** Permissions and where they hold. Every limit given must hold; an absent limit is no limit. */
export interface Grant {
  permissions: readonly Permission[] | '*';
  /** Only these apps. */
  apps?: readonly string[] | undefined;
  /** Only these environments (or actions that touch no environment). */
  envs?: readonly string[] | undefined;
  /** Only environments that are not production (or actions that touch no environment). */
  nonProduction?: boolean | undefined;
  /** Only the caller's own things (their tokens). */
  own?: boolean | undefined;
}

export interface Role {
  name: string;
  description: string;
  builtin: boolean;
  grants: readonly Grant[];
}

/**
 * What a request touches. `env` set: that environment (`production` says whether it is one;
 * left out it counts as production, so a forgotten lookup never opens production). No `env`:
 * either `envless` (the action touches no environment, e.g. uploading a release) or it may span
 * every environment (a list without a filter), where only grants without env limits apply.
 */
export interface Resource {
  app?: string | undefined;
  env?: string | undefined;
  production?: boolean | undefined;
  envless?: boolean | undefined;
  /** The thing belongs to the caller. */
  own?: boolean | undefined;
}

export const BUILTIN_ROLE_NAMES = ['viewer', 'developer', 'release-manager', 'admin'] as const;
export type BuiltinRoleName = (typeof BUILTIN_ROLE_NAMES)[number];

// Every user manages their own API tokens (`rollgate login` creates one).
const OWN_TOKENS: Grant = { permissions: ['tokens.manage'], own: true };
const VIEWER: Grant[] = [{ permissions: ['read'] }, OWN_TOKENS];
const DEVELOPER: Grant[] = [
  ...VIEWER,
  // Flags as deploying: a flag changes what production users get just as a release does.
  { permissions: ['deploy', 'promote', 'rollback', 'pipelines.run', 'flags'], nonProduction: true },
  // A change request changes nothing until someone holding 'approve' there approves it.
  { permissions: ['flags.propose'] },
];
// The kill switch turns a flag off at once, without a change request: those who answer for production.
const RELEASE_MANAGER: Grant[] = [...DEVELOPER, { permissions: ['deploy', 'promote', 'approve', 'rollback', 'pipelines.run', 'flags', 'flags.kill'] }];

export const BUILTIN_ROLES: Readonly<Record<BuiltinRoleName, Role>> = {
  viewer: { name: 'viewer', builtin: true, description: 'reads everything but secrets and the audit trail; manages own API tokens', grants: VIEWER },
  developer: {
    name: 'developer',
    builtin: true,
    description: 'viewer, plus deploy, promote, roll back, run pipelines and change feature flags outside production; propose flag changes anywhere',
    grants: DEVELOPER,
  },
  'release-manager': {
    name: 'release-manager',
    builtin: true,
    description: 'developer, plus deploy, promote, approve (also flag change requests), roll back, change feature flags and use the kill switch in production',
    grants: RELEASE_MANAGER,
  },
  admin: { name: 'admin', builtin: true, description: 'everything, including users, tokens, secrets and settings', grants: [{ permissions: '*' }] },
};

export function isBuiltinRole(name: string): name is BuiltinRoleName {
  return (BUILTIN_ROLE_NAMES as readonly string[]).includes(name);
}

function grantHas(g: Grant, p: Permission): boolean {
  return g.permissions === '*' || g.permissions.includes(p);
}

/** Whether the grant's limits all hold for the resource. */
export function grantCovers(g: Grant, r: Resource): boolean {
  if (g.apps !== undefined && (r.app === undefined || !g.apps.includes(r.app))) return false;
  const envless = r.env === undefined && r.envless === true;
  if (g.envs !== undefined && !envless && (r.env === undefined || !g.envs.includes(r.env))) return false;
  if (g.nonProduction && !envless && !(r.env !== undefined && r.production === false)) return false;
  if (g.own && r.own !== true) return false;
  return true;
}

/** The decision: does any grant of any role give `permission` on `resource`? */
export function can(roles: readonly Role[], permission: Permission, resource: Resource = {}): boolean {
  return roles.some((role) => role.grants.some((g) => grantHas(g, permission) && grantCovers(g, resource)));
}

/** Whether the roles give `permission` anywhere at all (before finding out what a request touches). */
export function canAnywhere(roles: readonly Role[], permission: Permission): boolean {
  return roles.some((role) => role.grants.some((g) => grantHas(g, permission)));
}

/** "app shop, environment production (production)": the scope a 403 names. */
export function describeResource(r: Resource): string {
  const parts: string[] = [];
  if (r.app !== undefined) parts.push(`app ${r.app}`);
  if (r.env !== undefined) parts.push(`environment ${r.env}${r.production === false ? '' : ' (production)'}`);
  else if (!r.envless) parts.push(r.app === undefined ? 'every app and environment' : 'every environment');
  if (r.own === false) parts.push("someone else's");
  return parts.join(', ') || 'no particular app or environment';
}

/** A grant in one line, for listings: "deploy,promote on apps shop, non-production". */
export function describeGrant(g: Grant): string {
  const limits: string[] = [];
  if (g.apps) limits.push(`apps ${g.apps.join(',')}`);
  if (g.envs) limits.push(`envs ${g.envs.join(',')}`);
  if (g.nonProduction) limits.push('non-production');
  if (g.own) limits.push('own');
  const perms = g.permissions === '*' ? '*' : g.permissions.join(',');
  return limits.length ? `${perms} on ${limits.join(', ')}` : perms;
}

export const ROLE_NAME_RE = /^[a-z][a-z0-9-]{0,62}$/;

const ScopeName = z.string().regex(NAME_RE, { message: 'names are lower-case letters, digits and dashes, starting with a letter' });

/** A grant as written in a custom role (API, CLI). */
export const GrantSpec = z
  .object({
    permissions: z.union([z.literal('*'), z.array(z.enum(PERMISSIONS)).min(1).max(PERMISSIONS.length)]),
    apps: z.array(ScopeName).min(1).max(100).optional(),
    envs: z.array(ScopeName).min(1).max(100).optional(),
    nonProduction: z.boolean().optional(),
    own: z.boolean().optional(),
  })
  .strict();
export type GrantSpec = z.infer<typeof GrantSpec>;

export const RoleSpec = z
  .object({
    name: z
      .string()
      .regex(ROLE_NAME_RE, { message: 'role names are lower-case letters, digits and dashes, starting with a letter' })
      .refine((n) => !isBuiltinRole(n), { message: `that is a built-in role (${BUILTIN_ROLE_NAMES.join(', ')}); pick another name` }),
    description: z.string().trim().max(500).default(''),
    grants: z.array(GrantSpec).min(1).max(100),
  })
  .strict();
export type RoleSpec = z.infer<typeof RoleSpec>;
