// How the web adapter maps the error catalogue to HTTP statuses. Typed over every ErrorCode, so a new code
// without a status does not compile.
import type { ErrorCode } from '../errors.js';

export const HTTP_STATUS: Record<ErrorCode, number> = {
  USAGE: 400,
  CANCELLED: 400,
  INVALID_INPUT: 400,
  INVALID_KEY: 422,
  INVALID_NAME: 400,
  INVALID_PROVIDER_FILE: 422,
  PROVIDER_NOT_FOUND: 404,
  PROVIDER_EXISTS: 409,
  CONNECTION_NOT_FOUND: 404,
  FIELD_NOT_FOUND: 404,
  CREDENTIAL_MISSING: 409,
  CREDENTIAL_EXPIRED: 409,
  WRONG_PASSPHRASE: 403,
  VAULT_LOCKED: 423,
  VAULT_DAMAGED: 503,
  VAULT_MODE: 409,
  ALREADY_RUNNING: 409,
  PORT_IN_USE: 500,
  SERVER_UNAVAILABLE: 503,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  UPSTREAM: 502,
  INTERNAL: 500,
};
