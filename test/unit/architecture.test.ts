// The rules of the house that a compiler cannot check (docs/design.md, Layers): the core never imports an adapter's
// library, never reads process.env, never prints; only paths.ts reads AUTHSOME_HOME or import.meta.url.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const src = fileURLToPath(new URL('../../src/', import.meta.url));

function listSources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? listSources(path) : path.endsWith('.ts') ? [path] : [];
  });
}

const files = listSources(src).map((path) => ({ path, rel: relative(src, path), text: readFileSync(path, 'utf8') }));
const core = files.filter((f) => /^(vault|providers|connections|oauth)\//.test(f.rel));
const importsOf = (text: string) => [...text.matchAll(/(?:from|import)\s*\(?\s*['"]([^'"]+)['"]/g)].map((m) => m[1]!);

describe('architecture', () => {
  it('has core files to check', () => {
    expect(core.map((f) => f.rel)).toEqual(
      expect.arrayContaining(['vault/vault.ts', 'providers/schema.ts', 'connections/service.ts']),
    );
  });

  it('core modules do not import adapter libraries', () => {
    const banned = /^(hono|@hono\/|citty|eta|node-forge|node:https?$|https?$|undici|playwright)/;
    for (const f of core) {
      for (const spec of importsOf(f.text)) expect(banned.test(spec), `${f.rel} imports ${spec}`).toBe(false);
      for (const spec of importsOf(f.text))
        expect(/\/(server|cli|proxy|client)\//.test(spec), `${f.rel} imports ${spec}`).toBe(false);
    }
  });

  it('core modules never read process.env and never print', () => {
    for (const f of core) {
      expect(f.text.includes('process.env'), `${f.rel} reads process.env`).toBe(false);
      expect(/console\.|process\.(stdout|stderr)/.test(f.text), `${f.rel} prints`).toBe(false);
    }
  });

  it('only paths.ts reads AUTHSOME_HOME or import.meta.url', () => {
    for (const f of files) {
      if (f.rel === 'paths.ts') continue;
      // The proxy preload runs inside the agent's process and must find its own dependencies; it may use import.meta.
      if (f.rel === 'proxy/preload.ts') continue;
      expect(
        f.text.includes('AUTHSOME_HOME') && /process\.env\.AUTHSOME_HOME|env\.AUTHSOME_HOME/.test(f.text),
        `${f.rel} reads AUTHSOME_HOME`,
      ).toBe(false);
      expect(f.text.includes('import.meta.url'), `${f.rel} uses import.meta.url`).toBe(false);
    }
  });

  it("the server's start does not wait for modules it does not need yet (bench: server cold start)", () => {
    // Static imports only (`import … from`, not `import type`, not `import()`): what loads before createRuntime runs.
    const staticImports = (text: string) =>
      [...text.matchAll(/^import\s+(?!type\b)[^;]*?\sfrom\s+['"]([^'"]+)['"]/gm)].map((m) => m[1]!);
    // undici (~100 ms of loading) only where it is used: the preload, and OAuth fetches with extra test CAs.
    for (const f of files) expect(staticImports(f.text).includes('undici'), `${f.rel} imports undici`).toBe(false);
    // The web app and its Node adapter load while the vault's key is derived, not before.
    const runtime = files.find((f) => f.rel === 'runtime.ts')!;
    expect(staticImports(runtime.text)).toEqual(expect.arrayContaining(['./vault/vault.js', './audit.js']));
    for (const spec of ['./server/app.js', '@hono/node-server'])
      expect(staticImports(runtime.text), `runtime.ts imports ${spec}`).not.toContain(spec);
  });

  it('no source uses process.cwd() for package files', () => {
    for (const f of files) expect(f.text.includes('process.cwd()'), f.rel).toBe(false);
  });

  it('every non-trivial file opens with a comment saying what it owns', () => {
    for (const f of files) {
      if (f.text.split('\n').length < 15) continue;
      const first = f.text.replace(/^#!.*\n/, '').trimStart();
      expect(first.startsWith('//') || first.startsWith('/*'), `${f.rel} has no opening comment`).toBe(true);
    }
  });

  it('every import points the way the layers allow (core → services → edges)', () => {
    const problems: string[] = [];
    for (const f of files) {
      const from = moduleOf(f.rel);
      for (const target of localImportsOf(f)) {
        const to = moduleOf(target);
        if (to === from) continue;
        if (!ALLOWED[from]?.includes(to)) problems.push(`${f.rel} (${from}) imports ${target} (${to})`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('every user-facing error comes from the catalogue in errors.ts (no AppError built elsewhere)', () => {
    const outside = files.filter((f) => f.rel !== 'errors.ts' && /new AppError\(/.test(f.text)).map((f) => f.rel);
    expect(outside).toEqual([]);
  });

  it('has no import cycle anywhere in src/', () => {
    const graph = new Map(files.map((f) => [f.rel, localImportsOf(f)]));
    const cycles = findCycles(graph);
    expect(cycles.map((c) => c.join(' → '))).toEqual([]);
  });
});

/**
 * The layer table (docs/design.md), as module → the modules it may import. Core: the top-level files and vault,
 * providers, connections, oauth. Services: tls, proxy, runs, server, runtime. Edges: client, cli.
 */
const CORE = ['core', 'vault', 'providers', 'connections', 'oauth'];
const ALLOWED: Record<string, string[]> = {
  core: ['vault', 'providers', 'connections', 'oauth'],
  vault: ['core'],
  providers: ['core'],
  connections: ['core', 'vault', 'providers'],
  oauth: ['core', 'vault', 'providers', 'connections'],
  tls: CORE,
  proxy: [...CORE, 'tls'],
  runs: [...CORE, 'proxy'],
  server: [...CORE, 'runs'],
  runtime: [...CORE, 'tls', 'proxy', 'runs', 'server'],
  client: CORE,
  cli: [...CORE, 'tls', 'client', 'runtime'],
};

function moduleOf(rel: string): string {
  if (rel === 'runtime.ts') return 'runtime';
  const top = rel.split('/')[0]!;
  return rel.includes('/') ? top : 'core';
}

/** The src-relative paths of a file's own imports (`./x.js` → `dir/x.ts`). */
function localImportsOf(f: { path: string }): string[] {
  const text = readFileSync(f.path, 'utf8');
  return importsOf(text)
    .filter((spec) => spec.startsWith('.'))
    .map((spec) => relative(src, resolve(dirname(f.path), spec.replace(/\.js$/, '.ts'))));
}

function findCycles(graph: Map<string, string[]>): string[][] {
  const cycles: string[][] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (node: string): void => {
    state.set(node, 'visiting');
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      if (state.get(next) === 'visiting') cycles.push([...stack.slice(stack.indexOf(next)), next]);
      else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(node, 'done');
  };
  for (const node of graph.keys()) if (!state.has(node)) visit(node);
  return cycles;
}
