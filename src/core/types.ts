// The consent domain's vocabulary: plain data shared by the core, the database and the routes.
//
// Glossary
// - tenant: an organisation. Every user belongs to exactly one; the signed-in user's tenant
//   decides every consent question, and tokens carry it in the `tid` claim.
// - user: a person signing in as `username@tenant`, with the role `user` or `admin` in their tenant.
// - app: a registered OAuth client. It is published by one tenant and is either single-tenant
//   (usable only in its publisher's tenant) or multi-tenant (usable in any tenant).
// - permission: a scope on a resource (`User.Read` on the data API), described once for users and
//   once for admins, and flagged when only an admin may consent to it (an admin permission).
// - grant: the set of permissions an app holds, either for one user or for a whole tenant.
// - user consent: a user letting an app reach their own data; recorded as that user's grant.
// - admin consent: a tenant admin granting permissions to an app for everyone in the tenant;
//   recorded as the tenant-wide grant, after which nobody in the tenant is asked again.
// - interaction: one login or consent step inside an authorization request, between oidc-provider
//   sending the browser to `/interaction/:uid` and the flow resuming.
// - Integrated Apps: the tenant setting saying whether its users may consent to apps themselves.
//   Turning it off stops new user consent only; grants already made keep working.

/** A user's role in their own tenant. */
export type Role = 'user' | 'admin';

/**
 * An app's state in one tenant: never configured by its admin, consented to tenant-wide by an
 * admin, or blocked (disabled or removed) by an admin.
 */
export type AppTenantState = 'unconfigured' | 'admin_consented' | 'blocked';

/** How much a permission reaches, as its API's owner classes it. */
export type Impact = 'low' | 'medium' | 'high';

/** One entry of the permission catalogue: an OpenID scope or a scope of a registered API. */
export interface Permission {
  /** The name apps request it by: `<api identifier>/<name>`, or the short name for Accord's own APIs. */
  scope: string;
  /** The API's identifier (relative to the issuer for Accord's own APIs), or `openid`. */
  resource: string;
  /** The scope's own name within its API (the access token's `scope` carries these). */
  name: string;
  userDescription: string;
  adminDescription: string;
  adminConsentRequired: boolean;
  impact: Impact;
  /** The API it belongs to; absent for the OpenID scopes. */
  api?: ApiSummary;
}

/** What the catalogue knows of a registered API (a resource server, RFC 8707). */
export interface ApiSummary {
  /** An https:// or api:// URI; for Accord's own APIs a path relative to the issuer (`/data/v1`). */
  identifier: string;
  name: string;
  /** The owner tenant; null for Accord's own APIs. */
  ownerTenantId: string | null;
  /** Whether users of other tenants may be granted its scopes. */
  multiTenant: boolean;
  /** The resource a request gets when its scopes name no API. */
  defaultResource: boolean;
}
