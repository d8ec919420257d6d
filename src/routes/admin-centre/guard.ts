// Who may use the admin centre: a signed-in admin of their own tenant. The tenant every page and
// form acts on is always that admin's own (never read from the URL or the form), so one tenant's
// admin cannot reach another tenant's data by construction.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { UserRecord } from '../../db/users.js';
import type { PortalSession } from '../portal-session.js';

export type AdminSection = 'home' | 'integrated-apps' | 'apps' | 'enterprise-apps' | 'consent-requests' | 'audit';

export interface AdminNavItem {
  section: AdminSection;
  href: string;
  label: string;
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
      title: 'Admins only',
      user,
      switchAccountUrl: `/portal/sign-in?${new URLSearchParams({ returnTo: request.method === 'GET' ? request.url : returnTo, prompt: 'login' }).toString()}`,
    });
    return undefined;
  }
  return user;
}

/** The data every admin page's layout and navigation needs. */
export function pageData(
  reply: FastifyReply,
  user: UserRecord,
  section: AdminSection,
  title: string,
  navItems: readonly AdminNavItem[],
) {
  return { title, user, section, nav: navItems, csrfToken: reply.generateCsrf() };
}

/** A same-tenant check result that never says whether the thing exists elsewhere. */
export const NOT_IN_TENANT = 'Not found in your organisation.';
