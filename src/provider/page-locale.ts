// The language of a page the provider renders itself (errors, logout, refusals of oversized
// requests): the request's ui_locales (OIDC Core §3.1.2.1), else Accept-Language.
import { type Locale, pickLocale } from '../plugins/i18n.js';

export function pageLocaleOf(ctx: { oidc?: { params?: Record<string, unknown> }; get(field: string): string }): Locale {
  return pickLocale({ uiLocales: ctx.oidc?.params?.ui_locales, acceptLanguage: ctx.get('accept-language') });
}
