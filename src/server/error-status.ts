// How the web adapter maps the error catalogue to HTTP statuses (typed over every ErrorCode, so a new code
// without a status does not compile), and what it shows for an error that is not in the catalogue.
import { AppError, errors, type ErrorCode } from '../errors.js';

export const HTTP_STATUS: Record<ErrorCode, number> = {
  USAGE: 400,
  CANCELLED: 400,
  INVALID_INPUT: 400,
  PAYLOAD_TOO_LARGE: 413,
  INVALID_KEY: 422,
  INVALID_NAME: 400,
  INVALID_PROVIDER_FILE: 422,
  PROVIDER_NOT_FOUND: 404,
  PROVIDER_EXISTS: 409,
  COMMAND_NOT_FOUND: 400,
  COMMAND_NOT_EXECUTABLE: 400,
  SANDBOX_UNAVAILABLE: 500,
  CONNECTION_EXISTS: 409,
  CONNECTION_NOT_FOUND: 404,
  FIELD_NOT_FOUND: 404,
  CREDENTIAL_MISSING: 409,
  CREDENTIAL_EXPIRED: 409,
  WRONG_PASSPHRASE: 403,
  TOO_MANY_ATTEMPTS: 429,
  VAULT_LOCKED: 423,
  VAULT_DAMAGED: 503,
  VAULT_MODE: 409,
  VAULT_WRITE_FAILED: 500,
  AUDIT_BROKEN: 409,
  ALREADY_RUNNING: 409,
  PORT_IN_USE: 500,
  SERVER_UNAVAILABLE: 503,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  UPSTREAM: 502,
  OAUTH_FAILED: 400,
  INTERNAL: 500,
};

/**
 * The AppError to show for anything a route threw. Anything else is a bug: its stack goes to the server log
 * (method and path only, never a query string or a body), and the client sees a generic internal error.
 */
export function toShownError(err: unknown, method: string, path: string): AppError {
  if (err instanceof AppError) return err;
  process.stderr.write(`authsome: unexpected error on ${method} ${path}: ${(err as Error)?.stack ?? String(err)}\n`);
  return errors.internal();
}
