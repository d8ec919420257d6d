// /api/v1/me/apps: a user lists the apps that can reach their data and withdraws their own
// consent with a token for the admin API holding the user permission AppConsents.ReadWrite.

import * as oidc from 'openid-client';
import t from 'tap';
import { exchangeCode, fullFlow, registerApp } from '../support/flows.js';
import { startTestServer } from '../support/server.js';
import { callApi, PASSWORD } from './support.js';

const server = await startTestServer({ SIGN_IN_RATE_LIMIT: '1000' });
t.teardown(() => server.close());
const { directory } = server;
await directory.createTenant({ id: 'contoso', name: 'Contoso' }, 'operator');
await directory.createUser({ tenantId: 'contoso', username: 'alice', password: PASSWORD, role: 'user' }, 'operator');
const alice = { signIn: 'alice@contoso', password: PASSWORD };
const planner = await registerApp(server, {
  tenant: 'contoso',
  name: 'Planner',
  scopes: ['openid', 'offline_access', 'User.Read'],
});
const manager = await registerApp(server, {
  tenant: 'contoso',
  name: 'App manager',
  scopes: ['openid', 'AppConsents.ReadWrite'],
});
const resource = `${server.url}/api/v1`;

async function meToken(): Promise<string> {
  const flow = await fullFlow(server, manager, alice, { scope: 'openid AppConsents.ReadWrite', resource });
  const tokens = await oidc.authorizationCodeGrant(
    manager.config,
    flow.callback,
    { pkceCodeVerifier: flow.auth.verifier, expectedState: flow.auth.state },
    { resource },
  );
  return tokens.access_token;
}

t.test('a user lists their apps and withdraws their own consent; the app’s tokens die', async (t) => {
  const plannerFlow = await fullFlow(server, planner, alice, {
    scope: 'openid offline_access User.Read',
    prompt: 'consent',
  });
  const plannerTokens = await exchangeCode(planner, plannerFlow.callback, plannerFlow.auth);
  const token = await meToken();
  const list = await callApi(server, token, '/me/apps');
  t.equal(list.status, 200);
  const entry = (list.body.value as { clientId: string; origin: string; ownPermissions: string[] }[]).find(
    (app) => app.clientId === planner.clientId,
  )!;
  t.equal(entry.origin, 'own');
  t.same(entry.ownPermissions.sort(), ['User.Read', 'offline_access', 'openid'].sort());

  const revoked = await callApi(server, token, `/me/apps/${planner.clientId}`, { method: 'DELETE' });
  t.equal(revoked.status, 204);
  await t.rejects(
    oidc.refreshTokenGrant(planner.config, plannerTokens.refresh_token!),
    'the refresh token no longer works',
  );
  t.equal(
    (await callApi(server, token, `/me/apps/${planner.clientId}`, { method: 'DELETE' })).status,
    404,
    'nothing left to withdraw',
  );
});

t.test('the user permission is required, and other tokens are refused', async (t) => {
  const dataFlow = await fullFlow(server, planner, alice, { scope: 'openid User.Read' });
  const dataToken = (await exchangeCode(planner, dataFlow.callback, dataFlow.auth)).access_token;
  t.equal((await callApi(server, dataToken, '/me/apps')).status, 401, 'a data-API token is for another audience');
  t.equal((await callApi(server, 'not-a-token', '/me/apps')).status, 401);
  const app = await oidc.clientCredentialsGrant(
    (await registerApp(server, { tenant: 'contoso', scopes: ['AppConsents.ReadWrite'] })).config,
    { scope: 'AppConsents.ReadWrite', resource },
  );
  t.equal((await callApi(server, app.access_token, '/me/apps')).status, 403, 'an app token has no user');
});
