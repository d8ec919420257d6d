// The demo app's one page, rendered on the server; every value from a token or an answer is escaped.
// Markers for tests and scripts: `data-page="demo-app"`, `data-signed-in`, `data-claims="id_token|access_token"`,
// `data-result="me|calendar"` with `data-status`, `data-notice`, `data-error`.

export interface TokenView {
  idToken: string;
  idClaims: Record<string, unknown> | undefined;
  accessToken: string;
  /** Undefined for an opaque access token. */
  accessClaims: Record<string, unknown> | undefined;
  refreshToken: string | undefined;
  scope: string;
  expiresIn: number | undefined;
  receivedAt: Date;
  refreshes: number;
}

export interface CallResult {
  url: string;
  /** The HTTP status, or 0 when no answer came. */
  status: number;
  body: string;
}

export interface DemoSession {
  id: string;
  csrf: string;
  pending?: { verifier: string; state: string; nonce: string; redirectUri: string };
  tokens?: TokenView;
  results: Partial<Record<'me' | 'calendar', CallResult>>;
  logoutState?: string;
  notice?: Notice;
  error?: string;
}

export type Notice = 'signed-in' | 'refreshed' | 'signed-out';

export interface PageState {
  notice?: Notice | undefined;
  error?: string | undefined;
}

const NOTICES: Record<Notice, string> = {
  'signed-in': 'Signed in. These are the tokens Accord issued to this app.',
  refreshed: 'Refreshed: Accord issued a new access token and rotated the refresh token.',
  'signed-out': 'Signed out of the demo app and of Accord.',
};

export function escapeHtml(value: string): string {
  return value.replace(
    /[&<>"']/g,
    (character) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[character]!,
  );
}

/** Claims whose values are times (seconds since 1970), shown as dates too. */
const TIME_CLAIMS = new Set(['iat', 'exp', 'auth_time', 'nbf']);

function claimsTable(claims: Record<string, unknown>, marker: string): string {
  const rows = Object.entries(claims).map(([name, value]) => {
    const shown = typeof value === 'string' ? value : JSON.stringify(value);
    const when = TIME_CLAIMS.has(name) && typeof value === 'number' ? ` (${new Date(value * 1000).toISOString()})` : '';
    return `<tr><th scope="row"><code>${escapeHtml(name)}</code></th><td><code>${escapeHtml(shown)}</code>${escapeHtml(when)}</td></tr>`;
  });
  return `<table data-claims="${marker}"><tbody>${rows.join('')}</tbody></table>`;
}

const form = (action: string, label: string, csrf: string, name: string) =>
  `<form method="post" action="${action}"><input type="hidden" name="_csrf" value="${escapeHtml(csrf)}"><button type="submit" data-action="${name}">${escapeHtml(label)}</button></form>`;

function result(call: 'me' | 'calendar', title: string, value: CallResult | undefined): string {
  if (!value) return '';
  return `<section id="${call}" data-result="${call}" data-status="${value.status}">
<h2>${escapeHtml(title)}</h2>
<p><code>GET ${escapeHtml(value.url)}</code> → <strong>${value.status || 'no answer'}</strong></p>
<pre>${escapeHtml(value.body)}</pre>
</section>`;
}

function signedIn(session: DemoSession, tokens: TokenView): string {
  const who = tokens.idClaims?.name ?? tokens.idClaims?.preferred_username ?? tokens.idClaims?.sub;
  const expires =
    tokens.expiresIn === undefined
      ? ''
      : `, expires ${new Date(tokens.receivedAt.getTime() + tokens.expiresIn * 1000).toISOString()}`;
  return `<p>Signed in as <strong data-user>${escapeHtml(String(who))}</strong>
(<code>${escapeHtml(String(tokens.idClaims?.preferred_username ?? ''))}</code>).</p>
<div class="actions">
${form('/call/me', 'Call /data/v1/me', session.csrf, 'me')}
${form('/call/calendar', 'Call /data/v1/me/calendar/events', session.csrf, 'calendar')}
${form('/refresh', 'Refresh the tokens', session.csrf, 'refresh')}
${form('/logout', 'Sign out', session.csrf, 'logout')}
</div>
${result('me', 'Profile', session.results.me)}
${result('calendar', 'Calendar', session.results.calendar)}
<h2>ID token</h2>
<p>Who signed in, for this app (<code>aud</code> is its client id), verified by openid-client.</p>
${tokens.idClaims ? claimsTable(tokens.idClaims, 'id_token') : '<p>No ID token.</p>'}
<h2>Access token</h2>
<p>For the data API (<code>aud</code>), with the permissions granted (<code>scope</code>: ${escapeHtml(tokens.scope)})${escapeHtml(expires)}.
Apps send it and never read it; shown here to see what Accord puts in it.</p>
${tokens.accessClaims ? claimsTable(tokens.accessClaims, 'access_token') : '<p>An opaque token.</p>'}
<h2>Refresh token</h2>
<p data-refresh-token="${tokens.refreshToken ? 'present' : 'absent'}">${
    tokens.refreshToken
      ? `Held by the app (not shown); used ${tokens.refreshes} time${tokens.refreshes === 1 ? '' : 's'}. Each use returns a new one.`
      : 'None: offline_access was not granted.'
  }</p>`;
}

function signedOut(options: { issuer: string; clientId: string }): string {
  return `<p>A relying party of <code>${escapeHtml(options.issuer)}</code> (client <code>${escapeHtml(options.clientId)}</code>).
It signs you in with the authorization code flow and PKCE, shows the tokens' claims, calls the data API,
refreshes its tokens and signs you out again.</p>
<p><a class="button" href="/login" data-action="sign-in">Sign in with Accord</a></p>`;
}

export function renderHome(
  session: DemoSession,
  state: PageState,
  options: { issuer: string; clientId: string },
): string {
  const tokens = session.tokens;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Accord demo app</title>
<style>
body { font: 15px/1.5 system-ui, sans-serif; margin: 0 auto; max-width: 60rem; padding: 1rem 1.5rem; color: #1b1b1b; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.15rem; margin-top: 1.5rem; }
table { border-collapse: collapse; width: 100%; } th, td { border-bottom: 1px solid #ddd; padding: .25rem .5rem; text-align: left; vertical-align: top; }
th { width: 10rem; } td code { word-break: break-all; }
pre { background: #f4f4f4; padding: .75rem; overflow-x: auto; }
.actions { display: flex; flex-wrap: wrap; gap: .5rem; } .actions form { margin: 0; }
button, .button { font: inherit; padding: .4rem .9rem; border: 1px solid #0b5cad; background: #0b5cad; color: #fff; border-radius: 4px; text-decoration: none; display: inline-block; cursor: pointer; }
.notice { background: #e7f3e8; border-left: 4px solid #2e7d32; padding: .5rem .75rem; }
.error { background: #fdecea; border-left: 4px solid #c62828; padding: .5rem .75rem; }
</style>
</head>
<body data-page="demo-app" data-signed-in="${tokens ? 'true' : 'false'}">
<header><h1>Accord demo app</h1></header>
<main>
${state.notice ? `<p class="notice" role="status" data-notice="${state.notice}">${escapeHtml(NOTICES[state.notice])}</p>` : ''}
${state.error ? `<p class="error" role="alert" data-error>${escapeHtml(state.error)}</p>` : ''}
${tokens ? signedIn(session, tokens) : signedOut(options)}
</main>
</body>
</html>
`;
}
