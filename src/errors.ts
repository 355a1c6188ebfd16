// The catalogue of every user-facing error. Core code throws AppError; each adapter maps the code
// (cli/output.ts → exit code, server → HTTP status, proxy → 502 JSON). Messages never contain a secret.

export type ErrorCode =
  | 'USAGE'
  | 'CANCELLED'
  | 'INVALID_INPUT'
  | 'PAYLOAD_TOO_LARGE'
  | 'INVALID_KEY'
  | 'INVALID_NAME'
  | 'INVALID_PROVIDER_FILE'
  | 'PROVIDER_NOT_FOUND'
  | 'PROVIDER_EXISTS'
  | 'CONNECTION_NOT_FOUND'
  | 'CONNECTION_EXISTS'
  | 'COMMAND_NOT_FOUND'
  | 'COMMAND_NOT_EXECUTABLE'
  | 'SANDBOX_UNAVAILABLE'
  | 'FIELD_NOT_FOUND'
  | 'CREDENTIAL_MISSING'
  | 'CREDENTIAL_EXPIRED'
  | 'WRONG_PASSPHRASE'
  | 'TOO_MANY_ATTEMPTS'
  | 'VAULT_LOCKED'
  | 'VAULT_DAMAGED'
  | 'VAULT_MODE'
  | 'VAULT_WRITE_FAILED'
  | 'AUDIT_BROKEN'
  | 'ALREADY_RUNNING'
  | 'PORT_IN_USE'
  | 'SERVER_UNAVAILABLE'
  | 'UNAUTHORIZED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'UPSTREAM'
  | 'OAUTH_FAILED'
  | 'INTERNAL';

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly hint?: string;
  /** The bare reason, for callers that phrase the message themselves (e.g. `list` warnings). */
  readonly detail?: string;
  constructor(code: ErrorCode, message: string, hint?: string, detail?: string) {
    super(message);
    this.name = 'AppError';
    this.code = code;
    this.hint = hint;
    this.detail = detail;
  }
  toJSON(): { error: ErrorCode; message: string; hint?: string } {
    return { error: this.code, message: this.message, ...(this.hint ? { hint: this.hint } : {}) };
  }
}

export function isAppError(value: unknown): value is AppError {
  return value instanceof AppError;
}

/** Rebuilds an AppError from its JSON form (the CLI receives errors from the server this way). */
export function parseAppError(body: unknown): AppError | undefined {
  if (!body || typeof body !== 'object') return undefined;
  const { error, message, hint } = body as Record<string, unknown>;
  if (typeof error !== 'string' || typeof message !== 'string') return undefined;
  return new AppError(error as ErrorCode, message, typeof hint === 'string' ? hint : undefined);
}

const listHint = "Run 'authsome list' to see the available providers.";

/**
 * What the server refuses to a live run's processes: each hands over a secret, a page that can reveal one, or (a
 * provider definition says where a credential goes) a way to send one elsewhere.
 */
export type SecretAction =
  | 'reveal'
  | 'export'
  | 'sign-in'
  | 'digest'
  | 'register'
  | 'store-key'
  | 'remove-connection'
  | 'set-default'
  | 'change-vault';
const SECRET_ACTIONS: Record<SecretAction, string> = {
  reveal: 'reveal a secret',
  export: 'export secrets',
  'sign-in': 'sign a browser in to authsome (its pages can reveal a secret)',
  digest: 'read digests of the stored secrets',
  register: 'add or replace a provider definition',
  'store-key': 'store or replace a key',
  'remove-connection': 'log out, revoke or remove a connection',
  'set-default': 'change which connection is the default',
  'change-vault': 'lock the vault or change its passphrase',
};

const ANSWER_COMPRESSION = {
  unsupported: 'compressed with a coding the proxy cannot decode',
  corrupt: 'compressed data that could not be decoded',
};

/** How a login that is over ended, in the words of the error for an answer that came too late. */
const ENDED_LOGIN_STATES: Record<string, string> = {
  completed: 'finished already',
  cancelled: 'was cancelled',
  expired: 'expired',
  failed: 'failed',
};

export const errors = {
  usage: (message: string, hint?: string) => new AppError('USAGE', message, hint),
  cancelled: () => new AppError('CANCELLED', 'Cancelled.'),
  loginCancelledInBrowser: (provider: string) =>
    new AppError(
      'CANCELLED',
      'The login was cancelled in the browser.',
      `Run 'authsome login ${provider}' to start again.`,
    ),
  loginTimedOut: (provider: string) =>
    new AppError(
      'CANCELLED',
      'The login form was not submitted in time.',
      `Run 'authsome login ${provider}' again for a new link.`,
    ),
  invalidInput: (message: string, hint?: string) => new AppError('INVALID_INPUT', message, hint),

  payloadTooLarge: (limit: string) =>
    new AppError(
      'PAYLOAD_TOO_LARGE',
      `The request body is larger than authsome accepts (${limit}).`,
      'Send a smaller request: API calls and provider definitions are a few KiB at most.',
    ),

  invalidKey: (displayName: string, hint: string | undefined, pattern: string | undefined) =>
    new AppError(
      'INVALID_KEY',
      `This does not look like a valid ${displayName} API key.`,
      hint ?? (pattern ? `The key must match the pattern ${pattern}.` : undefined),
    ),
  emptyKey: (displayName: string, docsUrl?: string) =>
    new AppError(
      'INVALID_KEY',
      `No ${displayName} API key was entered.`,
      docsUrl ? `Paste the key you created at ${docsUrl}.` : 'Paste the key and press Enter.',
    ),
  invalidName: (kind: 'provider' | 'connection', name: string) =>
    new AppError(
      'INVALID_NAME',
      `Invalid ${kind} name '${name}'.`,
      kind === 'connection'
        ? "Connection names are 1-64 characters: letters, digits, '.', '_' or '-', starting with a letter or digit."
        : "Provider names are lower-case letters, digits, '.', '_' or '-', starting with a letter or digit.",
    ),
  invalidProviderFile: (path: string, detail: string, hint?: string) =>
    new AppError(
      'INVALID_PROVIDER_FILE',
      `Provider file ${path} is invalid: ${detail}.`,
      hint ??
        "Fix the file ('authsome inspect openai' prints a valid example), or delete it to use the bundled definition.",
      detail,
    ),
  providerNotFound: (name: string, closest?: string) =>
    new AppError(
      'PROVIDER_NOT_FOUND',
      `Provider '${name}' not found.`,
      closest ? `Did you mean '${closest}'? ${listHint}` : listHint,
    ),
  providerExists: (name: string) =>
    new AppError('PROVIDER_EXISTS', `Provider '${name}' already exists.`, 'Use --force to replace it.'),
  /** A run's allow-list, read-only mode or request cap refused a request; nothing was sent upstream. */
  requestDenied: (reason: string) =>
    new AppError(
      'FORBIDDEN',
      `Refused by this run's rules: ${reason}; nothing was sent.`,
      "Start the run with a rule that allows it (--allow 'provider:METHOD:/path'), or without --read-only " +
        '/ --max-requests.',
    ),
  /** `run`'s child could not start; the exit codes are a shell's (127, 126), so scripts read them the same way. */
  commandNotFound: (command: string) =>
    new AppError(
      'COMMAND_NOT_FOUND',
      `Command not found: ${command}.`,
      'Check the spelling, or give the full path to the program.',
    ),
  commandNotExecutable: (command: string) =>
    new AppError(
      'COMMAND_NOT_EXECUTABLE',
      `Permission denied: ${command}.`,
      'Make the file executable (chmod +x), or run it through its interpreter.',
    ),
  /** `run --sandbox` never falls back to an unsandboxed child: the person asked for the boundary. */
  sandboxUnavailable: (detail: string, hint: string) =>
    new AppError(
      'SANDBOX_UNAVAILABLE',
      `The sandbox for 'authsome run --sandbox' is not available: ${detail}.`,
      hint,
      detail,
    ),
  /** Agents use credentials through the proxy; a process of a live run never receives one. */
  secretsRefusedToRun: (action: SecretAction) =>
    new AppError(
      'FORBIDDEN',
      `Refused: a process started by 'authsome run' may not ${SECRET_ACTIONS[action]}.`,
      "Agents under 'authsome run' use credentials through its proxy and never receive them. Run this from " +
        'your own terminal, outside the run.',
    ),
  /** While a run is live, a caller that hides its process is treated as one of the run's. */
  secretsRefusedToUnknownPeer: (action: SecretAction) =>
    new AppError(
      'FORBIDDEN',
      `Refused to ${SECRET_ACTIONS[action]} while an 'authsome run' is live: the process asking could not ` +
        'be identified.',
      'Run this from your own terminal (not a process that hides its file descriptors), or once the run has ended.',
    ),
  secretFieldHidden: (provider: string, field: string) =>
    new AppError(
      'USAGE',
      `'${field}' is a secret and is not printed without --show-secret.`,
      `Run 'authsome get ${provider} --field ${field} --show-secret' to print it, or 'authsome run -- ` +
        "<command>' so that it never leaves authsome.",
    ),
  /** A key was handed over (stdin) for a connection that exists: not stored, and a script must not think it was. */
  connectionExists: (provider: string, connection: string, command: string) =>
    new AppError(
      'CONNECTION_EXISTS',
      `Already logged in to ${provider} (${connection}); the key that was given was not stored.`,
      `To replace the stored key, add --force: ${command} --force`,
    ),
  /** The provider has no connection at all: the person is simply not logged in yet. */
  noConnection: (provider: string) =>
    new AppError('CONNECTION_NOT_FOUND', `No connection for ${provider}.`, `Run 'authsome login ${provider}' first.`),
  connectionNotFound: (provider: string, connection: string) =>
    new AppError(
      'CONNECTION_NOT_FOUND',
      `Connection '${connection}' not found for provider '${provider}'.`,
      `Run 'authsome login ${provider}${connection === 'default' ? '' : ` --connection ${connection}`}' ` +
        "first, or 'authsome list' to see your connections.",
    ),
  fieldNotFound: (field: string) =>
    new AppError(
      'FIELD_NOT_FOUND',
      `Field '${field}' not found.`,
      'Run the command without --field to see every field.',
    ),
  credentialMissing: (provider: string, connection: string) =>
    new AppError(
      'CREDENTIAL_MISSING',
      `The connection ${provider} (${connection}) has no usable credential.`,
      `Run 'authsome login ${provider} --force'.`,
    ),
  credentialExpired: (provider: string, connection: string, detail?: string) =>
    new AppError(
      'CREDENTIAL_EXPIRED',
      `The credential for ${provider} (${connection}) has expired${detail ? `: ${detail}` : ''}.`,
      `Run 'authsome login ${provider} --force'.`,
    ),

  wrongPassphrase: (vaultPath: string) =>
    new AppError(
      'WRONG_PASSPHRASE',
      `Wrong passphrase for the vault at ${vaultPath}.`,
      'Check the passphrase and try again.',
    ),
  tooManyUnlockAttempts: (retryInSeconds: number) =>
    new AppError(
      'TOO_MANY_ATTEMPTS',
      `Too many wrong passphrases: unlocking is paused for ${retryInSeconds} more ` +
        `second${retryInSeconds === 1 ? '' : 's'}.`,
      `Wait ${retryInSeconds} second${retryInSeconds === 1 ? '' : 's'}, then try again with the right passphrase.`,
    ),
  vaultLocked: () => new AppError('VAULT_LOCKED', 'The vault is locked.', "Run 'authsome unlock'."),
  vaultDamaged: (vaultPath: string, detail: string) =>
    new AppError(
      'VAULT_DAMAGED',
      `The vault at ${vaultPath} is damaged: ${detail}.`,
      `authsome has not changed it. Restore the copy from the previous write with 'cp ${vaultPath}.bak ` +
        `${vaultPath}'; the server reads it again on the next command.`,
    ),
  vaultMode: (message: string, hint?: string) => new AppError('VAULT_MODE', message, hint),

  alreadyRunning: (pid: number, url: string) =>
    new AppError(
      'ALREADY_RUNNING',
      `authsome is already running (pid ${pid}) on ${url}`,
      "Use 'authsome daemon status', or 'authsome daemon stop' to stop it.",
    ),
  portInUse: (host: string, port: number) =>
    new AppError(
      'PORT_IN_USE',
      `Port ${port} on ${host} is already in use by another program.`,
      `Stop that program, or run authsome on another port: AUTHSOME_PORT=<port> (or 'authsome serve --port <port>').`,
    ),
  /** A server that failed to start printed its own Error/Hint in server.log: the CLI repeats them as they are. */
  serverFailedToStart: (message: string, hint: string) => new AppError('SERVER_UNAVAILABLE', message, hint),
  portNotAllowed: (host: string, port: number) =>
    new AppError(
      'PORT_IN_USE',
      `Not allowed to listen on ${host}:${port}.`,
      'Choose a port above 1023 with AUTHSOME_PORT.',
    ),
  /** Anything not foreseen: the CLI's last resort, never with a secret (only the error's own message). */
  unexpected: (detail: string) =>
    new AppError(
      'INTERNAL',
      `Unexpected failure: ${detail}`,
      "Set AUTHSOME_DEBUG=1 for details, and see 'authsome daemon logs'.",
    ),
  serverUnavailable: (detail: string, hint?: string) =>
    new AppError(
      'SERVER_UNAVAILABLE',
      `The authsome server is not available: ${detail}.`,
      hint ??
        "Start it with 'authsome daemon start' (or unset AUTHSOME_NO_AUTOSTART), then see 'authsome daemon logs'.",
    ),
  unauthorized: (message = 'Missing or invalid API token.') => new AppError('UNAUTHORIZED', message),
  forbidden: (message: string) => new AppError('FORBIDDEN', message),
  /** `log --verify` found the audit log's hash chain broken: `file` line `line` is the first one that is wrong. */
  auditBroken: (file: string, line: number, reason: string) =>
    new AppError(
      'AUDIT_BROKEN',
      `The audit log is broken at line ${line} of ${file}: ${reason}.`,
      'Entries from that line on cannot be trusted. Keep a copy of the files for investigation; authsome ' +
        'does not repair them.',
    ),
  notFound: (message = 'Not found.') => new AppError('NOT_FOUND', message),
  upstream: (message: string, hint?: string) => new AppError('UPSTREAM', message, hint),
  /**
   * An answer that may echo a credential came compressed in a form the proxy cannot read, so it was withheld rather
   * than relayed unscanned. The upstream's own header value is never quoted: it is the upstream's text, not ours.
   */
  answerNotScannable: (where: string, cause: 'unsupported' | 'corrupt') =>
    new AppError(
      'UPSTREAM',
      `The answer from ${where} was ${ANSWER_COMPRESSION[cause]}, so it could not be checked for the credential ` +
        'and was withheld.',
      "The upstream ignored 'Accept-Encoding: identity'. Retry the request; the proxy decodes gzip, deflate, br only.",
    ),

  /** The `state` of an OAuth answer is unknown or was used already: a forged, replayed or stale callback. */
  oauthStateMismatch: () =>
    new AppError(
      'OAUTH_FAILED',
      'This sign-in answer does not match any login authsome is waiting for (unknown or already used ' +
        'state); nothing was stored.',
      "Start again with 'authsome login <provider>' and finish the sign-in in the browser it opens.",
    ),
  /** The answer's `iss` (RFC 9207) names another authorization server: a mix-up; its code is sent nowhere. */
  oauthIssuerMismatch: (displayName: string, provider: string, issuer: string) =>
    new AppError(
      'OAUTH_FAILED',
      `This sign-in answer was not issued by ${displayName} but by ${issuer}; its code was sent nowhere and ` +
        'nothing was stored.',
      `A site may have sent your browser on to another provider. Run 'authsome login ${provider}' again and check ` +
        'where the browser signs in.',
    ),
  /** An OAuth answer for a login that is over (cancelled, expired, finished, failed): nothing is stored. */
  loginLinkEnded: (provider: string, state: string) =>
    new AppError(
      'OAUTH_FAILED',
      `This login is no longer waiting (it ${ENDED_LOGIN_STATES[state] ?? 'ended'}); nothing was stored.`,
      `Run 'authsome login ${provider}' to start again.`,
    ),
  oauthDenied: (displayName: string, provider: string, detail?: string) =>
    new AppError(
      'OAUTH_FAILED',
      `${displayName} did not grant access${detail ? ` (${detail})` : ''}; nothing was stored.`,
      `Run 'authsome login ${provider}' to try again, and approve the request.`,
    ),
  oauthClientMissing: (displayName: string, provider: string) =>
    new AppError(
      'USAGE',
      `No OAuth client id for ${displayName} yet.`,
      `Register an OAuth app at ${displayName}, then enter its client id on the form 'authsome login ` +
        `${provider}' opens.`,
    ),
  /** The token endpoint said no (RFC 6749 §5.2); `error` is its code, `detail` its description, both cleaned. */
  oauthTokenRefused: (displayName: string, provider: string, error: string, detail?: string) =>
    new AppError(
      'OAUTH_FAILED',
      `${displayName} refused the token request: ${error}${detail ? ` (${detail})` : ''}; nothing was stored.`,
      error === 'invalid_client' || error === 'unauthorized_client'
        ? `Check the client id and secret of your OAuth app, then run 'authsome login ${provider} --force' ` +
            'and enter them again.'
        : `Run 'authsome login ${provider} --force' to sign in again.`,
      error,
    ),
  deviceCodeExpired: (displayName: string, provider: string) =>
    new AppError(
      'OAUTH_FAILED',
      `The code for ${displayName} expired before it was entered; nothing was stored.`,
      `Run 'authsome login ${provider}' again for a new code, and enter it within the time shown.`,
    ),
  oauthBadResponse: (displayName: string, provider: string, detail: string) =>
    new AppError(
      'UPSTREAM',
      `The token endpoint of ${displayName} gave an answer authsome cannot use: ${detail}; nothing was stored.`,
      `Check oauth.token_url in the provider definition ('authsome inspect ${provider}'), then try again.`,
    ),
  oauthUnreachable: (displayName: string, host: string, detail: string) =>
    new AppError(
      'UPSTREAM',
      `Could not reach ${displayName} at ${host}: ${detail}; nothing was stored.`,
      'Check your network connection (and, for a server with a private CA, NODE_EXTRA_CA_CERTS of the ' +
        'authsome server), then try again.',
    ),
  internal: (message = 'Internal error.') =>
    new AppError('INTERNAL', message, "See 'authsome daemon logs' for details."),
};

export const vaultErrors = {
  keyFileMissing: (vaultPath: string, keyPath: string) =>
    new AppError(
      'VAULT_DAMAGED',
      `The vault at ${vaultPath} cannot be opened: its key file ${keyPath} is missing or unreadable.`,
      `Restore ${keyPath} from a backup. authsome has not changed the vault.`,
    ),
  vaultMissing: (vaultPath: string) =>
    new AppError(
      'VAULT_DAMAGED',
      `The vault at ${vaultPath} is missing, but its backup ${vaultPath}.bak exists.`,
      `Restore it with 'cp ${vaultPath}.bak ${vaultPath}'; the server reads it again on the next command ` +
        '(authsome will not create a new, empty vault in its place).',
    ),
  /** Found before a write: the file on disk is no longer the one the server last read or wrote. */
  /** The disk refused a write (full, read-only, gone): nothing changed, in memory or on disk. */
  vaultWriteFailed: (vaultPath: string, cause: unknown) =>
    new AppError(
      'VAULT_WRITE_FAILED',
      `Could not write the vault at ${vaultPath} ` +
        `(${(cause as NodeJS.ErrnoException | undefined)?.code ?? 'unknown error'}); nothing was changed.`,
      `Check the free space and the permissions of ${vaultPath.replace(/\/[^/]*$/, '')}, then try again.`,
    ),
  vaultChangedUnderneath: (vaultPath: string) =>
    new AppError(
      'VAULT_DAMAGED',
      `The vault at ${vaultPath} was changed by another program since authsome read it; authsome wrote ` +
        'nothing over it.',
      "To use the file as it is now, restart the server ('authsome daemon restart'); to go back to the " +
        `backup authsome kept instead, 'cp ${vaultPath}.bak ${vaultPath}'.`,
    ),
  vaultDeletedUnderneath: (vaultPath: string, backupExists: boolean) =>
    new AppError(
      'VAULT_DAMAGED',
      `The vault at ${vaultPath} was deleted by another program while authsome was running; authsome did ` +
        'not create a new one.',
      backupExists
        ? `Restore it with 'cp ${vaultPath}.bak ${vaultPath}'; the server reads it again on the next command.`
        : 'Put vault.json back if you have a copy; to start over with a new, empty vault, restart the server ' +
            "('authsome daemon restart').",
    ),
};
