// Server-rendered pages: one Eta instance shared by Fastify (@fastify/view) and by the pages
// oidc-provider renders itself (errors, logout).

import path from 'node:path';
import { fileURLToPath } from 'node:url';
import view from '@fastify/view';
import { Eta } from 'eta';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { type Locale, pageLocale } from './i18n.js';

export const viewsDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../views');

/** Renders a page in a language (the pages oidc-provider serves itself: error, logout, signed out). */
export type RenderPage = (page: string, data: Record<string, unknown>, locale: Locale) => Promise<string>;

export function createEta(): Eta {
  // autoEscape: every `<%= %>` is HTML-escaped; cache: templates compiled once.
  return new Eta({ views: viewsDir, autoEscape: true, cache: true });
}

export function pageRenderer(eta: Eta): RenderPage {
  return (page, data, locale) => eta.renderAsync(page, { ...pageLocale(locale), ...data });
}

export const viewsPlugin = fp(async (app: FastifyInstance, options: { eta: Eta }) => {
  await app.register(view, { engine: { eta: options.eta }, root: viewsDir });
});
