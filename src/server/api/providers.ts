// /api/providers: the registry as the CLI sees it (list, inspect, register).
import { Hono } from 'hono';
import { errors } from '../../errors.js';
import { parseProviderText } from '../../providers/schema.js';
import type { ServerDeps } from '../deps.js';
import { describePeer, refuseSecretsToRuns } from '../peer-process.js';
import { optionalBoolean, readJsonBody, requireString } from './body.js';

export function createProvidersApi(deps: ServerDeps): Hono {
  const api = new Hono();

  api.get('/', async (c) => {
    const { rows, warnings } = await deps.connections.list();
    return c.json({ providers: rows, warnings: warnings.map(({ path, reason }) => ({ path, reason })) });
  });

  api.get('/:name', async (c) => {
    const entry = await deps.registry.get(c.req.param('name'));
    return c.json({
      name: entry.definition.name,
      source: entry.source,
      path: entry.path,
      definition: entry.definition.raw,
      connections: deps.connections.connectionsOf(entry.definition.name),
    });
  });

  // The CLI sends the file's text and its path (for messages); the server validates and writes the copy.
  api.post('/register', async (c) => {
    // A definition decides which hosts get a credential: one written by a run's agent (then used by a run session it
    // asks for) would send the stored key to a host of its choosing.
    await refuseSecretsToRuns({ ...describePeer(c, deps), action: 'register' });
    const body = await readJsonBody(c);
    const sourcePath = requireString(body, 'source_path');
    const text = typeof body.text === 'string' ? body.text : '';
    const definition = parseProviderText(text, { path: sourcePath });
    const name = definition.name;
    const exists = await deps.registry.has(name);
    if (exists && !optionalBoolean(body, 'force')) throw errors.providerExists(name);
    const entry = await deps.registry.saveCustom(name, text);
    deps.audit.record('register', { provider: name });
    return c.json({ name, path: entry.path, replaced: exists });
  });

  return api;
}
