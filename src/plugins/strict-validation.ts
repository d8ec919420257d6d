// Request validation for a JSON API scope: unknown fields are refused (Fastify's default Ajv
// silently strips them, `removeAdditional: true`), bodies are never type-coerced (`"true"` is not
// a boolean), and every error names the field it is about.
import { Ajv, type Options as AjvOptions } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { FastifyInstance, FastifySchemaValidationError } from 'fastify';

/** Which part of the request failed: `body`, `params`, `querystring` or `headers`. */
type SchemaErrorDataVar = string;

const COMMON: AjvOptions = {
  removeAdditional: false,
  useDefaults: true,
  allErrors: false, // all errors at once would let a crafted body make validation slow
  strict: true,
  allowUnionTypes: true, // `type: ['string', 'null']`
};

// ajv-formats is CommonJS: its default export arrives wrapped under ESM.
const addFormats = ((addFormatsModule as unknown as { default?: typeof addFormatsModule }).default ??
  addFormatsModule) as unknown as (ajv: Ajv) => Ajv;

/** Bodies: exactly the JSON types the schema says. */
const bodyAjv = addFormats(new Ajv({ ...COMMON, coerceTypes: false }));
/** Path and query strings are text: `?limit=20` becomes the integer 20. */
const textAjv = addFormats(new Ajv({ ...COMMON, coerceTypes: true }));

/** `body.redirectUris.0` for instancePath `/redirectUris/0` of the body. */
export function fieldOf(error: FastifySchemaValidationError, dataVar: SchemaErrorDataVar): string {
  const path = error.instancePath
    .split('/')
    .filter(Boolean)
    .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'));
  const missing = error.params.missingProperty ?? error.params.additionalProperty;
  if (typeof missing === 'string') path.push(missing);
  return [dataVar, ...path].join('.');
}

export function describeValidationError(error: FastifySchemaValidationError, dataVar: SchemaErrorDataVar): string {
  const field = fieldOf(error, dataVar);
  switch (error.keyword) {
    case 'required':
      return `${field} is required`;
    case 'additionalProperties':
      return `${field} is not a known field`;
    case 'enum':
      return `${field} must be one of: ${(error.params.allowedValues as unknown[]).join(', ')}`;
    case 'minProperties':
      return `${field} must contain at least one field`;
    default:
      return `${field} ${error.message ?? 'is invalid'}`;
  }
}

/** Applies strict validation to every route registered in `app`'s scope after this call. */
export function useStrictValidation(app: FastifyInstance): void {
  app.setValidatorCompiler(({ schema, httpPart }) =>
    (httpPart === 'body' ? bodyAjv : textAjv).compile(schema as object),
  );
  app.setSchemaErrorFormatter(
    (errors, dataVar) => new Error(errors[0] ? describeValidationError(errors[0], dataVar) : `${dataVar} is invalid`),
  );
}
