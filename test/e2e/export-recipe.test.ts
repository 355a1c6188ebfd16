// The export recipe the help and README give must reach the programs the shell starts (an agent is a child
// process): `eval "$(authsome export <p> --format shell)"` exports; the env format only sets shell variables.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { buildTestEnv, cliPath, makeTempHome, runCli, type TempHome } from '../helpers/cli.js';

const KEY = 'gsk_exportrecipe0123456789abcdefXYZ';

describe('export recipe', () => {
  let t: TempHome;
  beforeAll(async () => {
    t = makeTempHome();
    expect((await runCli(t.home, ['login', 'groq', '--stdin'], { input: `${KEY}\n` })).code).toBe(0);
  });
  afterAll(async () => t.cleanup());

  const childSees = (format: string) => {
    const script =
      `eval "$("${process.execPath}" "${cliPath}" export groq --format ${format})"; sh -c 'printf %s ` +
      `"$GROQ_API_KEY"'`;
    const r = spawnSync('sh', ['-c', script], { env: buildTestEnv(t.home), encoding: 'utf8' });
    expect(r.status).toBe(0);
    return r.stdout;
  };

  it('--format shell, as the help recommends for eval, reaches a child process', () => {
    expect(childSees('shell')).toBe(KEY);
  });

  it('the env format is for .env files: after eval a child does not see it (which is why the help says shell)', () => {
    expect(childSees('env')).toBe('');
  });

  it('export --help recommends --format shell for eval', async () => {
    const help = await runCli(t.home, ['export', '--help']);
    expect(help.stdout).toContain('eval "$(authsome export openai --format shell)"');
    expect(help.stdout).not.toMatch(/eval "\$\(authsome export openai\)"/);
  });
});
