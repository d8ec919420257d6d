import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import t from 'tap';
import { Browser, pageName } from '../support/browser.js';
import {
  answerConsent,
  appRedirect,
  exchangeCode,
  fullFlow,
  registerApp,
  signInOnPage,
  startAuthorization,
} from '../support/flows.js';
import { startTestServer } from '../support/server.js';

const server = await startTestServer();
t.teardown(() => server.close());

await server.directory.createTenant({ id: 'contoso', name: 'Contoso' }, 'operator');
const alice = await server.directory.createUser(
  {
    tenantId: 'contoso',
    username: 'alice',
    password: 'correct horse battery',
    role: 'user',
    email: 'alice@contoso.example',
    displayName: 'Alice',
  },
  'operator',
);
const app = await registerApp(server, {
  tenant: 'contoso',
  scopes: ['openid', 'profile', 'email', 'offline_access', 'User.Read', 'Calendars.Read'],
});
const credentials = { signIn: 'alice@contoso', password: 'correct horse battery' };

t.test('discovery advertises only the code flow, PKCE S256 and RFC 9207 iss', async (t) => {
  const response = await fetch(`${server.url}/.well-known/openid-configuration`);
  t.equal(response.status, 200);
  const discovery = (await response.json()) as Record<string, unknown>;
  t.equal(discovery.issuer, server.url);
  t.same(discovery.response_types_supported, ['code']);
  t.same(discovery.code_challenge_methods_supported, ['S256']);
  t.equal(discovery.authorization_response_iss_parameter_supported, true);
  t.notOk((discovery.grant_types_supported as string[]).includes('implicit'));
  t.notOk((discovery.grant_types_supported as string[]).includes('password'));
  t.ok(discovery.pushed_authorization_request_endpoint);
  t.ok(discovery.introspection_endpoint);
  t.ok(discovery.revocation_endpoint);
  t.ok(discovery.end_session_endpoint);
  t.ok((discovery.dpop_signing_alg_values_supported as string[]).includes('ES256'));
});

t.test(
  'JWKS publishes RS256 and ES256 public keys (the signing and the next key of each) and no private parts',
  async (t) => {
    const { keys } = (await (await fetch(`${server.url}/jwks`)).json()) as { keys: Record<string, unknown>[] };
    t.same(keys.map((key) => key.alg).sort(), ['ES256', 'ES256', 'RS256', 'RS256']);
    for (const key of keys) {
      t.notOk('d' in key, 'no private exponent');
      t.ok(key.kid);
    }
  },
);

t.test('a user signs in, consents, and the app gets tokens that verify against /jwks', async (t) => {
  const { auth, callback, consentShown } = await fullFlow(server, app, credentials, {
    scope: 'openid profile email offline_access User.Read',
    prompt: 'consent',
  });
  t.ok(consentShown, 'first sign-in asks for consent');
  t.equal(callback.searchParams.get('iss'), server.url, 'RFC 9207 iss in the authorization response');
  const tokens = await exchangeCode(app, callback, auth);
  t.ok(tokens.refresh_token, 'offline_access gives a refresh token');
  const claims = tokens.claims()!;
  t.equal(claims.sub, alice.id);
  t.not(claims.sub, 'alice@contoso.example', 'sub is opaque, never the email');

  const jwks = createRemoteJWKSet(new URL(`${server.url}/jwks`));
  t.equal(decodeProtectedHeader(tokens.access_token).typ, 'at+jwt');
  const { payload } = await jwtVerify(tokens.access_token, jwks, {
    issuer: server.url,
    audience: `${server.url}/data/v1`,
    typ: 'at+jwt',
  });
  t.equal(payload.sub, alice.id);
  t.equal(payload.tid, 'contoso');
  t.equal(payload.client_id, app.clientId);
  t.same(String(payload.scope).split(' ').sort(), ['User.Read']);
  t.ok(payload.jti);
});

t.test('consent is remembered across browser sessions', async (t) => {
  const { consentShown } = await fullFlow(
    server,
    app,
    credentials,
    { scope: 'openid profile User.Read' },
    new Browser(server.url),
  );
  t.notOk(consentShown, 'a new browser is not asked again for granted permissions');
});

t.test('a wrong password shows a generic error on the login page', async (t) => {
  const browser = new Browser(server.url);
  const auth = await startAuthorization(browser, app, { scope: 'openid' });
  const page = await signInOnPage(browser, auth.page, 'alice@contoso', 'wrong password');
  t.equal(page.status, 401);
  t.equal(pageName(page.body), 'login');
  t.match(page.body, /The username or password is incorrect/);
  const unknown = await signInOnPage(browser, page, 'nobody@contoso', 'wrong password');
  t.match(unknown.body, /The username or password is incorrect/, 'same message for an unknown user');
});

t.test('cancel on the consent page returns access_denied with state and iss', async (t) => {
  const browser = new Browser(server.url);
  const auth = await startAuthorization(browser, app, { scope: 'openid Calendars.Read' });
  const consent = await signInOnPage(browser, auth.page, credentials.signIn, credentials.password);
  const callback = appRedirect(await answerConsent(browser, consent, 'deny'));
  t.equal(callback.searchParams.get('error'), 'access_denied');
  t.equal(callback.searchParams.get('state'), auth.state);
  t.equal(callback.searchParams.get('iss'), server.url);
});
