// The one size limit on request bodies, for the /api JSON and the page forms alike. Nothing authsome accepts comes
// near it (a provider definition is a few KiB); without it any holder of the token or a session could make the
// server buffer bodies of any size. Counts streamed bytes too, so a chunked body without Content-Length is caught.
import type { Context, MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { errors, type AppError } from '../errors.js';

export const MAX_BODY_BYTES = 1024 * 1024;

export function createBodyLimit<C extends Context>(answer: (c: C, err: AppError) => Response): MiddlewareHandler {
  return bodyLimit({
    maxSize: MAX_BODY_BYTES,
    onError: (c) => {
      // The rest of the body is never read: close the connection rather than wait for (or drain) it.
      c.header('Connection', 'close');
      return answer(c as C, errors.payloadTooLarge('1 MiB'));
    },
  });
}
