// Reading and checking JSON request bodies of the /api routes: a wrong shape is a clear 400, never a crash.
import type { Context } from 'hono';
import { errors } from '../../errors.js';

export type Body = Record<string, unknown>;

export async function readJsonBody(c: Context): Promise<Body> {
  let value: unknown;
  try {
    value = await c.req.json();
  } catch {
    throw errors.usage('The request body must be a JSON object.');
  }
  if (!value || typeof value !== 'object' || Array.isArray(value))
    throw errors.usage('The request body must be a JSON object.');
  return value as Body;
}

export function requireString(body: Body, field: string): string {
  const v = body[field];
  if (typeof v !== 'string' || v === '') throw errors.usage(`'${field}' is required.`);
  return v;
}

export function optionalString(body: Body, field: string): string | undefined {
  const v = body[field];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') throw errors.usage(`'${field}' must be a string.`);
  return v;
}

export function optionalBoolean(body: Body, field: string): boolean {
  const v = body[field];
  if (v === undefined || v === null) return false;
  if (typeof v !== 'boolean') throw errors.usage(`'${field}' must be true or false.`);
  return v;
}
