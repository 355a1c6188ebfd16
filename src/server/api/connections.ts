// /api connection routes: login with an API key, logout, revoke, remove, get, export, set-default.
import { Hono, type Context } from 'hono';
import type { ServerDeps } from '../deps.js';
import { describePeer, refuseSecretsToRuns } from '../peer-process.js';
import { optionalBoolean, optionalString, readJsonBody, requireString } from './body.js';

export function createConnectionsApi(deps: ServerDeps): Hono {
  const api = new Hono();
  const svc = deps.connections;
  // A secret leaves the server only for a caller outside every live run: an agent uses keys through the proxy. Nor
  // may a run's process change what the person stored: a key of its own in place of theirs would send their later
  // requests (prompts, data) to its account; a removal, revocation or new default is theirs to decide.
  const refuseToRuns = (
    c: Context,
    action: 'reveal' | 'export' | 'store-key' | 'remove-connection' | 'set-default',
    provider?: string,
  ) => refuseSecretsToRuns({ ...describePeer(c, deps), action, provider });

  api.get('/login/describe', async (c) => {
    const provider = c.req.query('provider') ?? '';
    const { entry, connection, exists } = await svc.describeLogin(provider, c.req.query('connection') || undefined);
    const def = entry.definition;
    return c.json({
      provider: def.name,
      display_name: def.display_name,
      auth_type: def.auth_type,
      flow: def.flow,
      connection,
      exists,
      key_pattern: def.api_key?.key_pattern ?? null,
      key_pattern_hint: def.api_key?.key_pattern_hint ?? null,
      docs_url: def.docs_url ?? null,
    });
  });

  api.post('/login/api-key', async (c) => {
    const body = await readJsonBody(c);
    await refuseToRuns(c, 'store-key', optionalString(body, 'provider'));
    const result = await svc.loginWithApiKey({
      provider: requireString(body, 'provider'),
      connection: optionalString(body, 'connection'),
      apiKey: typeof body.api_key === 'string' ? body.api_key : '',
      force: optionalBoolean(body, 'force'),
    });
    return c.json(result);
  });

  // Removals also say what they could not do (a key stays valid at its provider) and what stays (a bundled definition).
  // Asked after the removal: a removed custom definition then shows its bundled one, or none (null).
  const describeRemoval = async (provider: string) => {
    const definition = await deps.registry.get(provider).then(
      (e) => e.definition,
      () => undefined,
    );
    if (definition === undefined) return null;
    return {
      display_name: definition.display_name,
      auth_type: definition.auth_type,
      docs_url: definition.docs_url ?? null,
      bundled: deps.registry.bundled(provider) !== undefined,
    };
  };

  api.post('/logout', async (c) => {
    const body = await readJsonBody(c);
    const provider = requireString(body, 'provider');
    await refuseToRuns(c, 'remove-connection', provider);
    const result = await svc.logout(provider, optionalString(body, 'connection'));
    return c.json({ ...result, info: await describeRemoval(provider) });
  });

  api.post('/revoke', async (c) => {
    const body = await readJsonBody(c);
    const provider = requireString(body, 'provider');
    await refuseToRuns(c, 'remove-connection', provider);
    const result = await svc.revoke(provider);
    return c.json({ ...result, info: await describeRemoval(provider) });
  });

  api.post('/remove', async (c) => {
    const body = await readJsonBody(c);
    const provider = requireString(body, 'provider');
    await refuseToRuns(c, 'remove-connection', provider);
    const result = await svc.remove(provider);
    return c.json({ ...result, info: await describeRemoval(provider) });
  });

  api.post('/default', async (c) => {
    const body = await readJsonBody(c);
    const provider = requireString(body, 'provider');
    const connection = requireString(body, 'connection');
    await refuseToRuns(c, 'set-default', provider);
    await svc.setDefault(provider, connection);
    return c.json({ provider, connection });
  });

  // POST, not GET: revealing a secret is an audited action.
  api.post('/get', async (c) => {
    const body = await readJsonBody(c);
    const provider = requireString(body, 'provider');
    const reveal = optionalBoolean(body, 'reveal');
    if (reveal) await refuseToRuns(c, 'reveal', provider);
    const record = await svc.get(provider, optionalString(body, 'connection'), { reveal });
    return c.json({ record });
  });

  api.post('/export', async (c) => {
    const body = await readJsonBody(c);
    await refuseToRuns(c, 'export', optionalString(body, 'provider'));
    const variables = await svc.exportVariables({
      provider: optionalString(body, 'provider'),
      connection: optionalString(body, 'connection'),
    });
    return c.json({ variables });
  });

  return api;
}
