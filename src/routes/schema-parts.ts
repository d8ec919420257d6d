// TypeBox building blocks that several routes share. A route's schema is the one source of its
// request and reply types (`Static<typeof Schema>`, or the type provider in the handler).
import { type TSchemaOptions, Type } from 'typebox';

/**
 * A string enum, written `type` + `enum` (not TypeBox's `anyOf` of literals), so a wrong value's
 * validation error lists the allowed ones.
 */
export const stringEnum = <const Values extends string[]>(values: readonly [...Values], options: TSchemaOptions = {}) =>
  Type.Enum(values, { type: 'string', ...options });

/** The `_csrf` field every form posts (checked by the CSRF plugin before validation). */
export const csrfField = Type.Optional(Type.String());

/** A form with nothing but its CSRF token: a confirmed action. */
export const CsrfOnlyBody = Type.Object({ _csrf: csrfField });

/** Checkboxes of one name: a form posts one value as a string, several as an array. */
export const ticked = Type.Union([
  Type.String({ maxLength: 300 }),
  Type.Array(Type.String({ maxLength: 300 }), { maxItems: 200 }),
]);

/** Whether the consent pages offer `scope` as an optional permission of the app (issue 15): never `openid`. */
export function optionalChoice(app: { optionalScopes: readonly string[] }, scope: string): boolean {
  return scope !== 'openid' && app.optionalScopes.includes(scope);
}
