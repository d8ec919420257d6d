// Settings › Org settings › Services › Integrated apps: the on/off switch, what on and off mean,
// and a preview of the effect (consents kept, sign-ins that change outcome) before saving.
// Saving is a separate confirmed POST; the preview step writes nothing.
import type { FastifyInstance } from 'fastify';
import type { AdminCentreContext } from './deps.js';
import { pageData, requireAdmin } from './guard.js';

const PAGE = '/admin/settings/integrated-apps';

const stateBody = {
  type: 'object',
  required: ['enabled'],
  properties: { enabled: { type: 'string', enum: ['on', 'off'] }, _csrf: { type: 'string' } },
} as const;

export async function integratedAppsPages(app: FastifyInstance, context: AdminCentreContext): Promise<void> {
  const { tenants, portal, directory, preview, navItems } = context;

  app.get<{ Querystring: { saved?: 'on' | 'off' } }>(
    PAGE,
    { schema: { querystring: { type: 'object', properties: { saved: { type: 'string', enum: ['on', 'off'] } } } } },
    async (request, reply) => {
      const user = await requireAdmin(portal, request, reply, PAGE);
      if (!user) return reply;
      const tenant = await tenants.find(user.tenantId);
      return reply.view('admin/integrated-apps', {
        ...pageData(reply, user, 'integrated-apps', 'Integrated apps', navItems),
        tenant,
        saved: request.query.saved,
        preview: undefined,
      });
    },
  );

  app.post<{ Body: { enabled: 'on' | 'off' } }>(
    `${PAGE}/preview`,
    { preValidation: app.csrfProtection, schema: { body: stateBody } },
    async (request, reply) => {
      const user = await requireAdmin(portal, request, reply, PAGE);
      if (!user) return reply;
      const [tenant, result] = await Promise.all([
        tenants.find(user.tenantId),
        preview.preview(user.tenantId, request.body.enabled === 'on'),
      ]);
      return reply.view('admin/integrated-apps', {
        ...pageData(reply, user, 'integrated-apps', 'Integrated apps: review the change', navItems),
        tenant,
        saved: undefined,
        preview: result,
      });
    },
  );

  app.post<{ Body: { enabled: 'on' | 'off' } }>(
    PAGE,
    { preValidation: app.csrfProtection, schema: { body: stateBody } },
    async (request, reply) => {
      const user = await requireAdmin(portal, request, reply, PAGE);
      if (!user) return reply;
      await directory.setIntegratedApps(user.tenantId, request.body.enabled === 'on', user.id);
      return reply.redirect(`${PAGE}?saved=${request.body.enabled}`, 303);
    },
  );
}
