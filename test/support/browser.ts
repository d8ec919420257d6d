// A cookie-keeping HTTP client playing the user's browser: follows redirects only on our own
// origin (stopping at the app's redirect_uri), reads forms and their CSRF tokens from pages.
import { CookieJar } from 'tough-cookie';

export interface PageResponse {
  status: number;
  url: string;
  headers: Headers;
  body: string;
}

/** Form fields: a value, or several for a field sent once per value. */
export type Form = Record<string, string | string[]>;

export class Browser {
  readonly jar = new CookieJar();

  /** `headers` go with every request, e.g. `{ 'accept-language': 'de' }` for a German reader. */
  constructor(
    readonly origin: string,
    readonly headers: Record<string, string> = {},
  ) {}

  async request(
    url: string,
    init: { method?: string; form?: Form; headers?: Record<string, string> } = {},
  ): Promise<PageResponse> {
    const headers: Record<string, string> = { accept: 'text/html', ...this.headers, ...init.headers };
    const cookie = await this.jar.getCookieString(url);
    if (cookie) headers.cookie = cookie;
    let body: string | undefined;
    if (init.form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      // An array is a field sent once per value, as ticked checkboxes of one name are.
      body = new URLSearchParams(
        Object.entries(init.form).flatMap(([name, value]) => [value].flat().map((one) => [name, one])),
      ).toString();
    }
    const response = await fetch(url, {
      method: init.method ?? (init.form ? 'POST' : 'GET'),
      headers,
      body,
      redirect: 'manual',
    });
    for (const setCookie of response.headers.getSetCookie())
      await this.jar.setCookie(setCookie, url, { ignoreError: true });
    return { status: response.status, url, headers: response.headers, body: await response.text() };
  }

  /** GETs `url` and follows redirects while they stay on our origin; returns the last response. */
  async visit(url: string, init: { method?: string; form?: Form } = {}): Promise<PageResponse> {
    let response = await this.request(url, init);
    for (let hops = 0; hops < 10 && response.status >= 300 && response.status < 400; hops++) {
      const next = new URL(response.headers.get('location')!, response.url).toString();
      if (!next.startsWith(this.origin)) return response;
      response = await this.request(next);
    }
    return response;
  }

  /** Submits the page's form whose action matches `action`, with its hidden inputs plus `fields`. */
  async submit(page: PageResponse, action: RegExp, fields: Form): Promise<PageResponse> {
    const form = findForm(page.body, action);
    if (!form) throw new Error(`no form matching ${action} on ${pageName(page.body)} page`);
    return this.visit(new URL(form.action, page.url).toString(), {
      method: 'POST',
      form: { ...form.hidden, ...fields },
    });
  }
}

export function pageName(html: string): string | undefined {
  return /<body[^>]*data-page="([^"]+)"/.exec(html)?.[1];
}

export function findForm(html: string, action: RegExp): { action: string; hidden: Record<string, string> } | undefined {
  for (const match of html.matchAll(/<form([^>]*)>([\s\S]*?)<\/form>/g)) {
    const attrs = match[1]!;
    const target = /action="([^"]*)"/.exec(attrs)?.[1] ?? '';
    if (!action.test(target)) continue;
    const hidden: Record<string, string> = {};
    for (const input of match[2]!.matchAll(/<input[^>]*type="hidden"[^>]*>/g)) {
      const name = /name="([^"]+)"/.exec(input[0])?.[1];
      const value = /value="([^"]*)"/.exec(input[0])?.[1] ?? '';
      if (name)
        hidden[name] = value
          .replace(/&amp;/g, '&')
          .replace(/&quot;/g, '"')
          .replace(/&#39;/g, "'")
          .replace(/&lt;/g, '<')
          .replace(/&gt;/g, '>');
    }
    return { action: target.replace(/&amp;/g, '&'), hidden };
  }
  return undefined;
}
