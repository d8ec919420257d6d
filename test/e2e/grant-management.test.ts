// Issue 15, OpenID Grant Management for OAuth 2.0 (draft 03; docs/consent.md, "Grant
// Management"), end to end with openid-client as the app: grant_id in the token response, the
// create, merge and replace actions at /auth and PAR, query and revoke at the grant management
// endpoint, and the refusals.
import * as oidc from 'openid-client';
import t from 'tap';
import { Browser, pageName } from '../support/browser.js';
import {
  appRedirect,
  exchangeCode,
  fullFlow,
  REDIRECT_URI,
  registerApp,
  signInOnPage,
  startAuthorization,
  type TestApp,
} from '../support/flows.js';
import { PASSWORD, seedPeople } from '../support/people.js';
import { startTestServer } from '../support/server.js';

const server = await startTestServer({
  SIGN_IN_RATE_LIMIT: '1000',
  ...(process.env.TEST_LOG ? { LOG_LEVEL: 'error' } : {}),
});
t.teardown(() => server.close());
const { directory, pool } = server;

const as = await seedPeople(directory, [
  ['contoso', 'alice', 'user'],
  ['contoso', 'bob', 'user'],
  ['fabrikam', 'carol', 'user'],
]);
const SCOPES = ['openid', 'profile', 'User.Read', 'Calendars.Read', 'Files.Read'];
const planner = await registerApp(server, { tenant: 'fabrikam', name: 'Vendor Planner', scopes: SCOPES });
const other = await registerApp(server, { tenant: 'fabrikam', name: 'Other App', scopes: SCOPES });

const endpoint = () => String(planner.config.serverMetadata().grant_management_endpoint);
const scopesOf = (scope: string | undefined) => (scope ?? '').split(' ').filter(Boolean).sort();

/** The app's own token for the grant management endpoint (client credentials). */
async function managementToken(app: TestApp, scope = 'grant_management_query grant_management_revoke') {
  return (await oidc.clientCredentialsGrant(app.config, { scope })).access_token;
}

/** The endpoint's answer; openid-client throws a 401 or 403 with its challenge, whose response is the answer. */
async function grantEndpoint(app: TestApp, method: 'GET' | 'DELETE', grantId: string, token?: string) {
  return oidc
    .fetchProtectedResource(
      app.config,
      token ?? (await managementToken(app)),
      new URL(`${endpoint()}/${encodeURIComponent(grantId)}`),
      method,
    )
    .catch((error: unknown) => {
      if (error instanceof oidc.WWWAuthenticateChallengeError) return error.response;
      throw error;
    });
}

/** The grant's scopes as the endpoint answers them, flattened and sorted. */
async function queried(grantId: string): Promise<string[]> {
  const response = await grantEndpoint(planner, 'GET', grantId);
  if (response.status !== 200) throw new Error(`query answered ${response.status}`);
  const body = (await response.json()) as { scopes: Array<{ scope: string }> };
  return body.scopes.flatMap((entry) => entry.scope.split(' ')).sort();
}

async function dataApi(accessToken: string): Promise<number> {
  const response = await fetch(`${server.url}/data/v1/me`, { headers: { authorization: `Bearer ${accessToken}` } });
  return response.status;
}

/** One authorization (signing in, accepting consent when asked) and its code exchange. */
async function authorize(user: string, params: Record<string, string>, browser: Browser, app = planner) {
  const flow = await fullFlow(server, app, as(user), params, browser);
  const tokens = await exchangeCode(app, flow.callback, flow.auth);
  return { ...flow, tokens, grantId: String(tokens.grant_id) };
}

t.test('discovery names the endpoint and the actions', async (t) => {
  const metadata = planner.config.serverMetadata();
  t.equal(metadata.grant_management_endpoint, `${server.url}/grants`);
  t.same(metadata.grant_management_actions_supported, ['query', 'revoke', 'create', 'merge', 'replace']);
});

t.test('query, create, merge, replace and revoke, each for the app that owns the grant', async (t) => {
  const browser = new Browser(server.url);
  const first = await authorize('alice@contoso', { scope: 'openid User.Read' }, browser);
  t.match(first.grantId, /^[\w-]{10,}$/, 'the token response carries grant_id');
  t.same(await queried(first.grantId), ['User.Read', 'openid'], 'query answers what the grant holds');

  const created = await authorize(
    'alice@contoso',
    { scope: 'openid Files.Read', grant_management_action: 'create' },
    browser,
  );
  t.ok(created.consentShown, 'Files.Read was not granted before: the consent page asks for it');
  t.not(created.grantId, first.grantId, 'create makes a new grant');
  t.same(scopesOf(created.tokens.scope), ['Files.Read']);
  t.same(await queried(created.grantId), ['Files.Read', 'openid'], 'the new grant holds what this request asked for');

  const merged = await authorize(
    'alice@contoso',
    { scope: 'openid Calendars.Read', grant_management_action: 'merge', grant_id: created.grantId },
    browser,
  );
  t.equal(merged.grantId, created.grantId, 'merge keeps the grant');
  t.same(await queried(created.grantId), ['Calendars.Read', 'Files.Read', 'openid'], 'and adds to it');

  const replaced = await authorize(
    'alice@contoso',
    { scope: 'openid User.Read', grant_management_action: 'replace', grant_id: created.grantId },
    browser,
  );
  t.notOk(replaced.consentShown, 'User.Read was granted before: no page');
  t.equal(replaced.grantId, created.grantId);
  t.same(await queried(created.grantId), ['User.Read', 'openid'], 'replace holds what this request asked for only');

  // The grant's tokens work until it is revoked; the user's other grant with the app is left alone.
  t.equal(await dataApi(replaced.tokens.access_token), 200);
  const revoked = await grantEndpoint(planner, 'DELETE', created.grantId);
  t.equal(revoked.status, 204);
  t.equal(await dataApi(replaced.tokens.access_token), 401, 'its access token is refused at the next request');
  t.equal((await grantEndpoint(planner, 'GET', created.grantId)).status, 404, 'it is gone');
  const again = await authorize('alice@contoso', { scope: 'openid User.Read' }, browser);
  t.equal(again.grantId, first.grantId, "the user's own grant is still there");
  t.equal(await dataApi(again.tokens.access_token), 200, 'and its tokens work');
  const { rows } = await pool.query(`SELECT details FROM audit_events WHERE action = 'grant.revoked' AND target = $1`, [
    planner.clientId,
  ]);
  t.equal(rows.length, 1, 'the revocation is audited');
});

t.test("revoking the user's grant revokes the grants created under it", async (t) => {
  const browser = new Browser(server.url);
  const main = await authorize('bob@contoso', { scope: 'openid User.Read' }, browser);
  const created = await authorize(
    'bob@contoso',
    { scope: 'openid User.Read', grant_management_action: 'create' },
    browser,
  );
  t.not(created.grantId, main.grantId);
  t.equal((await grantEndpoint(planner, 'DELETE', main.grantId)).status, 204);
  t.equal(await dataApi(created.tokens.access_token), 401);
  t.equal((await grantEndpoint(planner, 'GET', created.grantId)).status, 404);
  const { rows } = await pool.query(`SELECT scopes FROM user_consents WHERE user_id = $1`, [as('bob@contoso').id]);
  t.same(rows[0]?.scopes, ['openid', 'User.Read'], "the user's consent stays: only the grant went");
});

t.test('the actions through PAR', async (t) => {
  const browser = new Browser(server.url);
  const main = await authorize('alice@contoso', { scope: 'openid User.Read' }, browser);
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const url = await oidc.buildAuthorizationUrlWithPAR(planner.config, {
    redirect_uri: REDIRECT_URI,
    scope: 'openid User.Read Files.Read',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    grant_management_action: 'replace',
    grant_id: main.grantId,
  });
  const page = await browser.visit(url.href);
  const tokens = await exchangeCode(planner, appRedirect(page), { page, verifier, state });
  t.equal(tokens.grant_id, main.grantId);
  t.same(await queried(main.grantId), ['Files.Read', 'User.Read', 'openid']);

  const refused = await oidc
    .buildAuthorizationUrlWithPAR(planner.config, {
      redirect_uri: REDIRECT_URI,
      scope: 'openid',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      grant_management_action: 'merge',
    })
    .then(
      () => undefined,
      (error: unknown) => error,
    );
  t.match(refused, { error: 'invalid_request' }, 'merge without grant_id is refused at PAR');
});

t.test('refusals: clear errors, nothing changed', async (t) => {
  const browser = new Browser(server.url);
  const alices = await authorize('alice@contoso', { scope: 'openid User.Read' }, browser);
  const before = await queried(alices.grantId);

  async function refusal(params: Record<string, string>, user = 'alice@contoso', app = planner, who = browser) {
    const auth = await startAuthorization(who, app, { scope: 'openid User.Read', ...params });
    const page =
      pageName(auth.page.body) === 'login' ? await signInOnPage(who, auth.page, as(user).signIn, PASSWORD) : auth.page;
    return appRedirect(page).searchParams;
  }
  const noGrantId = await refusal({ grant_management_action: 'merge' });
  t.equal(noGrantId.get('error'), 'invalid_request', 'merge without grant_id');
  t.match(noGrantId.get('error_description'), /requires grant_id/);
  t.equal((await refusal({ grant_management_action: 'update' })).get('error'), 'invalid_request', 'an unknown action');
  t.equal((await refusal({ grant_id: alices.grantId })).get('error'), 'invalid_request', 'grant_id without an action');
  t.equal(
    (await refusal({ grant_management_action: 'create', grant_id: alices.grantId })).get('error'),
    'invalid_request',
    'create with a grant_id',
  );
  t.equal(
    (await refusal({ grant_management_action: 'merge', grant_id: alices.grantId }, 'alice@contoso', other)).get(
      'error',
    ),
    'invalid_grant_id',
    "another client's grant",
  );
  t.equal(
    (await refusal({ grant_management_action: 'replace', grant_id: 'no-such-grant' })).get('error'),
    'invalid_grant_id',
    'an unknown grant',
  );
  const bobs = await refusal(
    { grant_management_action: 'replace', grant_id: alices.grantId },
    'bob@contoso',
    planner,
    new Browser(server.url),
  );
  t.equal(bobs.get('error'), 'invalid_grant_id', "another user's grant");
  t.same(await queried(alices.grantId), before, 'the grant is unchanged');

  // The endpoint: only the owning app, only with the scope for the method, only its own tokens.
  t.equal((await fetch(`${endpoint()}/${alices.grantId}`)).status, 401, 'no token');
  const queryOnly = await managementToken(planner, 'grant_management_query');
  t.equal((await grantEndpoint(planner, 'DELETE', alices.grantId, queryOnly)).status, 403, 'revoke needs its scope');
  t.equal((await grantEndpoint(other, 'GET', alices.grantId)).status, 404, "another app's grant is not found");
  t.equal((await grantEndpoint(other, 'DELETE', alices.grantId)).status, 404);
  t.equal(
    (await grantEndpoint(planner, 'GET', alices.grantId, alices.tokens.access_token)).status,
    401,
    "a user's access token is no token for the endpoint",
  );
  const scopeAtAuth = await refusal({ scope: 'openid grant_management_query' });
  t.equal(scopeAtAuth.get('error'), 'invalid_scope', 'the endpoint scopes are not asked of users');
  t.same(await queried(alices.grantId), before, 'still unchanged');
  t.equal(await dataApi(alices.tokens.access_token), 200);
});

t.test('a DPoP-bound management token works with its proof, and only with it (RFC 9449)', async (t) => {
  const browser = new Browser(server.url);
  const { grantId } = await authorize('bob@contoso', { scope: 'openid User.Read' }, browser);
  const DPoP = oidc.getDPoPHandle(planner.config, await oidc.randomDPoPKeyPair('ES256'));
  const bound = await oidc.clientCredentialsGrant(planner.config, { scope: 'grant_management_query' }, { DPoP });
  t.equal(bound.token_type?.toLowerCase(), 'dpop');
  const url = new URL(`${endpoint()}/${encodeURIComponent(grantId)}`);
  const withProof = await oidc.fetchProtectedResource(
    planner.config,
    bound.access_token,
    url,
    'GET',
    undefined,
    undefined,
    {
      DPoP,
    },
  );
  t.equal(withProof.status, 200, 'DPoP <token> with a fresh proof');
  t.same(
    ((await withProof.json()) as { scopes: Array<{ scope: string }> }).scopes.flatMap((e) => e.scope.split(' ')).sort(),
    ['User.Read', 'openid'],
  );
  const asBearer = await fetch(url, { headers: { authorization: `Bearer ${bound.access_token}` } });
  t.equal(asBearer.status, 401, 'the bound token sent as a bearer token');
  t.match(await asBearer.json(), { error: 'invalid_token' });
  const noProof = await fetch(url, { headers: { authorization: `DPoP ${bound.access_token}` } });
  t.equal(noProof.status, 401, 'no proof');
  t.match(await noProof.json(), { error: 'invalid_dpop_proof' });
  t.match(noProof.headers.get('www-authenticate'), /^DPoP error="invalid_dpop_proof"/);
  const unbound = await managementToken(planner, 'grant_management_query');
  const unboundAsDpop = await fetch(url, { headers: { authorization: `DPoP ${unbound}` } });
  t.equal(unboundAsDpop.status, 401, 'an unbound token sent as DPoP');
});

t.test("a grant created under the user's grant ends when it ends (the consent's lifetime)", async (t) => {
  // Fabrikam gives grants 30 days (issue 15); carol's grant and one created under it.
  await server.accord.services.grantLifecycle.setTenantLifetime('fabrikam', 'default', 30, 'operator');
  const browser = new Browser(server.url);
  const main = await authorize('carol@fabrikam', { scope: 'openid User.Read' }, browser);
  const created = await authorize(
    'carol@fabrikam',
    { scope: 'openid User.Read', grant_management_action: 'create' },
    browser,
  );
  const exp = async (grantId: string) =>
    (
      await pool.query<{ exp: string; expires_at: Date }>(
        `SELECT payload->>'exp' AS exp, expires_at FROM oidc_models WHERE model = 'Grant' AND id = $1::text`,
        [grantId],
      )
    ).rows[0];
  const parent = await exp(main.grantId);
  const child = await exp(created.grantId);
  const days = (Number(parent?.exp) * 1000 - Date.now()) / 86_400_000;
  t.ok(days > 29 && days <= 30, `the user's grant ends with the consent (${days.toFixed(2)} days)`);
  t.ok(Number(child?.exp) <= Number(parent?.exp), 'the created grant ends no later');
  // Each row's expiry is the database's now plus the whole seconds left at its save: within a second.
  t.ok(child!.expires_at.getTime() <= parent!.expires_at.getTime() + 1_000, 'and its row expires with it');
  const { rows } = await pool.query<{ exp: string }>(
    `SELECT payload->>'exp' AS exp FROM oidc_models WHERE model = 'RefreshToken' AND grant_id = $1::text`,
    [created.grantId],
  );
  t.ok(
    rows.every((row) => Number(row.exp) <= Number(parent?.exp)),
    "its refresh tokens end no later than the user's grant",
  );

  // Both due in a day; renewing carol's consent moves the end of both grants to the new one.
  await pool.query(
    `UPDATE oidc_models SET payload = jsonb_set(payload, '{exp}', to_jsonb(extract(epoch FROM now())::bigint + 86400)),
            expires_at = now() + interval '1 day'
      WHERE model = 'Grant' AND id = ANY ($1::text[])`,
    [[main.grantId, created.grantId]],
  );
  await server.accord.services.grantLifecycle.renewUserConsent(
    'fabrikam',
    as('carol@fabrikam').id,
    planner.clientId,
    'operator',
  );
  const renewed = await exp(main.grantId);
  const renewedCreated = await exp(created.grantId);
  const daysLeft = (Number(renewed?.exp) * 1000 - Date.now()) / 86_400_000;
  t.ok(daysLeft > 29, `the renewal moves the user's grant's end (${daysLeft.toFixed(2)} days)`);
  t.equal(renewedCreated?.exp, renewed?.exp, 'and the end of the grant created under it, with it');
  t.equal(renewedCreated?.expires_at.getTime(), renewed?.expires_at.getTime(), 'its row too');
});
