// /providers/:name/override: the JSON editor for $AUTHSOME_HOME/providers/<name>.json. Seeded with the
// effective definition; checked when the person pauses typing or presses Check (POST …/validate), and on save.
// What is being typed is "not valid yet", never "the file is invalid": only the saved file itself is ever called
// invalid, and only when it is. Save and "reset to bundled" go through the registry, never around it.
import type { Context } from 'hono';
import { Hono } from 'hono';
import { AppError } from '../../errors.js';
import { displayPath } from '../../paths.js';
import { parseProviderText } from '../../providers/schema.js';
import type { ServerDeps } from '../deps.js';
import { describeJsonError } from '../json-error-position.js';
import { isHtmx, redirect, type Renderer } from '../render.js';
import type { WebEnv } from '../web-state.js';

const MAX_DEFINITION = 256 * 1024;

/** What a check found, phrased by the caller ("Not valid yet: …" while editing, "Not saved: …" on save). */
interface Problem {
  detail: string;
  hint?: string;
}

/** What #definition-check shows. */
interface CheckResult {
  ok: boolean;
  message?: string;
  hint?: string;
}

export function createOverrideRoutes(deps: ServerDeps, render: Renderer): Hono<WebEnv> {
  const app = new Hono<WebEnv>();

  async function renderEditor(c: Context<WebEnv>, name: string, text?: string, check?: CheckResult, status = 200) {
    const entry = await deps.registry.get(name);
    const d = entry.definition;
    const customPath = displayPath(deps.registry.customPath(d.name));
    const editor = {
      name: d.name,
      display_name: d.display_name,
      source: entry.source,
      customPath,
      hasBundled: deps.registry.bundled(d.name) !== undefined,
      text: text ?? `${JSON.stringify(d.raw, null, 2)}\n`,
      // The saved file itself is broken (and ignored): the one case where the page says a file is invalid.
      brokenCustom: (await deps.registry.list()).warnings.find((w) => w.path === customPath)?.reason,
    };
    return render.page(c, 'override', {
      title: `Override ${d.display_name}`,
      nav: 'providers',
      data: { editor, check },
      status,
    });
  }

  async function readDefinition(c: Context<WebEnv>): Promise<string> {
    const body = await c.req.parseBody();
    // Browsers submit a textarea with CRLF line ends (HTML spec); the file keeps the Unix ones it was shown with.
    const text = (typeof body.definition === 'string' ? body.definition : '').replace(/\r\n?/g, '\n');
    return text.length > MAX_DEFINITION ? text.slice(0, MAX_DEFINITION) : text;
  }

  /** Checks exactly as saving would (same parser, same file name rule); a JSON error gets its line and column. */
  function check(name: string, text: string): Problem | undefined {
    if (text.trim() === '')
      return { detail: 'the definition is empty', hint: 'Reload the page to start again from the definition in use.' };
    const syntax = describeJsonError(text);
    if (syntax)
      return { detail: syntax, hint: 'Look for a missing comma, quote or brace at or just before that point.' };
    try {
      parseProviderText(text, { path: displayPath(deps.registry.customPath(name)), expectedName: name });
      return undefined;
    } catch (err) {
      if (err instanceof AppError && err.code === 'INVALID_PROVIDER_FILE') return { detail: err.detail ?? err.message };
      throw err;
    }
  }

  function describeProblem(prefix: 'Not valid yet' | 'Not saved', problem: Problem, hint?: string): CheckResult {
    return {
      ok: false,
      message: `${prefix}: ${problem.detail}.`,
      hint: [problem.hint, hint].filter(Boolean).join(' ') || undefined,
    };
  }

  app.get('/providers/:name/override', (c) => renderEditor(c, c.req.param('name')));

  // The check on a pause in typing or on "Check": the bare result for htmx, the whole editor without JavaScript.
  app.post('/providers/:name/override/validate', async (c) => {
    const name = (await deps.registry.get(c.req.param('name'))).definition.name;
    const text = await readDefinition(c);
    const problem = check(name, text);
    const result: CheckResult = problem ? describeProblem('Not valid yet', problem) : { ok: true };
    if (!isHtmx(c)) return renderEditor(c, name, text, result);
    return render.fragment(c, 'override-check', { check: result });
  });

  app.post('/providers/:name/override', async (c) => {
    const entry = await deps.registry.get(c.req.param('name'));
    const name = entry.definition.name;
    const text = await readDefinition(c);
    const unchanged = `Nothing was written: ${name} still uses the ${entry.source} definition.`;
    const problem = check(name, text);
    if (problem) return renderEditor(c, name, text, describeProblem('Not saved', problem, unchanged), 422);
    try {
      await deps.registry.saveCustom(name, text);
    } catch (err) {
      if (!(err instanceof AppError) || err.code !== 'INVALID_PROVIDER_FILE') throw err;
      return renderEditor(
        c,
        name,
        text,
        describeProblem('Not saved', { detail: err.detail ?? err.message }, unchanged),
        422,
      );
    }
    deps.audit.record('override_saved', { provider: name });
    c.get('session').flash = {
      kind: 'ok',
      text: `Saved ${displayPath(deps.registry.customPath(name))}. ${name} now uses your definition.`,
    };
    return redirect(c, `/providers/${name}`);
  });

  app.post('/providers/:name/override/reset', async (c) => {
    const name = (await deps.registry.get(c.req.param('name'))).definition.name;
    const deleted = await deps.registry.deleteCustom(name);
    if (deleted) deps.audit.record('override_reset', { provider: name });
    c.get('session').flash = {
      kind: 'ok',
      text: deleted
        ? `Deleted your override: ${name} uses the bundled definition again.`
        : `${name} has no override to reset.`,
    };
    return redirect(c, `/providers/${name}`);
  });

  return app;
}
