// The permission catalogue as lookups: which scopes exist, which resource each belongs to, and
// which need an admin.
import type { Permission } from './types.js';

export type ResourceName = 'openid' | 'data' | 'admin';

export class PermissionCatalogue {
  private readonly byScope: Map<string, Permission>;

  constructor(readonly permissions: readonly Permission[]) {
    this.byScope = new Map(permissions.map((permission) => [permission.scope, permission]));
  }

  has(scope: string): boolean {
    return this.byScope.has(scope);
  }

  get(scope: string): Permission | undefined {
    return this.byScope.get(scope);
  }

  adminConsentRequired = (scope: string): boolean => this.byScope.get(scope)?.adminConsentRequired ?? true;

  resourceOf(scope: string): ResourceName | undefined {
    return this.byScope.get(scope)?.resource as ResourceName | undefined;
  }

  scopesOf(resource: ResourceName): string[] {
    return this.permissions
      .filter((permission) => permission.resource === resource)
      .map((permission) => permission.scope);
  }

  /** Scopes not in the catalogue, in the order given. */
  unknown(scopes: readonly string[]): string[] {
    return scopes.filter((scope) => !this.byScope.has(scope));
  }

  /** Catalogue order, so pages list permissions the same way every time. */
  sort(scopes: Iterable<string>): string[] {
    const wanted = new Set(scopes);
    return this.permissions.filter((permission) => wanted.has(permission.scope)).map((permission) => permission.scope);
  }
}
