// The provider registry over the real bundled providers/ and a custom directory in a temp home: overrides,
// warnings for broken custom files, changes picked up without a restart, saving and deleting overrides.
import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { packagePaths } from '../../../src/paths.js';
import { createProviderRegistry, type ProviderRegistry } from '../../../src/providers/registry.js';
import { makeTempDir, type TempDir } from '../../helpers/temp-dir.js';
import { rejected } from '../../helpers/app-errors.js';

const BUNDLED_COUNT = readdirSync(packagePaths.providers).filter((f) => f.endsWith('.json')).length;
const bundledOpenai = JSON.parse(readFileSync(join(packagePaths.providers, 'openai.json'), 'utf8')) as Record<
  string,
  unknown
>;

let tmp: TempDir;
let customDir: string;
let registry: ProviderRegistry;

beforeEach(async () => {
  tmp = await makeTempDir('registry');
  customDir = join(tmp.path, 'providers');
  mkdirSync(customDir);
  registry = createProviderRegistry({ bundledDir: packagePaths.providers, customDir });
});
afterEach(() => tmp.cleanup());

function customDefinition(name: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    schema_version: 1,
    name,
    display_name: `Custom ${name}`,
    auth_type: 'api_key',
    flow: 'api_key',
    api_url: `api.${name}.example`,
    ...overrides,
  };
}

function writeCustom(name: string, value: unknown): string {
  const path = join(customDir, `${name}.json`);
  writeFileSync(path, typeof value === 'string' ? value : JSON.stringify(value, null, 2));
  return path;
}

describe('bundled definitions', () => {
  it('lists every file of the repository providers/ directory, sorted, as bundled', async () => {
    const { entries, warnings } = await registry.list();
    expect(warnings).toEqual([]);
    expect(entries).toHaveLength(BUNDLED_COUNT);
    expect(entries.every((e) => e.source === 'bundled')).toBe(true);
    const names = entries.map((e) => e.definition.name);
    expect(names).toEqual([...names].sort((a, b) => a.localeCompare(b)));
    expect(names).toContain('openai');
  });

  it('get() returns the bundled entry with its file path', async () => {
    const entry = await registry.get('openai');
    expect(entry.source).toBe('bundled');
    expect(entry.path).toBe(join(packagePaths.providers, 'openai.json'));
    expect(entry.definition.display_name).toBe('OpenAI');
    expect(registry.bundled('openai')).toBe(entry);
    expect(registry.bundled('nope')).toBeUndefined();
  });

  it('works when the custom directory does not exist yet', async () => {
    rmSync(customDir, { recursive: true });
    expect((await registry.list()).entries).toHaveLength(BUNDLED_COUNT);
    expect((await registry.get('openai')).source).toBe('bundled');
  });
});

describe('custom definitions', () => {
  it('a custom file replaces the bundled one entirely (source custom)', async () => {
    const path = writeCustom('openai', {
      ...bundledOpenai,
      display_name: 'OpenAI (proxy)',
      api_url: 'llm.internal.example',
    });
    const entry = await registry.get('openai');
    expect(entry).toMatchObject({ source: 'custom', path });
    expect(entry.definition.display_name).toBe('OpenAI (proxy)');
    const listed = (await registry.list()).entries.filter((e) => e.definition.name === 'openai');
    expect(listed).toHaveLength(1);
    expect(listed[0]!.source).toBe('custom');
  });

  it('a custom-only provider is listed and found', async () => {
    writeCustom('acme', customDefinition('acme'));
    const { entries } = await registry.list();
    expect(entries).toHaveLength(BUNDLED_COUNT + 1);
    expect(entries.find((e) => e.definition.name === 'acme')!.source).toBe('custom');
    expect((await registry.get('acme')).definition.display_name).toBe('Custom acme');
  });

  it('an invalid custom file: list() warns with the path and reason and still shows the bundled one', async () => {
    const path = writeCustom('openai', { ...bundledOpenai, api_key: { key_pattern: 'sk-(' } });
    const { entries, warnings } = await registry.list();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.path).toBe(path);
    expect(warnings[0]!.reason).toBe('api_key.key_pattern is not a valid regular expression');
    expect(warnings[0]!.error.code).toBe('INVALID_PROVIDER_FILE');
    expect(warnings[0]!.error.message).toBe(
      `Provider file ${path} is invalid: api_key.key_pattern is not a valid regular expression.`,
    );
    const openai = entries.find((e) => e.definition.name === 'openai')!;
    expect(openai.source).toBe('bundled');
    expect(entries).toHaveLength(BUNDLED_COUNT);
    expect((await registry.get('openai')).source).toBe('bundled');
  });

  it('an invalid custom-only file: a warning, and get() throws the file error', async () => {
    const path = writeCustom('acme', '{ not json');
    const { entries, warnings } = await registry.list();
    expect(entries).toHaveLength(BUNDLED_COUNT);
    expect(warnings.map((w) => w.path)).toEqual([path]);
    expect(warnings[0]!.reason).toMatch(/^not valid JSON/);
    const err = await rejected(registry.get('acme'));
    expect(err.code).toBe('INVALID_PROVIDER_FILE');
    expect(err.message).toContain(path);
  });

  it('a custom file whose name field differs from its file name is invalid', async () => {
    writeCustom('acme', customDefinition('other'));
    const { warnings } = await registry.list();
    expect(warnings[0]!.reason).toBe("name 'other' must equal the file name 'acme'");
  });

  it('messages use displayPath when given', async () => {
    const shown = createProviderRegistry({
      bundledDir: packagePaths.providers,
      customDir,
      displayPath: (p) => p.replace(tmp.path, '~'),
    });
    writeCustom('acme', '[]');
    const { warnings } = await shown.list();
    expect(warnings[0]!.path).toBe('~/providers/acme.json');
    expect(warnings[0]!.error.message).toContain('Provider file ~/providers/acme.json is invalid');
  });

  it('ignores hidden files, other extensions and directories in the custom directory', async () => {
    writeFileSync(join(customDir, '.openai.json.123.tmp'), 'partial');
    writeFileSync(join(customDir, '.hidden.json'), 'junk');
    writeFileSync(join(customDir, 'notes.txt'), 'junk');
    mkdirSync(join(customDir, 'dir.json'));
    const { entries, warnings } = await registry.list();
    expect(warnings).toEqual([]);
    expect(entries).toHaveLength(BUNDLED_COUNT);
  });
});

describe('changes on disk are picked up without a new registry', () => {
  it('a custom file appearing, changing, breaking and disappearing', async () => {
    expect((await registry.get('openai')).source).toBe('bundled');

    const path = writeCustom('openai', { ...bundledOpenai, display_name: 'First' });
    expect((await registry.get('openai')).definition.display_name).toBe('First');
    expect((await registry.list()).entries.find((e) => e.definition.name === 'openai')!.definition.display_name).toBe(
      'First',
    );

    // Same size, so only the mtime tells: set it explicitly (filesystem mtime granularity can be coarse).
    writeCustom('openai', { ...bundledOpenai, display_name: 'Other' });
    const later = new Date(statSync(path).mtimeMs + 5_000);
    utimesSync(path, later, later);
    expect((await registry.get('openai')).definition.display_name).toBe('Other');
    expect((await registry.list()).entries.find((e) => e.definition.name === 'openai')!.definition.display_name).toBe(
      'Other',
    );

    writeCustom('openai', { ...bundledOpenai, display_name: 'Now broken', flow: 'pkce' });
    expect((await registry.list()).warnings).toHaveLength(1);
    expect((await registry.get('openai')).source).toBe('bundled');

    rmSync(path);
    expect((await registry.list()).warnings).toEqual([]);
    const entry = await registry.get('openai');
    expect(entry.source).toBe('bundled');
    expect(entry.definition.display_name).toBe('OpenAI');
  });

  it('list() sees a change made after a get() cached the file', async () => {
    writeCustom('acme', customDefinition('acme'));
    await registry.get('acme');
    await registry.list();
    writeCustom('acme', customDefinition('acme', { display_name: 'Renamed and longer' }));
    expect((await registry.list()).entries.find((e) => e.definition.name === 'acme')!.definition.display_name).toBe(
      'Renamed and longer',
    );
  });
});

describe('get() of an unknown provider', () => {
  it.each(['nope', 'NoPe', '../vault', ''])('%j → PROVIDER_NOT_FOUND', async (name) => {
    const err = await rejected(registry.get(name));
    expect(err.code).toBe('PROVIDER_NOT_FOUND');
    expect(err.message).toBe(`Provider '${name}' not found.`);
    expect(err.hint).toContain('authsome list');
  });
});

describe('has()', () => {
  it('is true for bundled names and for custom files, valid or not', async () => {
    expect(await registry.has('openai')).toBe(true);
    expect(await registry.has('acme')).toBe(false);
    writeCustom('acme', '{ broken');
    expect(await registry.has('acme')).toBe(true);
  });
});

describe('saveCustom', () => {
  it('validates, writes the file 0600 with a trailing newline, and get() returns it', async () => {
    const text = JSON.stringify(customDefinition('acme', { extra_field: 1 }), null, 2);
    const entry = await registry.saveCustom('acme', text);
    expect(entry).toMatchObject({ source: 'custom', path: registry.customPath('acme') });
    expect(registry.customPath('acme')).toBe(join(customDir, 'acme.json'));
    expect(readFileSync(registry.customPath('acme'), 'utf8')).toBe(`${text}\n`);
    expect(statSync(registry.customPath('acme')).mode & 0o777).toBe(0o600);
    expect((await registry.get('acme')).definition.raw.extra_field).toBe(1);
    expect(readdirSync(customDir)).toEqual(['acme.json']);
  });

  it('replaces an existing override and is seen at once', async () => {
    await registry.saveCustom('openai', JSON.stringify({ ...bundledOpenai, display_name: 'One' }));
    expect((await registry.get('openai')).definition.display_name).toBe('One');
    await registry.saveCustom('openai', JSON.stringify({ ...bundledOpenai, display_name: 'Two' }));
    expect((await registry.get('openai')).definition.display_name).toBe('Two');
  });

  it('refuses invalid content, naming the custom path, and writes nothing', async () => {
    const err = await rejected(
      registry.saveCustom('acme', JSON.stringify(customDefinition('acme', { auth_type: 'x' }))),
    );
    expect(err.code).toBe('INVALID_PROVIDER_FILE');
    expect(err.message).toBe(
      `Provider file ${join(customDir, 'acme.json')} is invalid: auth_type must be 'api_key' or 'oauth2'.`,
    );
    await rejected(registry.saveCustom('acme', JSON.stringify(customDefinition('other'))));
    expect(readdirSync(customDir)).toEqual([]);
  });
});

describe('deleteCustom', () => {
  it('deletes the override, returns whether there was one, and the bundled one comes back', async () => {
    await registry.saveCustom('openai', JSON.stringify({ ...bundledOpenai, display_name: 'Mine' }));
    expect(await registry.deleteCustom('openai')).toBe(true);
    expect(existsSync(registry.customPath('openai'))).toBe(false);
    expect((await registry.get('openai')).source).toBe('bundled');
    expect(await registry.deleteCustom('openai')).toBe(false);
    expect(existsSync(join(packagePaths.providers, 'openai.json'))).toBe(true);
  });

  it('never deletes a file outside the custom directory', async () => {
    const outside = join(tmp.path, 'vault.json');
    writeFileSync(outside, '{}');
    expect(await registry.deleteCustom('../vault')).toBe(false);
    expect(existsSync(outside)).toBe(true);
  });
});
