// Registered APIs (issue 13): a tenant exposes its own resource server with its own scopes; apps
// request them by `<identifier>/<scope>`. Shared by the CLI, the admin API and the admin centre.
// Every change is one transaction with its audit event that announces the catalogue's change
// (each process reloads it); removing a scope or an API first shows its impact, then revokes what
// was granted for it (the grants holding it are revoked, so tokens and refresh tokens die).
import { Conflict, InvalidRequest, InvalidScope, NotFound } from '../core/errors.js';
import { isOwnApi, type PermissionCatalogue, SCOPE_NAME, scopeRequestName } from '../core/permission-catalogue.js';
import type { Impact } from '../core/types.js';
import { apiIdentifierProblem } from '../core/validation.js';
import {
  type ApiRecord,
  type ApiScopeRecord,
  announceCatalogueChange,
  countScopeHolders,
  deleteApi,
  deleteApiScope,
  findApi,
  insertApi,
  insertApiScope,
  listApiScopes,
  listApis,
  lockApi,
  type ScopeUsage,
  scopeUsage,
  updateApiScopeWords,
  withdrawScopes,
} from '../db/apis.js';
import { recordAuditEvent } from '../db/audit-events.js';
import { listPermissions } from '../db/permissions.js';
import { inTransaction, isPgError, PgError, type Pool, type Queryable } from '../db/pool.js';
import { findTenant } from '../db/tenants.js';
import type { Actor } from './directory.js';
import { revokeGrants } from './revocation.js';

export const IMPACTS: readonly Impact[] = ['low', 'medium', 'high'];

export interface ApiScope extends Omit<ApiScopeRecord, 'apiIdentifier'> {
  /** The name apps request it by. */
  scope: string;
}

export interface ApiDetail extends ApiRecord {
  scopes: ApiScope[];
}

/** An API's scopes with who uses them: apps registering each, and how many granted it. */
export interface ApiUsage extends ApiDetail {
  usage: ScopeUsage[];
}

/** What removing a scope or an API would revoke (shown before it is done). */
export interface RemovalImpact {
  identifier: string;
  scopes: string[];
  apps: Array<{ clientId: string; name: string; publisherTenantId: string }>;
  adminConsentTenants: number;
  users: number;
}

export interface NewApiInput {
  tenantId: string;
  name: string;
  identifier: string;
  multiTenant: boolean;
}

export interface NewScopeInput {
  name: string;
  userDescription: string;
  adminDescription?: string;
  adminConsentRequired: boolean;
  impact?: Impact;
}

export class Apis {
  constructor(
    private readonly pool: Pool,
    private readonly catalogue: PermissionCatalogue,
    private readonly issuer: string,
  ) {}

  /** Every API, or the tenant's own; Accord's own APIs are listed with no tenant filter only. */
  async list(tenantId?: string): Promise<ApiDetail[]> {
    const apis = await listApis(this.pool, tenantId);
    return Promise.all(apis.map((api) => this.detail(this.pool, api)));
  }

  /** One API with its scopes and their use, or 404. With `tenantId`, only that tenant's own API. */
  async show(identifier: string, tenantId?: string): Promise<ApiUsage> {
    const api = await this.owned(this.pool, identifier, tenantId);
    const detail = await this.detail(this.pool, api);
    return {
      ...detail,
      usage: await scopeUsage(
        this.pool,
        detail.scopes.map((scope) => scope.scope),
      ),
    };
  }

  async create(input: NewApiInput, actor: Actor): Promise<ApiDetail> {
    const name = input.name.trim();
    if (!name || name.length > 200) throw InvalidRequest('name must be 1–200 characters', { field: 'name' });
    const problem = apiIdentifierProblem(input.identifier, this.issuer);
    if (problem) throw InvalidRequest(problem, { field: 'identifier' });
    const api = await inTransaction(this.pool, async (tx) => {
      if (!(await findTenant(tx, input.tenantId)))
        throw NotFound(`tenant not found: ${input.tenantId}`, { field: 'tenant' });
      let api: ApiRecord;
      try {
        api = await insertApi(tx, { ...input, name });
      } catch (error) {
        if (isPgError(error, PgError.uniqueViolation))
          throw Conflict(`an API with this identifier exists already: ${input.identifier}`, { field: 'identifier' });
        throw error;
      }
      await recordAuditEvent(tx, {
        tenantId: input.tenantId,
        actor,
        action: 'api.created',
        target: api.identifier,
        details: { name, multiTenant: input.multiTenant },
      });
      await announceCatalogueChange(tx);
      return api;
    });
    await this.reload();
    return { ...api, scopes: [] };
  }

  async addScope(identifier: string, input: NewScopeInput, actor: Actor, tenantId?: string): Promise<ApiScope> {
    const scope = checkedScope(input);
    const added = await inTransaction(this.pool, async (tx) => {
      const api = await this.lockOwned(tx, identifier, tenantId);
      let record: ApiScopeRecord;
      try {
        record = await insertApiScope(tx, { apiIdentifier: api.identifier, ...scope });
      } catch (error) {
        if (isPgError(error, PgError.uniqueViolation))
          throw Conflict(`the API has a scope named ${scope.name} already`, { field: 'scope' });
        throw error;
      }
      await recordAuditEvent(tx, {
        tenantId: api.tenantId!,
        actor,
        action: 'api.scope.added',
        target: api.identifier,
        details: { ...scope },
      });
      await announceCatalogueChange(tx);
      return { ...record, scope: scopeRequestName(api.identifier, record.name) };
    });
    await this.reload();
    return withoutApi(added);
  }

  /**
   * Changes a scope's descriptions and impact, audited with what they were; the next consent page
   * shows the new words. The admin flag is not editable: making a user scope admin-only would not
   * take back what users granted, and the reverse would widen what users may grant.
   */
  async editScope(
    identifier: string,
    name: string,
    input: { userDescription?: string; adminDescription?: string; impact?: Impact },
    actor: Actor,
    tenantId?: string,
  ): Promise<ApiScope> {
    const edited = await inTransaction(this.pool, async (tx) => {
      const api = await this.lockOwned(tx, identifier, tenantId);
      const before = (await listApiScopes(tx, api.identifier)).find((scope) => scope.name === name);
      if (!before) throw NotFound(`the API has no scope named ${name}`, { field: 'scope' });
      const after = checkedScope({
        name,
        userDescription: input.userDescription ?? before.userDescription,
        adminDescription: input.adminDescription ?? before.adminDescription,
        adminConsentRequired: before.adminConsentRequired,
        impact: input.impact ?? before.impact,
      });
      const record = (await updateApiScopeWords(tx, { apiIdentifier: api.identifier, ...after }))!;
      await recordAuditEvent(tx, {
        tenantId: api.tenantId!,
        actor,
        action: 'api.scope.edited',
        target: api.identifier,
        details: {
          scope: name,
          before: pick(before),
          after: pick(record),
        },
      });
      await announceCatalogueChange(tx);
      return { ...record, scope: scopeRequestName(api.identifier, record.name) };
    });
    await this.reload();
    return withoutApi(edited);
  }

  /** What removing the scope (or, without `name`, the whole API) would revoke. */
  async removalImpact(identifier: string, name?: string, tenantId?: string): Promise<RemovalImpact> {
    const api = await this.owned(this.pool, identifier, tenantId);
    return impactOf(this.pool, api, await this.scopesToRemove(this.pool, api, name));
  }

  /** Removes a scope: revokes every grant holding it and takes it out of every registration and consent. */
  async removeScope(identifier: string, name: string, actor: Actor, tenantId?: string): Promise<RemovalImpact> {
    const impact = await inTransaction(this.pool, async (tx) => {
      const api = await this.lockOwned(tx, identifier, tenantId);
      const scopes = await this.scopesToRemove(tx, api, name);
      const impact = await impactOf(tx, api, scopes);
      await revokeGrants(tx, await withdrawScopes(tx, scopes));
      await deleteApiScope(tx, api.identifier, name);
      await recordAuditEvent(tx, {
        tenantId: api.tenantId!,
        actor,
        action: 'api.scope.removed',
        target: api.identifier,
        details: summary(impact),
      });
      await announceCatalogueChange(tx);
      return impact;
    });
    await this.reload();
    return impact;
  }

  /** Deletes an API with all its scopes, revoking every grant that held one of them. */
  async delete(identifier: string, actor: Actor, tenantId?: string): Promise<RemovalImpact> {
    const impact = await inTransaction(this.pool, async (tx) => {
      const api = await this.lockOwned(tx, identifier, tenantId);
      const scopes = await this.scopesToRemove(tx, api);
      const impact = await impactOf(tx, api, scopes);
      await revokeGrants(tx, await withdrawScopes(tx, scopes));
      await deleteApi(tx, api.identifier);
      await recordAuditEvent(tx, {
        tenantId: api.tenantId!,
        actor,
        action: 'api.deleted',
        target: api.identifier,
        details: { name: api.name, ...summary(impact) },
      });
      await announceCatalogueChange(tx);
      return impact;
    });
    await this.reload();
    return impact;
  }

  /** Reads the catalogue again into the object every holder shares (after a change made here). */
  async reload(): Promise<void> {
    this.catalogue.replace(await listPermissions(this.pool));
  }

  private async detail(db: Queryable, api: ApiRecord): Promise<ApiDetail> {
    const scopes = await listApiScopes(db, api.identifier);
    return {
      ...api,
      scopes: scopes.map((scope) => withoutApi({ ...scope, scope: scopeRequestName(api.identifier, scope.name) })),
    };
  }

  /** The API, or 404; another tenant's API is answered as one that does not exist. */
  private async owned(db: Queryable, identifier: string, tenantId?: string): Promise<ApiRecord> {
    const api = await findApi(db, identifier);
    if (!api || (tenantId !== undefined && api.tenantId !== tenantId))
      throw NotFound(`API not found: ${identifier}`, { field: 'identifier' });
    return api;
  }

  /** The API locked for a change; Accord's own APIs are part of the server and not changed here. */
  private async lockOwned(tx: Queryable, identifier: string, tenantId?: string): Promise<ApiRecord> {
    const api = await lockApi(tx, identifier);
    if (!api || (tenantId !== undefined && api.tenantId !== tenantId))
      throw NotFound(`API not found: ${identifier}`, { field: 'identifier' });
    if (isOwnApi(api.identifier) || api.tenantId === null)
      throw InvalidRequest(`${api.name} is part of Accord and cannot be changed`, { field: 'identifier' });
    return api;
  }

  private async scopesToRemove(db: Queryable, api: ApiRecord, name?: string): Promise<string[]> {
    const scopes = await listApiScopes(db, api.identifier);
    if (name === undefined) return scopes.map((scope) => scopeRequestName(api.identifier, scope.name));
    if (!scopes.some((scope) => scope.name === name))
      throw NotFound(`the API has no scope named ${name}`, { field: 'scope' });
    return [scopeRequestName(api.identifier, name)];
  }
}

function checkedScope(input: NewScopeInput): Omit<ApiScopeRecord, 'apiIdentifier'> {
  if (!SCOPE_NAME.test(input.name))
    throw InvalidScope(
      'scope name must be a letter, then up to 99 letters, digits, dots, underscores or hyphens (no spaces or slashes)',
      { field: 'scope' },
    );
  const userDescription = input.userDescription.trim();
  const adminDescription = (input.adminDescription ?? input.userDescription).trim();
  for (const [field, text] of [
    ['description', userDescription],
    ['admin_description', adminDescription],
  ] as const) {
    if (!text || text.length > 300) throw InvalidRequest(`${field} must be 1–300 characters`, { field });
  }
  const impact = input.impact ?? (input.adminConsentRequired ? 'high' : 'low');
  if (!IMPACTS.includes(impact)) throw InvalidRequest('impact must be low, medium or high', { field: 'impact' });
  return {
    name: input.name,
    userDescription,
    adminDescription,
    adminConsentRequired: input.adminConsentRequired,
    impact,
  };
}

async function impactOf(db: Queryable, api: ApiRecord, scopes: string[]): Promise<RemovalImpact> {
  const [usage, holders] = await Promise.all([scopeUsage(db, scopes), countScopeHolders(db, scopes)]);
  const apps = new Map(usage.flatMap((entry) => entry.apps).map((app) => [app.clientId, app]));
  return { identifier: api.identifier, scopes, apps: [...apps.values()], ...holders };
}

function summary(impact: RemovalImpact) {
  return {
    scopes: impact.scopes,
    apps: impact.apps.map((app) => app.clientId),
    adminConsentTenants: impact.adminConsentTenants,
    users: impact.users,
  };
}

function pick(scope: Pick<ApiScopeRecord, 'userDescription' | 'adminDescription' | 'impact'>) {
  return { userDescription: scope.userDescription, adminDescription: scope.adminDescription, impact: scope.impact };
}

function withoutApi(scope: ApiScopeRecord & { scope: string }): ApiScope {
  const { apiIdentifier: _omitted, ...rest } = scope;
  return rest;
}
