// Settings › Org settings › Services › Integrated apps: the on/off switch, what on and off mean,
// and a preview of the effect (consents kept, sign-ins that change outcome) before saving.
// Saving is a separate confirmed POST; the preview step writes nothing.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { csrfField } from '../schema-parts.js';
import type { AdminCentreContext } from './deps.js';
import { pageData, requireAdmin } from './guard.js';

const PAGE = '/admin/settings/integrated-apps';

const onOff = () => Type.Enum(['on', 'off'], { type: 'string' });
/** The switch's form: the state asked for. */
const StateBody = Type.Object({ enabled: onOff(), _csrf: csrfField });

export const integratedAppsPages: FastifyPluginAsyncTypebox<AdminCentreContext> = async (app, context) => {
  const { tenants, portal, directory, preview, navItems } = context;

  app.get(PAGE, { schema: { querystring: Type.Object({ saved: Type.Optional(onOff()) }) } }, async (request, reply) => {
    const user = await requireAdmin(portal, request, reply, PAGE);
    if (!user) return reply;
    const tenant = await tenants.find(user.tenantId);
    return reply.view('admin/integrated-apps', {
      ...pageData(reply, user, 'integrated-apps', navItems),
      tenant,
      saved: request.query.saved,
      preview: undefined,
    });
  });

  app.post(
    `${PAGE}/preview`,
    { preValidation: app.csrfProtection, schema: { body: StateBody } },
    async (request, reply) => {
      const user = await requireAdmin(portal, request, reply, PAGE);
      if (!user) return reply;
      const [tenant, result] = await Promise.all([
        tenants.find(user.tenantId),
        preview.preview(user.tenantId, request.body.enabled === 'on'),
      ]);
      return reply.view('admin/integrated-apps', {
        ...pageData(reply, user, 'integrated-apps', navItems),
        tenant,
        saved: undefined,
        preview: result,
      });
    },
  );

  app.post(PAGE, { preValidation: app.csrfProtection, schema: { body: StateBody } }, async (request, reply) => {
    const user = await requireAdmin(portal, request, reply, PAGE);
    if (!user) return reply;
    await directory.setIntegratedApps(user.tenantId, request.body.enabled === 'on', user.id);
    return reply.redirect(`${PAGE}?saved=${request.body.enabled}`, 303);
  });
};
