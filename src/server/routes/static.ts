// /static/*: the package's public/ files (CSS, the vendored htmx, app.js, the override editor's script, the
// icon). A fixed list, read once: no directory walking, no path from the request ever reaches the file system.
// No session needed (the "run authsome ui" page must be styled too).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Hono } from 'hono';
import { packagePaths } from '../../paths.js';

const FILES: Record<string, string> = {
  'app.css': 'text/css; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'htmx.min.js': 'text/javascript; charset=utf-8',
  'override-editor.js': 'text/javascript; charset=utf-8',
  'icon.svg': 'image/svg+xml',
};

export function createStaticRoutes(): Hono {
  const app = new Hono();
  const cache = new Map<string, Promise<Buffer>>();
  app.get('/:file', async (c) => {
    const name = c.req.param('file');
    const type = Object.hasOwn(FILES, name) ? FILES[name] : undefined;
    if (!type) return c.text('Not found.\n', 404);
    let body = cache.get(name);
    if (!body) {
      body = readFile(join(packagePaths.public, name));
      cache.set(name, body);
      body.catch(() => cache.delete(name));
    }
    return c.body(new Uint8Array(await body), 200, { 'content-type': type });
  });
  app.all('*', (c) => c.text('Not found.\n', 404));
  return app;
}
