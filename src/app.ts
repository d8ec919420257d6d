// buildApp(config, deps) → a ready Fastify instance with oidc-provider mounted inside it.
// What the server and the tests start.

import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import formbody from '@fastify/formbody';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type Provider from 'oidc-provider';
import type { Config } from './config.js';
import { type Clock, systemClock } from './core/clock.js';
import { DatabaseUnavailable, RETRY_AFTER_SECONDS } from './core/errors.js';
import { absoluteResource, type PermissionCatalogue } from './core/permission-catalogue.js';
import { HEARTBEAT_SECONDS } from './core/server-liveness.js';
import { rememberDpopProof } from './db/dpop-proofs.js';
import { type Pool, ping } from './db/pool.js';
import { countHit } from './db/rate-limits.js';
import { removeInstance, type ServerInstance, touchInstance } from './db/server-instances.js';
import { loadServerSecret } from './db/server-secrets.js';
import { errorsPlugin } from './plugins/errors.js';
import { i18nPlugin } from './plugins/i18n.js';
import { loggerOptions } from './plugins/log-redaction.js';
import type { AccessTokenInfo } from './plugins/resource-server.js';
import { securityPlugin } from './plugins/security.js';
import { createEta, pageRenderer, viewsDir, viewsPlugin } from './plugins/views.js';
import { introspectAccessTokens } from './provider/access-token-introspection.js';
import { accountClaims, createProvider, resourceIndicators } from './provider/create-provider.js';
import { GrantSync } from './provider/grant-sync.js';
import { observeGrantUse } from './provider/grant-use-observer.js';
import { createLocalKeyResolver } from './provider/local-jwks.js';
import { outageDuring } from './provider/outage.js';
import { protocolServerFactory } from './provider/protocol-server.js';
import { consentReadsOncePerRequest } from './provider/request-memo.js';
import { userinfoForApiTokens } from './provider/userinfo-for-api-tokens.js';
import { adminApiRoutes } from './routes/admin-api/index.js';
import { adminCentreRoutes } from './routes/admin-centre/index.js';
import { SecretReveal } from './routes/admin-centre/secret-reveal.js';
import { adminConsentRoutes } from './routes/admin-consent.js';
import { dataApiRoutes } from './routes/data-api.js';
import { healthRoutes } from './routes/health.js';
import { interactionRoutes } from './routes/interaction.js';
import { landingRoutes } from './routes/landing.js';
import { myAppsRoutes } from './routes/my-apps.js';
// Portal sign-in, admin consent and My apps (first-party pages on the provider's SSO session).
import { PortalSession, portalClientMetadata, portalSessionRoutes } from './routes/portal-session.js';
import { Apis } from './services/apis.js';
import { clientSecretMatches } from './services/client-secrets.js';
import { ConsentPolicies } from './services/consent-policies.js';
import { ConsentPolicyCache } from './services/consent-policy-cache.js';
import { ConsentRequests } from './services/consent-requests.js';
import { Consents } from './services/consents.js';
import { Directory } from './services/directory.js';
import { DirectoryReads } from './services/directory-reads.js';
import { EnterpriseApps } from './services/enterprise-apps.js';
import { GrantLifecycle } from './services/grant-lifecycle.js';
import { GrantLiveness } from './services/grant-liveness.js';
import { GrantUseRecorder } from './services/grant-use.js';
import { IntegratedAppsPreview } from './services/integrated-apps-preview.js';
import { MyApps } from './services/my-apps.js';
import { loadPermissionCatalogue } from './services/permission-catalogue.js';
import { SampleData } from './services/sample-data.js';
import { loadSigningKeys } from './services/signing-keys.js';

export interface AppDeps {
  pool: Pool;
  /** The time grant expiry, review dates and last use are judged by (tests move it; issue 15). */
  clock?: Clock;
}

export interface Accord {
  app: FastifyInstance;
  provider: Provider;
  services: {
    consent: Consents;
    grants: GrantSync;
    consentRequests: ConsentRequests;
    catalogue: PermissionCatalogue;
    apis: Apis;
    consentPolicies: ConsentPolicies;
    grantLifecycle: GrantLifecycle;
    grantUse: GrantUseRecorder;
  };
  /**
   * The start of a graceful shutdown: from now on /readyz answers 503, so that load balancers
   * send no new requests, while every request that still arrives is served as before.
   */
  drain(): void;
}

/** Request bodies larger than this are refused with 413 (forms and API payloads are small). */
export const BODY_LIMIT_BYTES = 64 * 1024;

/**
 * oidc-provider as Accord configures it, with what it is built from: keys, secrets and the
 * permission catalogue read from the database. (The benchmarks serve it bare to measure the wrapper.)
 */
export async function configuredProvider(
  config: Config,
  pool: Pool,
  instance?: ServerInstance,
  clock: Clock = systemClock,
) {
  const [jwks, cookieKey, clientSecretKey, catalogue] = await Promise.all([
    loadSigningKeys(pool, instance),
    loadServerSecret(pool, 'cookie_key'),
    loadServerSecret(pool, 'client_secret_key'),
    loadPermissionCatalogue(pool),
  ]);
  // The consent decision reads each row once per provider request, as the provider's own hooks do.
  // Each tenant's classifications and consent policies, kept in memory (services/consent-policy-cache.ts).
  const consentPolicyCache = new ConsentPolicyCache(pool);
  const consent = new Consents(
    pool,
    catalogue,
    consentReadsOncePerRequest(pool, clock),
    (tenantId) => consentPolicyCache.forTenant(tenantId),
    clock,
  );
  const grants = new GrantSync(pool, consent, catalogue, config.issuer, clock);
  const eta = createEta();
  const provider = createProvider(config, {
    pool,
    jwks,
    cookieKeys: [cookieKey],
    catalogue,
    consent,
    grants,
    renderPage: pageRenderer(eta),
    portalClient: portalClientMetadata(config.issuer),
    clientSecretMatches: (presented, storedHash) => clientSecretMatches(presented, storedHash, clientSecretKey),
    clock,
  });
  return { provider, catalogue, consent, grants, eta, cookieKey, consentPolicyCache };
}

export async function buildApp(config: Config, deps: AppDeps): Promise<Accord> {
  const { pool } = deps;
  const clock = deps.clock ?? systemClock;
  // This process as `accord keys rotate` sees it: which keys it publishes, and that it is alive.
  const instance: ServerInstance = { id: crypto.randomUUID(), description: `${os.hostname()} pid ${process.pid}` };
  const { provider, catalogue, consent, grants, eta, cookieKey, consentPolicyCache } = await configuredProvider(
    config,
    pool,
    instance,
    clock,
  );
  const app = Fastify({
    // Never a query string, credential, cookie or token in the log (plugins/log-redaction.ts).
    logger: loggerOptions(config.logLevel),
    bodyLimit: BODY_LIMIT_BYTES,
    trustProxy: config.trustProxy,
    genReqId: () => crypto.randomUUID(),
    requestIdHeader: false,
    routerOptions: { maxParamLength: 200 },
    // During a graceful shutdown, requests that still arrive on open keep-alive connections are
    // served (with `Connection: close`) rather than refused with Fastify's own 503.
    return503OnClosing: false,
    // The provider's endpoints are served by the server itself, ahead of Fastify's router.
    serverFactory: protocolServerFactory(provider, (): FastifyBaseLogger => app.log),
  });

  provider.on('server_error', (ctx, error) => {
    // An outage that reached the provider some other way is still retryable (503), not a fault.
    if (error instanceof DatabaseUnavailable) {
      ctx.status = 503;
      if (typeof ctx.body === 'object') ctx.body = { error: error.code, error_description: error.description };
      app.log.warn({ err: error }, 'database unavailable');
      return;
    }
    app.log.error({ err: error }, 'oidc-provider server error');
  });

  const secureCookies = config.issuer.startsWith('https:');
  const consentRequests = new ConsentRequests(pool, consent, catalogue, config.consentRequestTtlDays);
  const directory = new Directory(pool, catalogue);
  const directoryReads = new DirectoryReads(pool);
  const enterpriseApps = new EnterpriseApps(pool);
  const myApps = new MyApps(pool, catalogue);
  const stylesheet = await readFile(path.join(viewsDir, 'assets/accord.css'), 'utf8');

  // Accord's own resource servers verify tokens with the issuer's keys read from the database.
  const resources = resourceIndicators(config.issuer);
  const keys = await createLocalKeyResolver(pool);
  // The revocation check per request, cached in this process and invalidated by the database.
  const apis = new Apis(pool, catalogue, config.issuer);
  const grantLiveness = new GrantLiveness(pool, {
    log: app.log,
    // The catalogue is cached in this process and read again whenever any process changes it.
    onCatalogueChanged: () =>
      void apis.reload().catch((error: unknown) => app.log.warn({ err: error }, 'could not reload the catalogue')),
    onConsentPoliciesChanged: (tenantId) => consentPolicyCache.forget(tenantId),
    // A grant holds an API's scopes by their request names; the API's tokens carry its own names.
    tokenScopeName: (scope) => catalogue.get(scope)?.name ?? scope,
  });
  const consentPolicies = new ConsentPolicies(pool, catalogue, (tenantId) => consentPolicyCache.forget(tenantId));
  const consentPreview = new IntegratedAppsPreview(pool, catalogue);
  app.addHook('onReady', () => grantLiveness.start());
  app.addHook('onClose', () => grantLiveness.close());
  // Last use of grants: noted as tokens are issued, written in batches and once more at close.
  const grantUse = new GrantUseRecorder(pool, clock, app.log);
  observeGrantUse(provider, pool, catalogue, grantUse);
  app.addHook('onReady', async () => grantUse.start());
  app.addHook('onClose', () => grantUse.close());
  const grantLifecycle = new GrantLifecycle(pool, catalogue, clock);
  const heartbeat = setInterval(() => {
    touchInstance(pool, instance.id).catch((error: unknown) =>
      app.log.warn({ err: error }, 'could not record this server as alive'),
    );
  }, HEARTBEAT_SECONDS * 1000).unref();
  app.addHook('onClose', async () => {
    clearInterval(heartbeat);
    await removeInstance(pool, instance.id).catch((error: unknown) =>
      app.log.warn({ err: error }, 'could not record this server as stopped'),
    );
  });
  // Every registered API's resource indicator, as the catalogue holds them now.
  const apiAudiences = () => catalogue.apis.map((api) => absoluteResource(config.issuer, api.identifier));
  // RFC 7662 for JWT access tokens, with the same checks as the resource servers below.
  const answerIntrospection = introspectAccessTokens({
    issuer: config.issuer,
    audiences: apiAudiences,
    keys,
    isRevoked: (token) => grantLiveness.isRevoked(token),
    isResourceServerFor: async (callerId, audience) => {
      const api = catalogue.apis.find((api) => absoluteResource(config.issuer, api.identifier) === audience);
      if (!api?.ownerTenantId) return false;
      return (await directoryReads.findApp(callerId))?.publisherTenantId === api.ownerTenantId;
    },
  });
  // UserInfo for the access token of any OpenID request, an API's JWT among them (OIDC Core §5.3).
  const answerUserinfo = userinfoForApiTokens({
    issuer: config.issuer,
    audiences: apiAudiences,
    keys,
    isRevoked: (token) => grantLiveness.isRevoked(token),
    accountClaims: (sub) => accountClaims(pool, sub),
  });
  // What Accord does once the provider has answered: the two answers above in place of its
  // refusals, and a database outage (answered by the provider as temporarily_unavailable,
  // provider/outage.ts) logged once, with a 503 that says when to retry. One middleware, not one
  // each: every protocol request passes through it (bench/README.md, issue 17). Registered before
  // the first request, when Koa composes the provider's middleware.
  provider.use(async (ctx, next) => {
    await next();
    const route = ctx.oidc?.route;
    if (route === 'introspection') await answerIntrospection(ctx);
    else if (route === 'userinfo') await answerUserinfo(ctx);
    const outage = outageDuring(ctx);
    if (outage) app.log.warn({ err: outage }, 'database unavailable');
    if (ctx.status === 503) ctx.set('retry-after', String(RETRY_AFTER_SECONDS));
  });
  const tokenOptions = (audience: string) => ({
    issuer: config.issuer,
    audience,
    keys,
    isRevoked: (token: AccessTokenInfo) => grantLiveness.isRevoked(token),
    rememberProof: (key: string, expiresAt: number) => rememberDpopProof(pool, key, expiresAt),
  });

  await app.register(errorsPlugin);
  await app.register(viewsPlugin, { eta });
  // Every page in the reader's language (Accept-Language; the interaction pages follow ui_locales).
  await app.register(i18nPlugin);
  await app.register(formbody, { bodyLimit: BODY_LIMIT_BYTES });

  // The hot paths — health and the data API (the protocol endpoints never reach Fastify) — stay
  // outside the pages' scope below: no cookie, CSRF or page-header hooks run for them.
  let draining = false;
  await app.register(healthRoutes, { checkDatabase: () => ping(pool), isDraining: () => draining });
  await app.register(dataApiRoutes, {
    prefix: '/data/v1',
    sampleData: new SampleData(pool),
    resourceServer: tokenOptions(resources.data),
  });

  // Pages, and the admin API with its browsable docs: security headers, cookies, CSRF, rate
  // limits. Portal sign-in, admin consent, My apps and the admin centre sign people in through the
  // provider's own session (an Accord account, never a separate password).
  await app.register(async (pages) => {
    await pages.register(securityPlugin, {
      cookieSecret: cookieKey,
      secureCookies,
      countHit: (key, windowMs) => countHit(pool, key, windowMs),
    });
    pages.get('/assets/accord.css', async (_request, reply) =>
      reply.type('text/css; charset=utf-8').header('cache-control', 'public, max-age=3600').send(stylesheet),
    );
    await pages.register(interactionRoutes, {
      pool,
      provider,
      consent,
      grants,
      consentRequests,
      directoryReads,
      catalogue,
      signInRateLimit: config.signInRateLimit,
    });
    await pages.register(adminApiRoutes, {
      prefix: '/api/v1',
      pool,
      directory,
      enterpriseApps,
      consentRequests,
      myApps,
      apis,
      consentPolicies,
      consentPreview,
      grantLifecycle,
      resourceServer: tokenOptions(resources.admin),
    });
    const portal = new PortalSession({ provider, pool, issuer: config.issuer, secureCookies, keys });
    await pages.register(portalSessionRoutes, { portal, issuer: config.issuer });
    await pages.register(landingRoutes, { portal, issuer: config.issuer });
    await pages.register(adminConsentRoutes, { directoryReads, portal, consent, catalogue });
    await pages.register(myAppsRoutes, { portal, myApps, catalogue });
    await pages.register(adminCentreRoutes, {
      pool,
      portal,
      directory,
      consentRequests,
      catalogue,
      preview: consentPreview,
      consentPolicies,
      enterpriseApps,
      secretReveal: new SecretReveal(cookieKey, secureCookies),
      apis,
      grantLifecycle,
    });
  });

  return {
    app,
    provider,
    services: { consent, grants, consentRequests, catalogue, apis, consentPolicies, grantLifecycle, grantUse },
    drain: () => {
      draining = true;
    },
  };
}
