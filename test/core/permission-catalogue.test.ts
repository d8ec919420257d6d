// The permission catalogue's lookups (issue 13), without a server: how scopes are named, which API
// each belongs to, which APIs a request names, who may be granted a single-tenant API's scopes,
// grouping by API, and that a replaced catalogue is seen by every holder.
import t from 'tap';
import {
  absoluteResource,
  isOwnApi,
  PermissionCatalogue,
  SCOPE_NAME,
  scopeRequestName,
} from '../../src/core/permission-catalogue.js';
import type { ApiSummary, Permission } from '../../src/core/types.js';

const dataApi: ApiSummary = {
  identifier: '/data/v1',
  name: 'Sample data',
  ownerTenantId: null,
  multiTenant: true,
  defaultResource: true,
};
const hr: ApiSummary = {
  identifier: 'api://contoso-hr',
  name: 'HR',
  ownerTenantId: 'contoso',
  multiTenant: false,
  defaultResource: false,
};

function permission(api: ApiSummary | undefined, name: string, adminConsentRequired = false): Permission {
  return {
    scope: api ? scopeRequestName(api.identifier, name) : name,
    resource: api?.identifier ?? 'openid',
    name,
    userDescription: `${name} for you`,
    adminDescription: `${name} for everyone`,
    adminConsentRequired,
    impact: adminConsentRequired ? 'high' : 'low',
    ...(api ? { api } : {}),
  };
}

const catalogue = new PermissionCatalogue([
  permission(undefined, 'openid'),
  permission(dataApi, 'User.Read'),
  permission(hr, 'leave.read'),
  permission(hr, 'salaries.read', true),
]);

t.test("Accord's own APIs keep short names; any other API's scopes are <identifier>/<scope>", async (t) => {
  t.ok(isOwnApi('/data/v1'));
  t.notOk(isOwnApi('https://x.example'));
  t.equal(scopeRequestName('/data/v1', 'User.Read'), 'User.Read');
  t.equal(scopeRequestName('api://contoso-hr', 'leave.read'), 'api://contoso-hr/leave.read');
  t.equal(absoluteResource('https://accord.example', '/data/v1'), 'https://accord.example/data/v1');
  t.equal(absoluteResource('https://accord.example', 'api://contoso-hr'), 'api://contoso-hr');
  for (const bad of ['has space', 'a/b', '1st', '', 'x'.repeat(101)]) t.notOk(SCOPE_NAME.test(bad), bad);
  for (const good of ['read', 'Files.ReadWrite', 'a_b-c.d']) t.ok(SCOPE_NAME.test(good), good);
});

t.test('lookups: the API of each scope, the APIs a request names in order, the default', async (t) => {
  t.equal(catalogue.resourceOf('api://contoso-hr/leave.read'), 'api://contoso-hr');
  t.equal(catalogue.resourceOf('openid'), 'openid');
  t.same(catalogue.apisOf(['openid', 'api://contoso-hr/leave.read', 'User.Read', 'unknown']), [
    'api://contoso-hr',
    '/data/v1',
  ]);
  t.equal(catalogue.defaultApi?.identifier, '/data/v1');
  t.ok(catalogue.adminConsentRequired('api://contoso-hr/salaries.read'));
  t.ok(catalogue.adminConsentRequired('unknown'), 'an unknown scope is never a user permission');
  t.same(catalogue.scopesOf('api://contoso-hr'), ['api://contoso-hr/leave.read', 'api://contoso-hr/salaries.read']);
});

t.test("a single-tenant API's scopes are for its owner's tenant only", async (t) => {
  t.ok(catalogue.availableTo('api://contoso-hr/leave.read', 'contoso'));
  t.notOk(catalogue.availableTo('api://contoso-hr/leave.read', 'fabrikam'));
  t.ok(catalogue.availableTo('User.Read', 'fabrikam'));
  t.ok(catalogue.availableTo('openid', 'fabrikam'));
  t.notOk(catalogue.availableTo('unknown', 'contoso'));
});

t.test('groups by API in catalogue order, the OpenID scopes first', async (t) => {
  const groups = catalogue.groupByApi([
    'api://contoso-hr/salaries.read',
    'User.Read',
    'openid',
    'api://contoso-hr/leave.read',
  ]);
  t.same(
    groups.map((group) => [group.api?.identifier, group.permissions.map((p) => p.name)]),
    [
      [undefined, ['openid']],
      ['/data/v1', ['User.Read']],
      ['api://contoso-hr', ['leave.read', 'salaries.read']],
    ],
  );
});

t.test('a replaced catalogue is what every holder sees next', async (t) => {
  const shared = new PermissionCatalogue([permission(undefined, 'openid'), permission(hr, 'leave.read')]);
  t.ok(shared.has('api://contoso-hr/leave.read'));
  shared.replace([permission(undefined, 'openid')]);
  t.notOk(shared.has('api://contoso-hr/leave.read'));
  t.same(shared.apis, []);
});
