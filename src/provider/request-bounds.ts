// Bounds on what a protocol request may carry, checked before oidc-provider reads it. Any
// parameter of an authorization request may come back in a redirect (`state` always does) or be
// stored with the interaction, so none may be unbounded: the request target is limited to 8 KB
// (what common servers and proxies accept), and so is the form posted to /request (PAR), the
// other way in for those parameters (POST /auth is off: oidc-provider's enableHttpPostMethods).
// A request over the bound is refused as it stands, with no redirect to the app, because that
// redirect would have to carry `state` back (RFC 6749 §4.1.2.1), and nothing of it is echoed.
import type Provider from 'oidc-provider';
import type { RenderPage } from '../plugins/views.js';
import { pageLocaleOf } from './page-locale.js';

/** The longest request target (path and query) and form body a protocol request may have. */
export const MAX_PROTOCOL_REQUEST_BYTES = 8 * 1024;

/** Where a form carries an authorization request's parameters: PAR (RFC 9126). */
const PUSHED_AUTHORIZATION_REQUEST_PATH = '/request';

type Middleware = Parameters<Provider['use']>[0];
type Context = Parameters<Middleware>[0];

interface Refusal {
  status: 411 | 413 | 414;
  description: string;
}

function refusalOf(ctx: Context): Refusal | undefined {
  if (Buffer.byteLength(ctx.originalUrl) > MAX_PROTOCOL_REQUEST_BYTES) {
    return { status: 414, description: `The request URL is longer than ${MAX_PROTOCOL_REQUEST_BYTES} bytes.` };
  }
  if (ctx.method !== 'POST' || ctx.path !== PUSHED_AUTHORIZATION_REQUEST_PATH) return undefined;
  const length = ctx.request.length; // Content-Length, undefined when absent (a chunked body)
  if (length === undefined && ctx.get('transfer-encoding')) {
    return { status: 411, description: 'The form must be sent with a Content-Length.' };
  }
  if (length !== undefined && length > MAX_PROTOCOL_REQUEST_BYTES) {
    return { status: 413, description: `The form is larger than ${MAX_PROTOCOL_REQUEST_BYTES} bytes.` };
  }
  return undefined;
}

/** A pre-middleware for `provider.use`: refuses a protocol request over the bounds, as a page or JSON. */
export function boundProtocolRequests(renderPage: RenderPage): Middleware {
  return async function boundProtocolRequest(ctx, next) {
    const refusal = refusalOf(ctx);
    if (!refusal) return next();
    ctx.status = refusal.status;
    ctx.set('cache-control', 'no-store');
    if (ctx.accepts('json', 'html') === 'html') {
      ctx.type = 'html';
      ctx.body = await renderPage(
        'error',
        { error: 'invalid_request', description: refusal.description },
        pageLocaleOf(ctx),
      );
    } else {
      ctx.body = { error: 'invalid_request', error_description: refusal.description };
    }
  };
}
