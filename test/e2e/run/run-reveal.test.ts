// An agent under `authsome run` that reads the server token and asks the CLI for the key (observed in the wild):
// `get --show-secret` and `export` from inside the run are refused with Error/Hint, sandboxed or not, and work
// again from the person's terminal once the run has ended.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliPath, makeTempHome, runCli, type TempHome } from '../../helpers/cli.js';

const KEY = 'sk-REVEALCANARY-0123456789abcdefXYZ';

describe('reveal and export from inside a run', () => {
  let t: TempHome;
  const cli = (args: string[]) => runCli(t.home, args, { timeoutMs: 60_000 });
  const inner = (args: string) => `"${process.execPath}" "${cliPath}" ${args}`;

  beforeAll(async () => {
    t = makeTempHome();
    expect((await runCli(t.home, ['login', 'openai'], { input: `${KEY}\n` })).code).toBe(0);
  });
  afterAll(async () => {
    await t.cleanup();
  });

  it('get --show-secret and export from a descendant of a live run are refused with Error/Hint', async () => {
    const reveal = await cli(['run', '--', 'sh', '-c', inner('get openai --field api_key --show-secret')]);
    expect(reveal.code).toBe(1);
    expect(reveal.stderr).toContain(
      "Error: Refused: a process started by 'authsome run' may not reveal a secret.\nHint: Agents under " +
        "'authsome run' use credentials through its proxy and never receive them.",
    );
    const exported = await cli(['run', '--', 'sh', '-c', inner('export openai --format env')]);
    expect(exported.code).toBe(1);
    expect(exported.stderr).toContain("Error: Refused: a process started by 'authsome run' may not export secrets.");
    for (const r of [reveal, exported]) expect(`${r.stdout}${r.stderr}`).not.toContain(KEY);
    // The masked record is still there for the agent: only the secret is refused.
    expect((await cli(['run', '--', 'sh', '-c', inner('get openai --field status')])).stdout.trim()).toBe('connected');
  });

  it('under --sandbox the same attempt never reaches the server', async () => {
    const r = await cli([
      'run',
      '--sandbox',
      '--',
      'sh',
      '-c',
      `${inner('get openai --field api_key --show-secret')}; ${inner('export openai')}`,
    ]);
    expect(r.code).not.toBe(0);
    expect(`${r.stdout}${r.stderr}`).not.toContain(KEY);
  });

  it('after the run has ended, the person gets the key again', async () => {
    const reveal = await cli(['get', 'openai', '--field', 'api_key', '--show-secret']);
    expect(reveal.code).toBe(0);
    expect(reveal.stdout.trim()).toBe(KEY);
    const exported = await cli(['export', 'openai', '--format', 'env']);
    expect(exported.stdout).toContain(`OPENAI_API_KEY=${KEY}`);
  });
});
