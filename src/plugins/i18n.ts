// Every page in the user's language: the message catalogues (i18next, one JSON file per language
// and namespace under views/locales/), the choice of language (ui_locales, then Accept-Language,
// then English), and the page data every view gets: `it.lang`, `it.t(key, vars)`, `it.tHtml(key,
// vars)` and `it.fmt` (Intl formats for the language, in UTC: no user time zone is stored).

import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import i18next, { type i18n as I18n, type TFunction } from 'i18next';
import Negotiator from 'negotiator';

/** The languages every catalogue is complete in; the first is the default. */
export const SUPPORTED_LOCALES = ['en', 'de'] as const;
export type Locale = (typeof SUPPORTED_LOCALES)[number];
export const DEFAULT_LOCALE: Locale = 'en';

/** The catalogue's namespaces: `common` (layout, shared words, errors, dates), `pages`, `admin`, `permissions`. */
export const localesDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../views/locales');

/** The region Intl formats with: Accord's English is British English. */
const INTL_LOCALE: Record<Locale, string> = { en: 'en-GB', de: 'de-DE' };

function isSupported(tag: string): tag is Locale {
  return (SUPPORTED_LOCALES as readonly string[]).includes(tag);
}

/** A language tag's supported language: `de-CH` → `de`, `EN` → `en`; undefined when none. */
function supportedLanguageOf(tag: string): Locale | undefined {
  const lower = tag.toLowerCase();
  if (isSupported(lower)) return lower;
  const primary = lower.split('-')[0] ?? '';
  return isSupported(primary) ? primary : undefined;
}

/**
 * The page's language: the first supported tag of `ui_locales` (space-separated, in order of
 * preference, OIDC Core §3.1.2.1), else the best supported language of Accept-Language by
 * quality (negotiator), else English.
 */
export function pickLocale(preferences: { uiLocales?: unknown; acceptLanguage?: unknown }): Locale {
  if (typeof preferences.uiLocales === 'string') {
    for (const tag of preferences.uiLocales.split(' ')) {
      const locale = supportedLanguageOf(tag);
      if (locale) return locale;
    }
  }
  if (typeof preferences.acceptLanguage === 'string' && preferences.acceptLanguage.trim() !== '') {
    const negotiator = new Negotiator({ headers: { 'accept-language': preferences.acceptLanguage } });
    const best = negotiator.language([...SUPPORTED_LOCALES]);
    if (best && isSupported(best)) return best;
  }
  return DEFAULT_LOCALE;
}

/** Every catalogue on disk: `{ [lang]: { [namespace]: messages } }`. */
export function loadCatalogues(dir = localesDir): Record<string, Record<string, Record<string, unknown>>> {
  const catalogues: Record<string, Record<string, Record<string, unknown>>> = {};
  for (const lang of SUPPORTED_LOCALES) {
    const namespaces: Record<string, Record<string, unknown>> = {};
    for (const file of readdirSync(path.join(dir, lang))) {
      if (!file.endsWith('.json')) continue;
      namespaces[file.slice(0, -'.json'.length)] = JSON.parse(readFileSync(path.join(dir, lang, file), 'utf8'));
    }
    catalogues[lang] = namespaces;
  }
  return catalogues;
}

/** A key a page asked for that no catalogue has (tests turn these into failures). */
export interface MissingKey {
  lang: string;
  namespace: string;
  key: string;
}

const missingKeys: MissingKey[] = [];

/** The keys asked for and not found since the process started (or the last `clearMissingKeys`). */
export function reportedMissingKeys(): readonly MissingKey[] {
  return missingKeys;
}

export function clearMissingKeys(): void {
  missingKeys.length = 0;
}

function createI18n(): I18n {
  const catalogues = loadCatalogues();
  const instance = i18next.createInstance();
  // Synchronous: the catalogues are already in memory, so `t` works as soon as this returns.
  void instance.init({
    initAsync: false,
    resources: catalogues,
    supportedLngs: [...SUPPORTED_LOCALES],
    fallbackLng: DEFAULT_LOCALE,
    ns: Object.keys(catalogues[DEFAULT_LOCALE] ?? {}),
    defaultNS: 'common',
    // Values are plain text here; eta escapes what `<%= %>` writes. `tHtml` escapes the values instead.
    interpolation: { escapeValue: false },
    returnNull: false,
    saveMissing: true,
    missingKeyHandler: (lngs, namespace, key) => {
      missingKeys.push({ lang: lngs.join(','), namespace, key });
    },
  });
  return instance;
}

/** The catalogues, loaded once when the process starts. */
export const i18n: I18n = createI18n();

/** Intl formats for a language, in UTC (the pages say so: `common:dates.utc`). */
export interface Formats {
  /** 6 Dec 2026 / 6. Dez. 2026 */
  date(value: Date): string;
  /** 6 Dec 2026, 22:51 UTC */
  dateTime(value: Date): string;
  number(value: number): string;
  /** a, b and c / a, b und c */
  list(items: readonly string[]): string;
}

function formatsFor(locale: Locale): Formats {
  const tag = INTL_LOCALE[locale];
  const date = new Intl.DateTimeFormat(tag, { dateStyle: 'medium', timeZone: 'UTC' });
  const dateTime = new Intl.DateTimeFormat(tag, {
    year: 'numeric',
    month: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    timeZone: 'UTC',
    timeZoneName: 'short',
  });
  const number = new Intl.NumberFormat(tag);
  const list = new Intl.ListFormat(tag, { style: 'long', type: 'conjunction' });
  return {
    date: (value) => date.format(value),
    dateTime: (value) => dateTime.format(value),
    number: (value) => number.format(value),
    list: (items) => list.format(items),
  };
}

const FORMATS: Record<Locale, Formats> = { en: formatsFor('en'), de: formatsFor('de') };

function escapeHtml(value: unknown): string {
  return String(value).replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string,
  );
}

/** A value for `tHtml`: text is escaped; `{ html }` (markup a template built, e.g. a link) is kept. */
function htmlValue(value: unknown): string {
  if (typeof value === 'object' && value !== null && typeof (value as { html?: unknown }).html === 'string')
    return (value as { html: string }).html.trim();
  return escapeHtml(value);
}

/** What every page gets for its language. */
export interface PageLocale {
  lang: Locale;
  /** A plain-text message (`pages:consent.title`); write it with `<%= %>`. */
  t: (key: string | string[], vars?: Record<string, unknown>) => string;
  /**
   * A message whose catalogue text holds markup (`<strong>{{app}}</strong>`, keys ending in `Html`):
   * the values are escaped, except `{ html }` values a template built; write it with `<%~ %>`.
   */
  tHtml: (key: string | string[], vars?: Record<string, unknown>) => string;
  fmt: Formats;
  /**
   * A permission's description in this language from the `permissions` namespace, for the user
   * (`user`) or for an admin granting it for everyone (`admin`); else the database's English text,
   * never a raw scope name.
   */
  permission: (permission: DescribedPermission, audience: 'user' | 'admin') => string;
}

/** What the pages know of a permission (core's Permission has these fields). */
export interface DescribedPermission {
  scope: string;
  userDescription: string;
  adminDescription: string;
}

const PAGE_LOCALES = new Map<Locale, PageLocale>();

export function pageLocale(locale: Locale): PageLocale {
  let page = PAGE_LOCALES.get(locale);
  if (!page) {
    const fixed: TFunction = i18n.getFixedT(locale);
    page = {
      lang: locale,
      t: (key, vars) => fixed(key, vars ?? {}) as string,
      tHtml: (key, vars) =>
        fixed(key, {
          ...Object.fromEntries(Object.entries(vars ?? {}).map(([name, value]) => [name, htmlValue(value)])),
          ...(vars && typeof vars.count === 'number' ? { count: vars.count } : {}),
        }) as string,
      fmt: FORMATS[locale],
      permission: (permission, audience) => {
        // Scopes hold dots (`User.Read`): the key is `<scope>|<audience>` in the permissions namespace.
        const options = { lng: locale, ns: 'permissions', keySeparator: '|' } as const;
        const key = `${permission.scope}|${audience}`;
        if (i18n.exists(key, options)) return i18n.t(key, options) as string;
        return audience === 'admin' ? permission.adminDescription : permission.userDescription;
      },
    };
    PAGE_LOCALES.set(locale, page);
  }
  return page;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The language of this request's page (Accept-Language, or the interaction's ui_locales). */
    locale: Locale;
  }
  interface FastifyReply {
    /** Data @fastify/view gives every view of this reply: here, the page's language. */
    locals?: Record<string, unknown>;
  }
}

/** Sets the page's language for this request, e.g. the interaction's `ui_locales`. */
export function useLocale(request: Pick<FastifyRequest, 'locale'>, reply: FastifyReply, locale: Locale): void {
  request.locale = locale;
  reply.locals = { ...(reply.locals ?? {}), ...pageLocale(locale) };
}

/** Every request gets `request.locale` from Accept-Language, and every view its language's page data. */
export const i18nPlugin = fp(
  async (app: FastifyInstance) => {
    app.decorateRequest('locale', DEFAULT_LOCALE);
    app.addHook('onRequest', async (request, reply) => {
      useLocale(request, reply, pickLocale({ acceptLanguage: request.headers['accept-language'] }));
    });
    // A page's words depend on Accept-Language: say so to caches (RFC 9110 §12.5.5).
    app.addHook('onSend', async (_request, reply, payload) => {
      const type = reply.getHeader('content-type');
      if (typeof type === 'string' && type.startsWith('text/html')) {
        const vary = reply.getHeader('vary');
        if (!vary) reply.header('vary', 'Accept-Language');
        else if (!/accept-language/i.test(String(vary))) reply.header('vary', `${String(vary)}, Accept-Language`);
      }
      return payload;
    });
  },
  { name: 'accord-i18n', dependencies: ['@fastify/view'] },
);
