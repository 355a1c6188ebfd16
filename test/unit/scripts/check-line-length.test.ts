// The line-length check `npm run lint` runs: the real script, as a process, on temporary source trees.
import { describe, it, expect, afterEach } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeTempDir, type TempDir } from '../../helpers/temp-dir.js';

const SCRIPT = fileURLToPath(new URL('../../../scripts/check-line-length.mjs', import.meta.url));

let tmp: TempDir | undefined;
afterEach(() => tmp?.cleanup());

/** A source tree of `files` (path → text) in a fresh temp directory, checked by the script. */
async function checkTree(files: Record<string, string>): Promise<{ code: number | null; stdout: string }> {
  tmp = await makeTempDir('line-length');
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(tmp.path, path)), { recursive: true });
    writeFileSync(join(tmp.path, path), text);
  }
  const r = spawnSync(process.execPath, [SCRIPT, tmp.path], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout };
}

/** A line of code exactly `length` characters long. */
function lineOf(length: number): string {
  const start = "const text = '";
  return `${start}${'x'.repeat(length - start.length - 2)}';`;
}

describe('check-line-length', () => {
  it('a 121-character line fails with its file, line number and length', async () => {
    expect(lineOf(121)).toHaveLength(121);
    const r = await checkTree({ 'src/short.ts': 'ok\n', 'src/long.ts': `// first\n${lineOf(121)}\n` });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('src/long.ts:2: 121 characters\n');
  });

  it('a 120-character line passes', async () => {
    expect(lineOf(120)).toHaveLength(120);
    const r = await checkTree({ 'src/edge.ts': `${lineOf(120)}\n` });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('');
  });

  it('checks test/, bench/ and scripts/ and every source extension; skips node_modules and dist', async () => {
    const long = `${lineOf(121)}\n`;
    const r = await checkTree({
      'test/children/child.mjs': long,
      'bench/run.js': long,
      'scripts/tool.mjs': long,
      'src/views/page.eta': long,
      'src/style.css': long,
      'src/notes.md': long,
      'src/node_modules/dep/index.js': long,
      'test/dist/built.js': long,
      'docs/elsewhere.ts': long,
    });
    expect(r.code).toBe(1);
    expect(r.stdout.split('\n').filter(Boolean).sort()).toEqual(
      [
        'bench/run.js:1: 121 characters',
        'scripts/tool.mjs:1: 121 characters',
        'src/style.css:1: 121 characters',
        'src/views/page.eta:1: 121 characters',
        'test/children/child.mjs:1: 121 characters',
      ].sort(),
    );
  });

  it('counts characters, not bytes: 120 of them with multi-byte ones pass', async () => {
    const line = `${lineOf(118).slice(0, -2)}…→';`;
    expect([...line]).toHaveLength(120);
    expect(Buffer.byteLength(line)).toBeGreaterThan(120);
    const r = await checkTree({ 'src/unicode.ts': `${line}\n` });
    expect(r.code).toBe(0);
  });

  it('allows a line that is one unbreakable token (a URL, a base64 blob), but not one with spaces', async () => {
    const blob = 'A'.repeat(130);
    const spaced = `  const x = '${blob}';`;
    const r = await checkTree({
      'test/fixture.ts': `  '${blob}',\n  // https://example.com/${blob}\n   * ${blob}\n${spaced}\n`,
    });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe(`test/fixture.ts:4: ${spaced.length} characters\n`);
  });
});
