// Who may use the admin centre: a signed-in admin of their own tenant. The tenant every page and
// form acts on is always that admin's own (never read from the URL or the form), so one tenant's
// admin cannot reach another tenant's data by construction.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AccordError } from '../../core/errors.js';
import type { UserRecord } from '../../db/users.js';
import { pageLocale } from '../../plugins/i18n.js';
import type { PortalSession } from '../portal-session.js';

export type AdminSection =
  | 'home'
  | 'users'
  | 'integrated-apps'
  | 'consent-settings'
  | 'apps'
  | 'apis'
  | 'grants'
  | 'enterprise-apps'
  | 'consent-requests'
  | 'audit';

export interface AdminNavItem {
  section: AdminSection;
  href: string;
  /** The item's name in the `admin` catalogue. */
  labelKey: string;
}

/**
 * The signed-in admin, or undefined after answering: a redirect to sign in (then back to
 * `returnTo`, a GET page), or a 403 page for a signed-in user who is not an admin.
 */
export async function requireAdmin(
  portal: PortalSession,
  request: FastifyRequest,
  reply: FastifyReply,
  returnTo: string = request.url,
): Promise<UserRecord | undefined> {
  const user = await portal.requireSignedIn(request, reply, returnTo);
  if (!user) return undefined;
  if (user.role !== 'admin') {
    await reply.status(403).view('admin/forbidden', {
      user,
      signedIn: user,
      switchAccountUrl: `/portal/sign-in?${new URLSearchParams({ returnTo: request.method === 'GET' ? request.url : returnTo, prompt: 'login' }).toString()}`,
    });
    return undefined;
  }
  return user;
}

/** The data every admin page's navigation needs (each page's template names its own title). */
export function pageData(
  reply: FastifyReply,
  user: UserRecord,
  section: AdminSection,
  navItems: readonly AdminNavItem[],
) {
  return { user, signedIn: user, section, nav: navItems, csrfToken: reply.generateCsrf() };
}

/** A same-tenant check result that never says whether the thing exists elsewhere. */
export const NOT_IN_TENANT = 'Not found in your organisation.';

/**
 * `lookup`, whose 404 (not in the admin's organisation) the page shows as "Not found in your
 * organisation." in the page's language.
 */
export async function inTenant<T>(lookup: Promise<T>): Promise<T> {
  try {
    return await lookup;
  } catch (error) {
    if (error instanceof AccordError && error.status === 404) throw error.withMessage('admin:error.notInTenant');
    throw error;
  }
}

/** A refusal shown on an admin page: its message in the page's language, else the English description. */
export function pageMessage(reply: FastifyReply, error: AccordError): string {
  const { messageKey } = error;
  return messageKey ? pageLocale(reply.request.locale).t(messageKey.key, messageKey.vars) : error.description;
}
