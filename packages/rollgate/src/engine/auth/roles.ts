/** Role names to role definitions: the built-in ones (core/authz.ts) and the custom ones in the store. */
import { BUILTIN_ROLES, isBuiltinRole, type Grant, type Role } from '../../core/authz.js';
import { RollgateError } from '../../core/errors.js';
import type { CustomRoleRecord } from '../../store/auth-types.js';
import type { Store } from '../../store/types.js';

export function customRole(r: CustomRoleRecord): Role {
  return { name: r.name, description: r.description, builtin: false, grants: r.grants as Grant[] };
}

export class RoleBook {
  constructor(private readonly store: Store) {}

  /** Definitions of the named roles; names that no longer exist are skipped. */
  async resolve(names: readonly string[]): Promise<Role[]> {
    const out: Role[] = [];
    for (const n of new Set(names)) {
      if (isBuiltinRole(n)) out.push(BUILTIN_ROLES[n]);
      else {
        const r = await this.store.auth.getRole(n);
        if (r) out.push(customRole(r));
      }
    }
    return out;
  }

  /** Built-in roles first, then custom ones by name. */
  async list(): Promise<Role[]> {
    return [...Object.values(BUILTIN_ROLES), ...(await this.store.auth.listRoles()).map(customRole)];
  }

  /** invalid_input naming the roles that do not exist. */
  async checkExist(names: readonly string[], where = 'roles'): Promise<void> {
    const unknown: string[] = [];
    for (const n of names) if (!isBuiltinRole(n) && !(await this.store.auth.getRole(n))) unknown.push(n);
    if (unknown.length) {
      const known = (await this.list()).map((r) => r.name);
      throw new RollgateError('invalid_input', `${where}: no role ${unknown.map((n) => `"${n}"`).join(', ')}; roles are ${known.join(', ')}`);
    }
  }
}
