// /providers/:name/override: the JSON editor for $AUTHSOME_HOME/providers/<name>.json (SPEC §6). Seeded with the
// effective definition; validated as you type (htmx, POST …/validate) and on save, the error next to the field;
// save and "reset to bundled" go through the registry, never around it.
import type { Context } from 'hono';
import { Hono } from 'hono';
import { AppError } from '../../errors.js';
import { displayPath } from '../../paths.js';
import { parseProviderText } from '../../providers/schema.js';
import type { ServerDeps } from '../deps.js';
import { redirect, type Renderer } from '../render.js';
import type { WebEnv } from '../web-state.js';

const MAX_DEFINITION = 256 * 1024;

export function createOverrideRoutes(deps: ServerDeps, render: Renderer): Hono<WebEnv> {
  const app = new Hono<WebEnv>();

  async function renderEditor(c: Context<WebEnv>, name: string, text?: string, error?: AppError, status = 200) {
    const entry = await deps.registry.get(name);
    const d = entry.definition;
    const editor = {
      name: d.name,
      display_name: d.display_name,
      source: entry.source,
      customPath: displayPath(deps.registry.customPath(d.name)),
      hasBundled: deps.registry.bundled(d.name) !== undefined,
      text: text ?? `${JSON.stringify(d.raw, null, 2)}\n`,
    };
    const check = error ? { ok: false, message: error.message, hint: error.hint } : undefined;
    return render.page(c, 'override', { title: `Override ${d.display_name}`, nav: 'providers', data: { editor, check }, status });
  }

  async function readDefinition(c: Context<WebEnv>): Promise<string> {
    const body = await c.req.parseBody();
    // Browsers submit a textarea with CRLF line ends (HTML spec); the file keeps the Unix ones it was shown with.
    const text = (typeof body.definition === 'string' ? body.definition : '').replace(/\r\n?/g, '\n');
    return text.length > MAX_DEFINITION ? text.slice(0, MAX_DEFINITION) : text;
  }

  /** Validates exactly as saving would: same parser, same file name rule, same messages. */
  function check(name: string, text: string): AppError | undefined {
    try {
      parseProviderText(text, { path: displayPath(deps.registry.customPath(name)), expectedName: name });
      return undefined;
    } catch (err) {
      if (err instanceof AppError) return err;
      throw err;
    }
  }

  app.get('/providers/:name/override', (c) => renderEditor(c, c.req.param('name')));

  app.post('/providers/:name/override/validate', async (c) => {
    const name = (await deps.registry.get(c.req.param('name'))).definition.name;
    const error = check(name, await readDefinition(c));
    const result = error ? { ok: false, message: error.message, hint: error.hint } : { ok: true };
    return render.fragment(c, 'override-check', { check: result });
  });

  app.post('/providers/:name/override', async (c) => {
    const name = (await deps.registry.get(c.req.param('name'))).definition.name;
    const text = await readDefinition(c);
    try {
      await deps.registry.saveCustom(name, text);
    } catch (err) {
      if (!(err instanceof AppError) || err.code !== 'INVALID_PROVIDER_FILE') throw err;
      return renderEditor(c, name, text, err, 422);
    }
    deps.audit.record('override_saved', { provider: name });
    c.get('session').flash = { kind: 'ok', text: `Saved ${displayPath(deps.registry.customPath(name))}. ${name} now uses your definition.` };
    return redirect(c, `/providers/${name}`);
  });

  app.post('/providers/:name/override/reset', async (c) => {
    const name = (await deps.registry.get(c.req.param('name'))).definition.name;
    const deleted = await deps.registry.deleteCustom(name);
    if (deleted) deps.audit.record('override_reset', { provider: name });
    c.get('session').flash = { kind: 'ok', text: deleted ? `Deleted your override: ${name} uses the bundled definition again.` : `${name} has no override to reset.` };
    return redirect(c, `/providers/${name}`);
  });

  return app;
}
