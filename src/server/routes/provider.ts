// /providers/:name: the provider page (definition, where it comes from, connections) and its actions: connect
// another connection, replace a key, set default, log out, reveal. Each action is a small htmx swap of #connections (or
// of one secret), and a plain POST → 303 without JavaScript. A secret reaches HTML only through the reveal POST.
import type { Context } from 'hono';
import { Hono } from 'hono';
import { AppError } from '../../errors.js';
import { displayPath } from '../../paths.js';
import type { ServerDeps } from '../deps.js';
import { maskSecret } from '../format.js';
import { startLoginSession } from '../login-flow.js';
import { isHtmx, redirect, type Renderer } from '../render.js';
import { checkRevealConfirmation } from '../reveal-confirmation.js';
import type { WebEnv, WebState } from '../web-state.js';

type Flash = { kind: 'ok' | 'error'; text: string };

export function createProviderRoutes(deps: ServerDeps, web: WebState, render: Renderer): Hono<WebEnv> {
  const app = new Hono<WebEnv>();
  const svc = deps.connections;

  function loadConnections(name: string) {
    return svc.connectionsOf(name).map((s) => {
      const record = svc.loadCredential(name, s.connection);
      return { ...s, masked: maskSecret(record.api_key ?? record.access_token) };
    });
  }

  async function loadProvider(name: string) {
    const entry = await deps.registry.get(name);
    const d = entry.definition;
    const { warnings } = await deps.registry.list();
    const customPath = displayPath(deps.registry.customPath(d.name));
    return {
      name: d.name,
      display_name: d.display_name,
      description: d.description ?? '',
      docs_url: d.docs_url,
      auth_type: d.auth_type,
      flow: d.flow,
      source: entry.source,
      path: displayPath(entry.path),
      customPath,
      hasBundled: deps.registry.bundled(d.name) !== undefined,
      exports: d.exports.map((e) => e.env),
      definitionJson: JSON.stringify(d.raw, null, 2),
      brokenCustom: warnings.find((w) => w.path === customPath)?.reason,
    };
  }

  async function renderProvider(c: Context<WebEnv>, name: string, extra: Record<string, unknown> = {}, status = 200) {
    const provider = await loadProvider(name);
    const data = { provider, connections: loadConnections(provider.name), ...extra };
    return render.page(c, 'provider', { title: provider.display_name, nav: 'providers', data, status });
  }

  /** After an action: the fresh #connections for htmx, or back to the page with a one-time message. */
  async function afterAction(c: Context<WebEnv>, name: string, flash: Flash) {
    if (isHtmx(c)) {
      const provider = await loadProvider(name);
      return render.fragment(c, 'connections', { provider, connections: loadConnections(provider.name), flash });
    }
    c.get('session').flash = flash;
    return redirect(c, `/providers/${encodeURIComponent(name)}`);
  }

  app.get('/providers/:name', (c) => renderProvider(c, c.req.param('name')));

  app.post('/providers/:name/connect', async (c) => {
    const body = await c.req.parseBody();
    const connection = typeof body.connection === 'string' ? body.connection.trim() : '';
    try {
      const session = await startLoginSession(deps, web, {
        provider: c.req.param('name'),
        connection: connection || undefined,
        force: false,
        origin: 'web',
      });
      return redirect(c, `/login/${session.id}`);
    } catch (err) {
      if (
        !(err instanceof AppError) ||
        (err.code !== 'INVALID_NAME' && err.code !== 'INVALID_INPUT' && err.code !== 'USAGE')
      )
        throw err;
      return renderProvider(
        c,
        c.req.param('name'),
        { connectError: { message: err.message, hint: err.hint }, connectValue: connection },
        422,
      );
    }
  });

  app.post('/providers/:name/connections/:connection/default', async (c) => {
    const { name, connection } = c.req.param();
    await svc.setDefault(name, connection);
    return afterAction(c, name, { kind: 'ok', text: `${connection} is now the default connection of ${name}.` });
  });

  app.post('/providers/:name/connections/:connection/logout', async (c) => {
    const { name, connection } = c.req.param();
    const result = await svc.logout(name, connection);
    // A failed remote revocation is said, not hidden: the tokens may still work at the provider.
    const warning = result.warnings.length > 0 ? ` ${result.warnings.join(' ')}` : '';
    return afterAction(c, name, {
      kind: warning ? 'error' : 'ok',
      text: `Logged out of ${result.provider} (${result.connection}).${warning}`,
    });
  });

  // "Replace key": the login form again, for this connection. The old key stays stored and in use until the new
  // one validates (the form's submit is what overwrites it), so a wrong paste or a cancelled form changes nothing.
  app.post('/providers/:name/connections/:connection/replace', async (c) => {
    const { name, connection } = c.req.param();
    const session = await startLoginSession(deps, web, {
      provider: name,
      connection,
      force: true,
      replace: true,
      origin: 'web',
    });
    return redirect(c, `/login/${session.id}`);
  });

  // POST, never GET: revealing is a deliberate, audited act (audit event `reveal`), freshly confirmed.
  app.post('/providers/:name/connections/:connection/reveal', async (c) => {
    const { name, connection } = c.req.param();
    const body = await c.req.parseBody();
    const passphrase = typeof body.passphrase === 'string' ? body.passphrase : undefined;
    const refusal = await checkRevealConfirmation(deps.vault, web.sessions, c.get('session'), passphrase);
    if (refusal) {
      const provider = (await deps.registry.get(name)).definition.name;
      const stored = svc.loadCredential(provider, connection);
      const conn = { connection: stored.connection, masked: maskSecret(stored.api_key ?? stored.access_token) };
      if (isHtmx(c))
        return render.fragment(c, 'secret', { provider: { name: provider }, conn, revealError: refusal }, 422);
      return renderProvider(c, name, { revealError: { ...refusal, connection: stored.connection } }, 422);
    }
    const record = await svc.get(name, connection, { reveal: true });
    const revealed = { connection: record.connection, value: record.api_key ?? record.access_token ?? '' };
    if (isHtmx(c))
      return render.fragment(c, 'secret', { provider: { name }, conn: { connection: record.connection }, revealed });
    return renderProvider(c, name, { revealed });
  });

  // "Hide" after a reveal: the masked form again.
  app.get('/providers/:name/connections/:connection/secret', async (c) => {
    const { name, connection } = c.req.param();
    const provider = (await deps.registry.get(name)).definition.name;
    const record = svc.loadCredential(provider, connection);
    return render.fragment(c, 'secret', {
      provider: { name: provider },
      conn: { connection: record.connection, masked: maskSecret(record.api_key ?? record.access_token) },
    });
  });

  return app;
}
