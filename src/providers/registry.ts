// Provider registry: bundled definitions from the package plus $AUTHSOME_HOME/providers/*.json,
// where a custom file replaces the bundled one entirely. Custom files are re-read whenever they change on disk
// (checked on every call: no restart needed); an invalid one never hides the others.
import { readdirSync, readFileSync } from 'node:fs';
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { suggestClosest } from '../suggest.js';
import { AppError, errors } from '../errors.js';
import { writeFileAtomic } from '../atomic-file.js';
import { parseProviderText, PROVIDER_NAME_RE, type ProviderDefinition } from './schema.js';

export type ProviderSource = 'bundled' | 'custom';

export interface ProviderEntry {
  definition: ProviderDefinition;
  source: ProviderSource;
  /** The file it was read from. */
  path: string;
}

export interface RegistryWarning {
  path: string;
  reason: string;
  error: AppError;
}

export interface ProviderListing {
  entries: ProviderEntry[];
  warnings: RegistryWarning[];
}

export interface ProviderRegistry {
  list(): Promise<ProviderListing>;
  /**
   * The effective definition; throws PROVIDER_NOT_FOUND, or the file's error when a broken custom file has no bundled
   * fallback.
   */
  get(name: string): Promise<ProviderEntry>;
  bundled(name: string): ProviderEntry | undefined;
  /** A bundled definition or a custom file (valid or not) carries this name. */
  has(name: string): Promise<boolean>;
  customPath(name: string): string;
  /** Validates `text` as the definition of `name` and writes it as the custom file. */
  saveCustom(name: string, text: string): Promise<ProviderEntry>;
  deleteCustom(name: string): Promise<boolean>;
}

interface CachedFile {
  mtimeMs: number;
  size: number;
  result: ProviderEntry | AppError;
}

export interface RegistryOptions {
  bundledDir: string;
  customDir: string;
  /** How file paths appear in messages (e.g. ~/…). */
  displayPath?: (path: string) => string;
}

export function createProviderRegistry(options: RegistryOptions): ProviderRegistry {
  const show = options.displayPath ?? ((p: string) => p);
  const bundled = loadBundled(options.bundledDir, show);
  const cache = new Map<string, CachedFile>();

  async function scanCustom(): Promise<Map<string, ProviderEntry | AppError>> {
    let names: string[];
    try {
      names = (await readdir(options.customDir)).filter((f) => f.endsWith('.json') && !f.startsWith('.'));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
      throw err;
    }
    const out = new Map<string, ProviderEntry | AppError>();
    const seen = new Set<string>();
    await Promise.all(
      names.map(async (fileName) => {
        const path = join(options.customDir, fileName);
        seen.add(path);
        let info;
        try {
          info = await stat(path);
        } catch {
          return; // removed between readdir and stat
        }
        if (!info.isFile()) return;
        const cached = cache.get(path);
        if (cached && cached.mtimeMs === info.mtimeMs && cached.size === info.size) {
          out.set(basename(fileName, '.json'), cached.result);
          return;
        }
        const result = await loadCustomFile(path, basename(fileName, '.json'), show);
        cache.set(path, { mtimeMs: info.mtimeMs, size: info.size, result });
        out.set(basename(fileName, '.json'), result);
      }),
    );
    for (const path of cache.keys()) if (!seen.has(path)) cache.delete(path);
    return out;
  }

  const registry: ProviderRegistry = {
    async list() {
      const custom = await scanCustom();
      const byName = new Map<string, ProviderEntry>(bundled);
      const warnings: RegistryWarning[] = [];
      for (const [name, result] of custom) {
        if (result instanceof AppError) {
          warnings.push({
            path: show(join(options.customDir, `${name}.json`)),
            reason: result.detail ?? result.message,
            error: result,
          });
        } else {
          byName.set(name, result);
        }
      }
      const entries = [...byName.values()].sort((a, b) =>
        a.definition.name < b.definition.name ? -1 : a.definition.name > b.definition.name ? 1 : 0,
      );
      warnings.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
      return { entries, warnings };
    },

    async get(name) {
      if (!PROVIDER_NAME_RE.test(name)) throw errors.providerNotFound(name);
      const path = registry.customPath(name);
      let custom: ProviderEntry | AppError | undefined;
      try {
        const info = await stat(path);
        const cached = cache.get(path);
        if (cached && cached.mtimeMs === info.mtimeMs && cached.size === info.size) custom = cached.result;
        else {
          custom = await loadCustomFile(path, name, show);
          cache.set(path, { mtimeMs: info.mtimeMs, size: info.size, result: custom });
        }
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
      if (custom && !(custom instanceof AppError)) return custom;
      const fallback = bundled.get(name);
      if (fallback) return fallback;
      if (custom instanceof AppError) throw custom;
      throw errors.providerNotFound(name, suggestClosest(name, [...bundled.keys()]));
    },

    bundled(name) {
      return bundled.get(name);
    },

    async has(name) {
      if (!PROVIDER_NAME_RE.test(name)) return false;
      if (bundled.has(name)) return true;
      try {
        await stat(registry.customPath(name));
        return true;
      } catch {
        return false;
      }
    },

    customPath(name) {
      return join(options.customDir, `${name}.json`);
    },

    async saveCustom(name, text) {
      const path = registry.customPath(name);
      const definition = parseProviderText(text, { path: show(path), expectedName: name });
      await writeFileAtomic(path, text.endsWith('\n') ? text : `${text}\n`);
      cache.delete(path);
      return { definition, source: 'custom', path };
    },

    async deleteCustom(name) {
      if (!PROVIDER_NAME_RE.test(name)) return false; // never a path outside customDir ('../vault')
      const path = registry.customPath(name);
      try {
        await stat(path);
      } catch {
        return false;
      }
      await rm(path, { force: true });
      cache.delete(path);
      return true;
    },
  };
  return registry;
}

async function loadCustomFile(
  path: string,
  name: string,
  show: (p: string) => string,
): Promise<ProviderEntry | AppError> {
  try {
    const text = await readFile(path, 'utf8');
    return { definition: parseProviderText(text, { path: show(path), expectedName: name }), source: 'custom', path };
  } catch (err) {
    if (err instanceof AppError) return err;
    return errors.invalidProviderFile(show(path), `it cannot be read (${(err as Error).message})`);
  }
}

/** Bundled files are part of the package: read once, and a broken one is a packaging bug worth failing on. */
function loadBundled(dir: string, show: (p: string) => string): Map<string, ProviderEntry> {
  const out = new Map<string, ProviderEntry>();
  let files: string[] = [];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.json'));
  } catch {
    return out;
  }
  for (const file of files) {
    const path = join(dir, file);
    const definition = parseProviderText(readFileSync(path, 'utf8'), {
      path: show(path),
      expectedName: basename(file, '.json'),
    });
    out.set(definition.name, { definition, source: 'bundled', path });
  }
  return out;
}
