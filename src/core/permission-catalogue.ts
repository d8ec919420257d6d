// The permission catalogue as lookups: the OpenID scopes and every registered API's scopes, which
// API (resource) each belongs to, which need an admin, and how each is named in a request.
//
// Naming (issue 13): a scope of a registered API is requested as `<identifier>/<scope>`. Accord's
// own APIs (identifiers relative to the issuer, owned by no tenant) keep their short names, so
// `User.Read` still names the sample data API's scope.
import type { ApiSummary, Permission } from './types.js';

export type { ApiSummary };

/** The pseudo-resource of the OpenID scopes: they reach no API. */
export const OPENID_RESOURCE = 'openid';

/** A scope's short name: a letter, then letters, digits, dots, underscores or hyphens. */
export const SCOPE_NAME = /^[A-Za-z][A-Za-z0-9._-]{0,99}$/;

/** Whether the API is one of Accord's own (its identifier is a path relative to the issuer). */
export function isOwnApi(identifier: string): boolean {
  return identifier.startsWith('/');
}

/** How a scope of an API is named in requests, app registrations and grants. */
export function scopeRequestName(apiIdentifier: string, name: string): string {
  return isOwnApi(apiIdentifier) ? name : `${apiIdentifier}/${name}`;
}

/** An API's resource indicator (RFC 8707) as tokens carry it in `aud`. */
export function absoluteResource(issuer: string, apiIdentifier: string): string {
  return isOwnApi(apiIdentifier) ? `${issuer}${apiIdentifier}` : apiIdentifier;
}

export class PermissionCatalogue {
  private byScope = new Map<string, Permission>();
  private apiByIdentifier = new Map<string, ApiSummary>();
  private list: readonly Permission[] = [];

  constructor(permissions: readonly Permission[]) {
    this.replace(permissions);
  }

  /**
   * Swaps in a newer catalogue read from the database. Holders of this object (the provider, the
   * services) see the new one from their next lookup: the catalogue is cached per process and
   * reloaded when it changes (services/api-catalogue.ts).
   */
  replace(permissions: readonly Permission[]): void {
    this.list = permissions;
    this.byScope = new Map(permissions.map((permission) => [permission.scope, permission]));
    this.apiByIdentifier = new Map(
      permissions.flatMap((permission) => (permission.api ? [[permission.api.identifier, permission.api]] : [])),
    );
  }

  get permissions(): readonly Permission[] {
    return this.list;
  }

  has(scope: string): boolean {
    return this.byScope.has(scope);
  }

  get(scope: string): Permission | undefined {
    return this.byScope.get(scope);
  }

  adminConsentRequired = (scope: string): boolean => this.byScope.get(scope)?.adminConsentRequired ?? true;

  /** The API identifier the scope belongs to (as stored, relative for Accord's own), or `openid`. */
  resourceOf(scope: string): string | undefined {
    return this.byScope.get(scope)?.resource;
  }

  /** The APIs that have scopes, in catalogue order. */
  get apis(): ApiSummary[] {
    return [...this.apiByIdentifier.values()];
  }

  api(identifier: string): ApiSummary | undefined {
    return this.apiByIdentifier.get(identifier);
  }

  /** The API a request gets when its scopes name none. */
  get defaultApi(): ApiSummary | undefined {
    return this.apis.find((api) => api.defaultResource);
  }

  /** The request names of a resource's scopes (`openid` for the OpenID scopes), in catalogue order. */
  scopesOf(resource: string): string[] {
    return this.list.filter((permission) => permission.resource === resource).map((permission) => permission.scope);
  }

  /** The APIs the scopes belong to, in the order the scopes name them first. */
  apisOf(scopes: Iterable<string>): string[] {
    const found = new Set<string>();
    for (const scope of scopes) {
      const resource = this.resourceOf(scope);
      if (resource && resource !== OPENID_RESOURCE) found.add(resource);
    }
    return [...found];
  }

  /**
   * Whether a user of `tenantId` may be granted the scope: an API that is not multi-tenant serves
   * its owner tenant's users only.
   */
  availableTo(scope: string, tenantId: string): boolean {
    const permission = this.byScope.get(scope);
    if (!permission) return false;
    const api = permission.api;
    return !api || api.multiTenant || api.ownerTenantId === tenantId;
  }

  /** Scopes not in the catalogue, in the order given. */
  unknown(scopes: readonly string[]): string[] {
    return scopes.filter((scope) => !this.byScope.has(scope));
  }

  /** Catalogue order, so pages list permissions the same way every time. */
  sort(scopes: Iterable<string>): string[] {
    const wanted = new Set(scopes);
    return this.list.filter((permission) => wanted.has(permission.scope)).map((permission) => permission.scope);
  }

  /**
   * The scopes grouped by API in catalogue order (the OpenID scopes first, with no API), for pages
   * that show each API's own words and owner.
   */
  groupByApi(scopes: Iterable<string>): Array<{ api: ApiSummary | undefined; permissions: Permission[] }> {
    const groups = new Map<string, { api: ApiSummary | undefined; permissions: Permission[] }>();
    for (const scope of this.sort(scopes)) {
      const permission = this.byScope.get(scope)!;
      const group = groups.get(permission.resource) ?? { api: permission.api, permissions: [] };
      group.permissions.push(permission);
      groups.set(permission.resource, group);
    }
    return [...groups.values()];
  }
}
