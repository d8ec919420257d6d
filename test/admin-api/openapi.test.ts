// The admin API's OpenAPI document (/api/v1/openapi.json) and its browsable page (/api/v1/docs):
// a valid OpenAPI 3.1 document listing exactly the API's operations, whose schemas are valid JSON
// Schema 2020-12 and describe what the API really answers.

import { Ajv2020 } from 'ajv/dist/2020.js';
import t from 'tap';
import { startTestServer } from '../support/server.js';
import {
  adminApiToken,
  callApi,
  DOCUMENTED_OPERATIONS,
  ME_OPERATIONS,
  PASSWORD,
  registerAdminClient,
} from './support.js';

const server = await startTestServer({ SIGN_IN_RATE_LIMIT: '1000' });
t.teardown(() => server.close());

type Json = any;
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

const response = await fetch(`${server.url}/api/v1/openapi.json`);
const doc: Json = await response.json();

/** Every `$ref` in the document. */
function refsOf(value: Json, found: string[] = []): string[] {
  if (Array.isArray(value)) {
    for (const item of value) refsOf(item, found);
  } else if (value && typeof value === 'object') {
    for (const [key, inner] of Object.entries(value)) {
      if (key === '$ref' && typeof inner === 'string') found.push(inner);
      else refsOf(inner, found);
    }
  }
  return found;
}

function operationsOf(document: Json): { key: string; path: string; method: string; operation: Json }[] {
  return Object.entries(document.paths as Record<string, Json>).flatMap(([path, item]) =>
    Object.entries(item)
      .filter(([method]) => METHODS.includes(method))
      .map(([method, operation]) => ({ key: `${method.toUpperCase()} ${path}`, path, method, operation })),
  );
}

t.test(
  'the document is served without a token as OpenAPI 3.1 JSON, with the bearer scheme and the issuer as server',
  async (t) => {
    t.equal(response.status, 200);
    t.match(response.headers.get('content-type'), /^application\/json/);
    t.match(doc.openapi, /^3\.1\.\d+$/);
    t.match(doc.info, { title: 'Accord admin API', version: String, description: /Organization\.ReadWrite\.All/ });
    t.same(doc.servers, [{ url: server.url }]);
    t.match(doc.components.securitySchemes.bearerAuth, { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' });
    t.same(doc.security, [{ bearerAuth: [] }], 'every operation needs the bearer token');
  },
);

t.test('it lists exactly the admin API operations, nothing else of the server', async (t) => {
  const operations = operationsOf(doc);
  t.same(operations.map(({ key }) => key).sort(), [...DOCUMENTED_OPERATIONS, ...ME_OPERATIONS].sort());
  for (const path of Object.keys(doc.paths)) t.match(path, /^\/api\/v1\/(tenants\/\{tenant\}|me)\//, path);
  t.notOk(JSON.stringify(doc.paths).includes('/data/v1'), 'not the data API');
  t.notOk(
    Object.keys(doc.paths).some((path) => /openapi\.json|\/docs/.test(path)),
    'not the document or its page',
  );
});

t.test('every operation is fully described', async (t) => {
  const tags = new Set((doc.tags as { name: string }[]).map((tag) => tag.name));
  const operationIds = new Set<string>();
  for (const { key, path, method, operation } of operationsOf(doc)) {
    t.match(operation.operationId, /^[a-z][A-Za-z]+$/, `${key}: operationId`);
    t.notOk(operationIds.has(operation.operationId), `${key}: unique operationId`);
    operationIds.add(operation.operationId);
    t.ok(operation.summary, `${key}: summary`);
    t.ok(operation.tags?.length && operation.tags.every((tag: string) => tags.has(tag)), `${key}: declared tags`);

    const pathParams = [...path.matchAll(/\{([^}]+)\}/g)].map((match) => match[1]);
    const declared = (operation.parameters ?? []).filter((parameter: Json) => parameter.in === 'path');
    t.same(declared.map((parameter: Json) => parameter.name).sort(), [...pathParams].sort(), `${key}: path parameters`);
    t.ok(
      declared.every((parameter: Json) => parameter.required === true && parameter.schema?.type === 'string'),
      `${key}: path parameters required`,
    );

    const statuses = Object.keys(operation.responses);
    t.ok(
      statuses.some((status) => /^2\d\d$/.test(status)),
      `${key}: a success answer`,
    );
    for (const status of ['400', '401', '403']) t.ok(statuses.includes(status), `${key}: documents ${status}`);
    if (/\{(id|clientId)\}/.test(path)) t.ok(statuses.includes('404'), `${key}: documents 404`);
    for (const [status, answer] of Object.entries(operation.responses as Record<string, Json>)) {
      t.ok(answer.description && answer.description !== 'Default Response', `${key} ${status}: described`);
    }

    // Actions (rotate the secret, block, unblock, remove, unlock) take no body.
    const takesBody =
      (method === 'post' || method === 'patch') && !/\/(secret|block|unblock|remove|unlock)$/.test(path);
    if (takesBody) {
      const schema = operation.requestBody?.content?.['application/json']?.schema;
      t.equal(schema?.type, 'object', `${key}: a JSON object body`);
      t.equal(schema?.additionalProperties, false, `${key}: unknown fields refused`);
    } else {
      t.notOk(operation.requestBody, `${key}: no body`);
    }
  }
});

const ajv = new Ajv2020({ strict: false, allErrors: true });
ajv.addFormat(
  'date-time',
  (value: string) =>
    /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(value) && !Number.isNaN(Date.parse(value)),
);
/** Rewrites `#/components/schemas/X` to `urn:accord:X` so each schema can be compiled alone. */
const toUrn = (schema: Json): Json =>
  JSON.parse(JSON.stringify(schema).replaceAll('"#/components/schemas/', '"urn:accord:'));

t.test('every $ref resolves and every schema is valid JSON Schema 2020-12', async (t) => {
  for (const ref of refsOf(doc)) {
    t.match(ref, /^#\/components\/schemas\/[A-Za-z]+$/, ref);
    t.ok(doc.components.schemas[ref.split('/').pop()!], `${ref} resolves`);
  }
  for (const [name, schema] of Object.entries(doc.components.schemas as Record<string, Json>)) {
    t.doesNotThrow(() => ajv.addSchema({ ...toUrn(schema), $id: `urn:accord:${name}` }), `components.schemas.${name}`);
  }
  for (const { key, operation } of operationsOf(doc)) {
    const schemas = [
      operation.requestBody?.content?.['application/json']?.schema,
      ...Object.values(operation.responses as Record<string, Json>).map(
        (answer) => answer.content?.['application/json']?.schema,
      ),
      ...(operation.parameters ?? []).map((parameter: Json) => parameter.schema),
    ].filter(Boolean);
    for (const schema of schemas) t.doesNotThrow(() => ajv.compile(toUrn(schema)), `${key}: schema compiles`);
  }
});

t.test('the documented answers describe what the API really answers', async (t) => {
  await server.directory.createTenant({ id: 'contoso', name: 'Contoso' }, 'operator');
  await server.directory.createUser(
    { tenantId: 'contoso', username: 'carol', password: PASSWORD, role: 'admin' },
    'operator',
  );
  const token = (await adminApiToken(server, await registerAdminClient(server, 'contoso'), 'carol@contoso'))
    .accessToken;

  const schemaFor = (key: string, status: number) => {
    const [method, path] = key.split(' ');
    return doc.paths[path!][method!.toLowerCase()].responses[String(status)].content['application/json'].schema;
  };
  const check = async (key: string, path: string, init: Parameters<typeof callApi>[3], status: number) => {
    const answer = await callApi(server, token, path, init);
    t.equal(answer.status, status, `${key} → ${status}`);
    const validate = ajv.compile(toUrn(schemaFor(key, status)));
    t.ok(validate(answer.body), `${key} ${status} matches its schema: ${ajv.errorsText(validate.errors)}`);
    return answer.body;
  };

  const base = '/api/v1/tenants/{tenant}';
  const userSchema = ajv.compile(toUrn(schemaFor(`GET ${base}/users/{id}`, 200)));
  t.notOk(
    userSchema({ id: 'x', tenant: 'contoso' }),
    'a negative control: the schema does refuse what it does not describe',
  );
  await check(`GET ${base}/settings`, '/tenants/contoso/settings', {}, 200);
  await check(
    `PATCH ${base}/settings`,
    '/tenants/contoso/settings',
    { method: 'PATCH', body: { integratedAppsEnabled: false } },
    200,
  );
  await check(
    `PATCH ${base}/settings`,
    '/tenants/contoso/settings',
    { method: 'PATCH', body: { integratedAppsEnabled: 'no' } },
    400,
  );
  const user = await check(
    `POST ${base}/users`,
    '/tenants/contoso/users',
    { body: { username: 'dave', password: PASSWORD, email: 'dave@contoso.example' } },
    201,
  );
  await check(`POST ${base}/users`, '/tenants/contoso/users', { body: { username: 'dave', password: PASSWORD } }, 409);
  await check(`GET ${base}/users`, '/tenants/contoso/users', {}, 200);
  await check(`GET ${base}/users`, '/tenants/contoso/users?search=dav&limit=1', {}, 200);
  await check(`GET ${base}/users`, '/tenants/contoso/users?limit=0', {}, 400);
  await check(`POST ${base}/users/{id}/unlock`, `/tenants/contoso/users/${user.id}/unlock`, { method: 'POST' }, 200);
  await check(`POST ${base}/users/{id}/unlock`, '/tenants/contoso/users/nobody/unlock', { method: 'POST' }, 404);
  await check(`GET ${base}/users/{id}`, `/tenants/contoso/users/${user.id}`, {}, 200);
  await check(`GET ${base}/users/{id}`, '/tenants/contoso/users/nobody', {}, 404);
  await check(
    `PATCH ${base}/users/{id}`,
    `/tenants/contoso/users/${user.id}`,
    { method: 'PATCH', body: { role: 'admin' } },
    200,
  );
  const app = await check(
    `POST ${base}/apps`,
    '/tenants/contoso/apps',
    {
      body: {
        name: 'Planner',
        redirectUris: ['https://planner.example/cb'],
        permissions: ['openid', 'User.Read'],
        logoUrl: 'https://planner.example/logo.png',
      },
    },
    201,
  );
  t.type(app.clientSecret, 'string');
  const publicApp = await check(
    `POST ${base}/apps`,
    '/tenants/contoso/apps',
    { body: { name: 'Phone', public: true, redirectUris: ['com.example.phone:/cb'], permissions: ['openid'] } },
    201,
  );
  t.notOk('clientSecret' in publicApp);
  await check(`GET ${base}/apps`, '/tenants/contoso/apps', {}, 200);
  await check(`GET ${base}/apps/{clientId}`, `/tenants/contoso/apps/${app.clientId}`, {}, 200);
  await check(
    `PATCH ${base}/apps/{clientId}`,
    `/tenants/contoso/apps/${app.clientId}`,
    { method: 'PATCH', body: { homepageUrl: 'https://planner.example' } },
    200,
  );
  await check(
    `POST ${base}/apps/{clientId}/secret`,
    `/tenants/contoso/apps/${app.clientId}/secret`,
    { method: 'POST' },
    200,
  );
  await check(`GET ${base}/audit-events`, '/tenants/contoso/audit-events?limit=2', {}, 200);
  await check(`GET ${base}/audit-events`, '/tenants/contoso/audit-events', {}, 200);
  await check(
    `GET ${base}/audit-events`,
    '/tenants/contoso/audit-events?actor=carol&action=user.&from=2026-01-01&to=2099-12-31',
    {},
    200,
  );
  await check(`GET ${base}/audit-events`, '/tenants/contoso/audit-events?from=2026-02-30', {}, 400);
  await check(`GET ${base}/apps`, '/tenants/contoso/apps?search=plan', {}, 200);
  await check(`GET ${base}/enterprise-apps`, '/tenants/contoso/enterprise-apps?search=plan&blocked=false', {}, 200);
  await check(`GET ${base}/settings`, '/tenants/fabrikam/settings', {}, 403);
  const deleted = await callApi(server, token, `/tenants/contoso/apps/${app.clientId}`, { method: 'DELETE' });
  t.equal(deleted.status, 204);
  t.ok(doc.paths[`${base}/apps/{clientId}`].delete.responses['204'], 'DELETE documents 204');
  const unauthenticated = await callApi(server, undefined, '/tenants/contoso/settings');
  const validate = ajv.compile(toUrn(schemaFor(`GET ${base}/settings`, 401)));
  t.ok(validate(unauthenticated.body), '401 matches the Error schema');
});

t.test('/api/v1/docs is a browsable page of this document, served under the strict CSP', async (t) => {
  const page = await fetch(`${server.url}/api/v1/docs`);
  t.equal(page.status, 200);
  t.match(page.headers.get('content-type'), /^text\/html/);
  const html = await page.text();
  t.match(html, /<div id="swagger-ui">/);
  t.match(html, /<title>Accord admin API<\/title>/);
  const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((match) => match[1]!);
  t.ok(assets.length >= 4);
  for (const asset of assets) {
    t.match(asset, /^\/api\/v1\/docs\/static\//, `${asset} is served by us, under the API's prefix`);
    const served = await fetch(`${server.url}${asset}`);
    await served.arrayBuffer(); // read it all, so the connection is free when the server closes
    t.equal(served.status, 200, asset);
  }
  const initializer = await (await fetch(`${server.url}/api/v1/docs/static/swagger-initializer.js`)).text();
  t.match(initializer, /resolveUrl\('\.\/json'\)/, 'the page loads ./json');
  t.same(await (await fetch(`${server.url}/api/v1/docs/json`)).json(), doc, 'which is the same document');

  const csp = page.headers.get('content-security-policy') ?? '';
  t.match(csp, /script-src 'self'(;|$)/, 'no inline or eval script allowed');
  t.match(csp, /frame-ancestors 'none'/);
  const other = await fetch(`${server.url}/api/v1/openapi.json`);
  await other.arrayBuffer();
  t.equal(csp, other.headers.get('content-security-policy'), 'no relaxation for the page');
});
