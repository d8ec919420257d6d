// Server-rendered pages: one Eta instance shared by Fastify (@fastify/view) and by the pages
// oidc-provider renders itself (errors, logout).

import path from 'node:path';
import { fileURLToPath } from 'node:url';
import view from '@fastify/view';
import { Eta } from 'eta';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

export const viewsDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../views');

export type RenderPage = (page: string, data: Record<string, unknown>) => Promise<string>;

export function createEta(): Eta {
  // autoEscape: every `<%= %>` is HTML-escaped; cache: templates compiled once.
  return new Eta({ views: viewsDir, autoEscape: true, cache: true });
}

export function pageRenderer(eta: Eta): RenderPage {
  return (page, data) => eta.renderAsync(page, data);
}

export const viewsPlugin = fp(async (app: FastifyInstance, options: { eta: Eta }) => {
  await app.register(view, { engine: { eta: options.eta }, root: viewsDir });
});
