// Runs the example API: `node --import tsx examples/invoices-api/server.ts` (see README.md).
import { buildInvoicesApi } from './app.js';

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required (see examples/invoices-api/README.md)`);
  return value;
}

const port = Number(process.env.PORT ?? 4000);
const app = await buildInvoicesApi({
  issuer: required('ACCORD_ISSUER'),
  identifier: required('API_IDENTIFIER'),
  client: { id: required('CLIENT_ID'), secret: required('CLIENT_SECRET') },
  publicOrigin: process.env.PUBLIC_ORIGIN ?? `http://localhost:${port}`,
});
await app.listen({ port, host: process.env.HOST ?? '127.0.0.1' });
