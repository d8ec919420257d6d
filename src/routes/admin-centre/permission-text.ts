// A permission as the admin centre shows it: its admin-facing description in the page's language
// from the `permissions` catalogue, else the catalogue's own (English) text from the database —
// never the bare scope name.
import type { Permission } from '../../core/types.js';
import { i18n, type Locale } from '../../plugins/i18n.js';

export function adminPermissionText(locale: Locale, permission: Pick<Permission, 'scope' | 'adminDescription'>) {
  const key = `permissions:${permission.scope}.admin`;
  return i18n.exists(key, { lng: locale }) ? i18n.t(key, { lng: locale }) : permission.adminDescription;
}

/** The permission with its text for the page (`text`). */
export function withAdminText<P extends Pick<Permission, 'scope' | 'adminDescription'>>(locale: Locale, permission: P) {
  return { ...permission, text: adminPermissionText(locale, permission) };
}
