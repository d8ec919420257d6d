// Domain helpers for end-to-end tests: an app (openid-client) and a user (Browser) going
// through /auth, sign-in and consent.
import * as oidc from 'openid-client';
import { Browser, type PageResponse, pageName } from './browser.js';
import type { TestServer } from './server.js';

export const REDIRECT_URI = 'https://app.example.test/callback';

export interface TestApp {
  clientId: string;
  clientSecret?: string;
  config: oidc.Configuration;
}

export async function relyingParty(
  server: Pick<TestServer, 'url'>,
  clientId: string,
  clientSecret?: string,
): Promise<TestApp> {
  const config = await oidc.discovery(
    new URL(server.url),
    clientId,
    { redirect_uris: [REDIRECT_URI] },
    clientSecret ? oidc.ClientSecretBasic(clientSecret) : oidc.None(),
    { execute: [oidc.allowInsecureRequests] },
  );
  return { clientId, ...(clientSecret ? { clientSecret } : {}), config };
}

/** Registers an app through the directory, as the CLI would, and returns the app's RP side. */
export async function registerApp(
  server: Pick<TestServer, 'url' | 'directory'>,
  options: {
    tenant: string;
    scopes: string[];
    optionalScopes?: string[];
    multiTenant?: boolean;
    public?: boolean;
    name?: string;
  },
): Promise<TestApp> {
  const { app, clientSecret } = await server.directory.createApp(
    {
      publisherTenantId: options.tenant,
      name: options.name ?? 'Test App',
      multiTenant: options.multiTenant ?? true,
      public: options.public ?? false,
      redirectUris: [REDIRECT_URI],
      scopes: options.scopes,
      ...(options.optionalScopes ? { optionalScopes: options.optionalScopes } : {}),
    },
    'operator',
  );
  return relyingParty(server, app.clientId, clientSecret);
}

export interface Authorization {
  page: PageResponse;
  verifier: string;
  state: string;
}

export async function startAuthorization(
  browser: Browser,
  app: TestApp,
  params: Record<string, string>,
): Promise<Authorization> {
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const url = oidc.buildAuthorizationUrl(app.config, {
    redirect_uri: REDIRECT_URI,
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    ...params,
  });
  return { page: await browser.visit(url.href), verifier, state };
}

export async function signInOnPage(
  browser: Browser,
  page: PageResponse,
  username: string,
  password: string,
): Promise<PageResponse> {
  if (pageName(page.body) !== 'login')
    throw new Error(`expected the login page, got ${pageName(page.body) ?? page.status}`);
  return browser.submit(page, /\/login$/, { username, password });
}

export async function answerConsent(
  browser: Browser,
  page: PageResponse,
  decision: 'accept' | 'deny',
  extra: Record<string, string | string[]> = {},
): Promise<PageResponse> {
  if (pageName(page.body) !== 'consent')
    throw new Error(`expected the consent page, got ${pageName(page.body) ?? page.status}`);
  return browser.submit(page, /\/consent$/, { decision, ...extra });
}

/** The URL the browser was sent to at the app (a redirect off our origin). */
export function appRedirect(response: PageResponse): URL {
  const location = response.headers.get('location');
  if (response.status < 300 || response.status >= 400 || !location || !location.startsWith(REDIRECT_URI)) {
    throw new Error(
      `expected a redirect to the app, got ${response.status} ${pageName(response.body) ?? ''} ${location ?? ''}`,
    );
  }
  return new URL(location);
}

export async function exchangeCode(app: TestApp, callback: URL, auth: Authorization) {
  return oidc.authorizationCodeGrant(app.config, callback, {
    pkceCodeVerifier: auth.verifier,
    expectedState: auth.state,
  });
}

/** Sign in and (when asked) accept consent; returns the app's callback URL. */
export async function fullFlow(
  server: Pick<TestServer, 'url'>,
  app: TestApp,
  user: { signIn: string; password: string },
  params: Record<string, string>,
  browser = new Browser(server.url),
) {
  const auth = await startAuthorization(browser, app, params);
  let page = auth.page;
  if (pageName(page.body) === 'login') page = await signInOnPage(browser, page, user.signIn, user.password);
  const consentShown = pageName(page.body) === 'consent';
  if (consentShown) page = await answerConsent(browser, page, 'accept');
  const callback = appRedirect(page);
  return { auth, callback, consentShown, browser };
}

/**
 * After a sign-in as another account than the session's, oidc-provider ends the old session first:
 * a page whose form posts to /session/end/confirm, submitted by a script or, without JavaScript, by
 * its visible Continue button. Submits it as that button does; any other page is returned as is.
 */
export async function continueThroughEndSession(browser: Browser, page: PageResponse): Promise<PageResponse> {
  if (page.status !== 200 || !/action="[^"]*\/session\/end\/confirm"/.test(page.body)) return page;
  if (!/<button[^>]*type="submit"[^>]*>\s*Continue\s*<\/button>/.test(page.body))
    throw new Error('the end-session form has no visible Continue button for a browser without JavaScript');
  return browser.submit(page, /\/session\/end\/confirm$/, {});
}
