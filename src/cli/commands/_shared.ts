// Argument presets shared by the commands, and the one-liners every command uses to reach the server.
import { connectApi, type ApiClient } from '../../client/api-client.js';
import { errors } from '../../errors.js';
import { getOutput } from '../output.js';
import { isInteractive, promptConfirm } from '../prompt.js';

export const providerArg = {
  provider: { type: 'positional', description: 'Provider name (see `authsome list`)', required: true },
} as const;

export const connectionArg = {
  connection: {
    type: 'string',
    alias: 'c',
    description: "Connection name (default: the provider's default connection)",
    valueHint: 'name',
  },
} as const;

/** Connects to the running server, starting it in the background when needed (progress on stderr). */
export function connect(): Promise<ApiClient> {
  const out = getOutput();
  return connectApi({ onProgress: (m) => out.info(m), onWarning: (m) => out.warn(m) });
}

export const yesArg = {
  yes: {
    type: 'boolean',
    alias: 'y',
    description: 'Do not ask for confirmation (it is never asked when stdin is not a terminal)',
  },
} as const;

/** Destructive commands ask first on a terminal; scripts (no terminal) and --yes go ahead. Declining exits 2. */
export async function confirmDestructive(question: string, yes: boolean | undefined): Promise<void> {
  if (yes || !isInteractive()) return;
  if (!(await promptConfirm(question))) throw errors.cancelled();
}

/** What the server says of a provider after a removal, for the line that tells what the removal did not do. */
export interface RemovalInfo {
  display_name: string;
  auth_type: 'api_key' | 'oauth2';
  docs_url: string | null;
  bundled: boolean;
}

/** What the server answers to logout, revoke and remove, besides what each removed. */
export interface RemovalReply {
  info: RemovalInfo | null;
  warnings?: string[];
}

/**
 * After a removal: the server's warnings, the confirmation, then what the removal did not do (`removed` keys
 * deleted here still work at the provider).
 */
export function reportRemoval(reply: RemovalReply, removed: number, message: string, fields: Record<string, unknown>) {
  const out = getOutput();
  for (const warning of reply.warnings ?? []) out.warn(warning);
  out.confirm(message, fields);
  const note = reply.info && removed > 0 && describeKeyStillValid(reply.info, removed > 1);
  if (note) out.info(note);
}

/** An API key deleted here still works at the provider: say so, and where to revoke it. */
function describeKeyStillValid(info: RemovalInfo, plural: boolean): string | undefined {
  if (info.auth_type !== 'api_key') return undefined;
  const what = plural
    ? 'The keys were deleted from this machine only; they still work'
    : 'The key was deleted from this machine only; it still works';
  const where = info.docs_url ? `there: ${info.docs_url}` : `in the ${info.display_name} dashboard`;
  return `${what} at ${info.display_name} until you revoke ${plural ? 'them' : 'it'} ${where}.`;
}
