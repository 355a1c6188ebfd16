// /api/run-sessions: `authsome run` asks for a proxy session (scope, proxy URL with its secret, CA paths,
// placeholder names) and ends it when the child exits.
import { randomBytes } from 'node:crypto';
import { Hono } from 'hono';
import { errors, isAppError } from '../../errors.js';
import { describePeer, findPeerRun, refuseSecretsToRuns } from '../peer-process.js';
import type { ServerDeps } from '../deps.js';
import type { PolicyInput } from '../../runs/policy.js';
import { readJsonBody } from './body.js';

export function createRunSessionsApi(deps: ServerDeps): Hono {
  const api = new Hono();

  api.post('/', async (c) => {
    const body = await readJsonBody(c);
    // The CLI drops inherited variables holding a stored secret; it gets digests under a salt used once, never values.
    // Asked before this run exists: a process of another live run gets none (a digest with its salt would let it
    // test guesses of a key offline).
    const salt = randomBytes(16).toString('base64url');
    const digests = await refuseSecretsToRuns({ ...describePeer(c, deps), action: 'digest' }).then(
      () => deps.connections.digestStoredSecrets(salt),
      (err: unknown) => {
        if (isAppError(err) && err.code === 'FORBIDDEN') return [];
        throw err;
      },
    );
    // A live run's process asking for a run of its own: the new run is kept within that one.
    const outerRun = await findPeerRun(describePeer(c, deps));
    const run = await deps.runs.start({
      ...(outerRun === undefined ? {} : { outerRun }),
      pid: typeof body.pid === 'number' && Number.isInteger(body.pid) && body.pid > 0 ? body.pid : undefined,
      only: readStringList(body.only, 'only'),
      connections: readStringMap(body.connections, 'connections'),
      program: typeof body.program === 'string' && body.program !== '' ? body.program : undefined,
      selfTest: body.self_test === true,
      policy: readPolicy(body.policy),
      stableCa: body.stable_ca === true,
    });
    return c.json({
      id: run.id,
      proxy_url: run.proxyUrl,
      ca_cert_path: run.caCertPath,
      ca_bundle_path: run.caBundlePath,
      preload_path: run.preloadPath,
      placeholders: run.placeholders,
      placeholder_values: run.placeholderValues,
      scope: run.scope.map((e) => ({ provider: e.provider, connection: e.connection })),
      skipped: run.skipped,
      warnings: run.warnings,
      secret_digests: { salt, digests },
      policy_rules: run.policyRules,
      policy_warnings: run.policyWarnings,
    });
  });

  api.get('/:id', (c) => {
    if (!deps.runs.isLive(c.req.param('id')))
      throw errors.notFound('No such run session (it has ended, or the server restarted).');
    return c.json({ live: true });
  });

  api.post('/:id/end', async (c) => {
    const body = await readJsonBody(c);
    const exitCode = typeof body.exit_code === 'number' ? body.exit_code : undefined;
    const summary = deps.runs.summarize(c.req.param('id'));
    const ended = await deps.runs.end(c.req.param('id'), exitCode);
    if (!ended) throw errors.notFound('No such run session (it has ended already).');
    return c.json({ ended: true, summary: summary ?? {} });
  });

  return api;
}

/**
 * `{allow?: string[], read_only?: boolean, max_requests?: number}`, checked here; the rules are parsed by the run
 * service.
 */
function readPolicy(value: unknown): PolicyInput | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) throw errors.usage("'policy' must be an object.");
  const v = value as Record<string, unknown>;
  const maxRequests = v.max_requests;
  if (maxRequests !== undefined && (typeof maxRequests !== 'number' || !Number.isInteger(maxRequests)))
    throw errors.usage("'policy.max_requests' must be a whole number.");
  return {
    allow: readStringList(v.allow, 'policy.allow'),
    readOnly: v.read_only === true,
    ...(maxRequests !== undefined ? { maxRequests: maxRequests as number } : {}),
  };
}

function readStringList(value: unknown, field: string): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string' && v !== ''))
    throw errors.usage(`'${field}' must be a list of names.`);
  return value as string[];
}

function readStringMap(value: unknown, field: string): Record<string, string> | undefined {
  if (value === undefined || value === null) return undefined;
  if (
    typeof value !== 'object' ||
    Array.isArray(value) ||
    !Object.values(value).every((v) => typeof v === 'string' && v !== '')
  ) {
    throw errors.usage(`'${field}' must map provider names to connection names.`);
  }
  return value as Record<string, string>;
}
