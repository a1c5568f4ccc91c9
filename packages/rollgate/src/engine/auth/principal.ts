/** Who is making a request, once authenticated: the user, how, and the roles in force. */
import type { Role } from '../../core/authz.js';

export interface Principal {
  /** `user:<name>`: what events, runs and the audit trail record as the actor. */
  actor: string;
  user: { id: string; name: string };
  via: 'token' | 'session';
  /** The token used (via 'token'). */
  token?: { id: string; roles: string[] | null; expiresAt: string | null };
  /** The session used (via 'session'). */
  session?: { idHash: string; csrfHash: string; expiresAt: string };
  /** Role names in force: the user's, narrowed by the token's. */
  roleNames: string[];
  /** Their definitions (unknown names, e.g. a deleted custom role, are left out). */
  roles: Role[];
}

export function actorOf(userName: string): string {
  return `user:${userName}`;
}

/**
 * The roles a token acts with: the user's, narrowed to the token's list when it has one. A
 * user who lost a role loses it on every token too; an admin's token keeps what it was given.
 */
export function effectiveRoleNames(userRoles: readonly string[], tokenRoles: readonly string[] | null): string[] {
  if (tokenRoles === null) return [...userRoles];
  if (userRoles.includes('admin')) return [...tokenRoles];
  return tokenRoles.filter((r) => userRoles.includes(r));
}
