// The placeholder a run puts in a provider's variables: it passes the provider's own key_pattern (an SDK that checks
// a key's shape accepts it), carries the authsome mark, and falls back to the bare mark where no shape is known.
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildPlaceholder, PLACEHOLDER_MARK } from '../../../src/providers/placeholder.js';
import { buildRunScope } from '../../../src/runs/run-scope.js';
import { parseProviderText, type ProviderDefinition } from '../../../src/providers/schema.js';

const dir = fileURLToPath(new URL('../../../providers/', import.meta.url));
const bundled: ProviderDefinition[] = readdirSync(dir)
  .filter((f) => f.endsWith('.json'))
  .map((f) =>
    parseProviderText(readFileSync(`${dir}${f}`, 'utf8'), { path: f, expectedName: f.replace(/\.json$/, '') }),
  );

describe('buildPlaceholder', () => {
  it('matches the key_pattern of every bundled provider that has one, and is marked as authsome’s', () => {
    const shaped = bundled.filter((d) => d.keyPattern);
    expect(shaped.length).toBeGreaterThan(5);
    for (const d of shaped) {
      const value = buildPlaceholder(d.keyPattern);
      expect(d.keyPattern!.test(value), `${d.name}: ${value}`).toBe(true);
      expect(value.replace(/[-_]/g, ''), d.name).toContain('authsomeproxymanaged');
    }
  });

  it('looks like a key of the usual length: the OpenAI one is sk-authsome-proxy-managed-00000000000000', () => {
    const openai = bundled.find((d) => d.name === 'openai')!;
    expect(buildPlaceholder(openai.keyPattern)).toBe('sk-authsome-proxy-managed-00000000000000');
    expect(buildPlaceholder(/^(ghp_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{22,})$/)).toBe(
      'ghp_authsomeproxymanaged0000000000000000',
    );
  });

  it('is the bare mark without a pattern, or for a pattern it cannot honour with the mark in it', () => {
    expect(buildPlaceholder()).toBe(PLACEHOLDER_MARK);
    for (const p of [/^[a-f0-9]{32}$/, /^\d{5}$/, /^(?=x).+$/, /^sk-.{10}$/, /^[^ ]+$/])
      expect(buildPlaceholder(p), String(p)).toBe(PLACEHOLDER_MARK);
  });

  it('any prefix + class + length it builds a value for, the value matches (property)', () => {
    const prefix = fc.stringMatching(/^[a-z]{1,5}[-_]$/);
    const cls = fc.constantFrom('[A-Za-z0-9]', '[A-Za-z0-9_-]', '[a-zA-Z0-9_]', '[0-9a-z]');
    const quant = fc.constantFrom('{20,}', '{32}', '{16,64}', '+', '{40,}');
    fc.assert(
      fc.property(prefix, cls, quant, (p, c, q) => {
        const re = new RegExp(`^${p}${c}${q}$`);
        const value = buildPlaceholder(re);
        return re.test(value) && value.startsWith(p) && value.includes('authsome');
      }),
    );
  });
});

describe('buildRunScope placeholder values', () => {
  it('gives each exported variable its provider’s shaped placeholder; tokens without a shape get the bare mark', () => {
    const byName = new Map(bundled.map((d) => [d.name, d]));
    const providers = ['openai', 'anthropic', 'github'].map((name) => ({
      entry: { definition: byName.get(name)! } as never,
      connections: ['default'],
    }));
    const { placeholders, placeholderValues } = buildRunScope(providers, {});
    expect(Object.keys(placeholderValues).sort()).toEqual([...placeholders].sort());
    expect(placeholderValues.OPENAI_API_KEY).toBe('sk-authsome-proxy-managed-00000000000000');
    expect(placeholderValues.ANTHROPIC_API_KEY).toMatch(/^sk-ant-authsome-proxy-managed-0+$/);
    expect(placeholderValues.GH_TOKEN).toBe(PLACEHOLDER_MARK);
  });
});
