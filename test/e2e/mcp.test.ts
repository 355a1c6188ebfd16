// `authsome mcp` as an agent meets it: the SDK's own client spawns the built CLI over stdio. With a canary key
// stored, every tool is called (each way it can answer) and no answer, nor the server's stderr, holds the key in
// any form; request_login opens the form in the person's browser and keeps its one-time URL from the agent.
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestEnv, cliPath, makeTempHome, runCli, type TempHome } from '../helpers/cli.js';

const CANARY = 'sk-MCPCANARY-0123456789abcdefghijKLMNOP';

/** Every form a key could leak in: as is, base64, base64url, hex, URL-encoded, and any 16-character slice. */
function findCanary(text: string): string | undefined {
  const forms = [
    CANARY,
    Buffer.from(CANARY).toString('base64'),
    Buffer.from(CANARY).toString('base64url'),
    Buffer.from(CANARY).toString('hex'),
    encodeURIComponent(CANARY),
  ];
  for (let i = 0; i + 16 <= CANARY.length; i++) forms.push(CANARY.slice(i, i + 16));
  return forms.find((f) => text.includes(f));
}

async function waitFor<T>(check: () => T | undefined, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setImmediate(r));
  }
}

describe('authsome mcp', () => {
  let t: TempHome;
  let client: Client;
  let transport: StdioClientTransport;
  let stderr = '';
  let opened: string;
  const answers: string[] = [];

  const call = async (name: string, args: Record<string, unknown> = {}) => {
    const r = (await client.callTool({ name, arguments: args })) as {
      content: { type: string; text: string }[];
      isError?: boolean;
    };
    const text = r.content.map((c) => c.text).join('\n');
    answers.push(text);
    return { text, isError: r.isError === true };
  };

  beforeAll(async () => {
    t = makeTempHome();
    expect((await runCli(t.home, ['login', 'openai', '--stdin'], { input: `${CANARY}\n` })).code).toBe(0);
    // The person's browser: a script that records what it was asked to open.
    const dir = mkdtempSync(join(tmpdir(), 'authsome-mcp-browser-'));
    opened = join(dir, 'opened.txt');
    const browser = join(dir, 'browser.sh');
    writeFileSync(browser, `#!/bin/sh\nprintf '%s\\n' "$1" >> '${opened}'\n`);
    chmodSync(browser, 0o755);
    const env = buildTestEnv(t.home, { BROWSER: browser });
    transport = new StdioClientTransport({
      command: process.execPath,
      args: [cliPath, 'mcp'],
      env: env as Record<string, string>,
      stderr: 'pipe',
    });
    transport.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    client = new Client({ name: 'test-agent', version: '1.0.0' });
    await client.connect(transport);
  }, 60_000);

  afterAll(async () => {
    await client?.close();
    await t?.cleanup();
    rmSync(join(opened, '..'), { recursive: true, force: true });
  });

  it('lists its three tools', async () => {
    const { tools } = await client.listTools();
    expect(tools.map((x) => x.name).sort()).toEqual(['inspect_provider', 'list_providers', 'request_login']);
  });

  it(
    'list_providers: the connected provider with its ' + 'connection, status and run variables; the rest by name',
    async () => {
      const all = JSON.parse((await call('list_providers')).text) as {
        connected: {
          name: string;
          connections: { connection: string; status: string; is_default: boolean }[];
          run_env: string[];
        }[];
        not_connected: string[];
      };
      expect(all.connected).toHaveLength(1);
      expect(all.connected[0]).toMatchObject({
        name: 'openai',
        connections: [{ connection: 'default', status: 'connected', is_default: true }],
        run_env: ['OPENAI_API_KEY'],
      });
      expect(all.not_connected).toContain('anthropic');
      const only = JSON.parse((await call('list_providers', { connected_only: true })).text) as Record<string, unknown>;
      expect(only.not_connected).toBeUndefined();
    },
  );

  it('inspect_provider: the definition; an unknown provider is an error with a hint', async () => {
    const r = JSON.parse((await call('inspect_provider', { provider: 'openai' })).text) as {
      name: string;
      definition: { api_url: string };
    };
    expect(r.name).toBe('openai');
    expect(r.definition.api_url).toBe('api.openai.com');
    const missing = await call('inspect_provider', { provider: 'no-such-provider' });
    expect(missing.isError).toBe(true);
    expect(missing.text).toMatch(/^Error: .*no-such-provider/);
    const bad = await call('inspect_provider', {});
    expect(bad.isError).toBe(true);
  });

  it('request_login: opens the form in the person’s browser, and the agent gets no URL', async () => {
    const r = await call('request_login', { provider: 'anthropic' });
    expect(r.isError).toBe(false);
    expect(r.text).toMatch(/^The login form for Anthropic \(default\) is open in the person's browser/);
    // The stand-in browser appends with the shell: the file can exist a moment before its line is in it.
    const launcher = await waitFor(() =>
      existsSync(opened) ? readFileSync(opened, 'utf8').trim() || undefined : undefined,
    );
    expect(launcher).toMatch(/^file:\/\//);
    // The launcher redirects to the one-time form URL: that URL, and its token, never reach the agent.
    const target = /https?:\/\/[^"'<>\s]+/.exec(readFileSync(new URL(launcher), 'utf8'))![0];
    expect(r.text).not.toContain(target);
    expect(r.text).not.toContain(new URL(target).pathname.split('/').pop()!);
    expect(r.text).not.toMatch(/https?:\/\//);
  });

  it('request_login for a connected provider says so and opens nothing', async () => {
    const before = existsSync(opened) ? readFileSync(opened, 'utf8') : '';
    const r = await call('request_login', { provider: 'openai' });
    expect(r.text).toBe(
      "OpenAI (default) is already connected. To replace its key, the person runs 'authsome login openai --force'.",
    );
    expect(existsSync(opened) ? readFileSync(opened, 'utf8') : '').toBe(before);
  });

  it('an unknown tool is an error', async () => {
    const r = await call('get_key', { provider: 'openai' });
    expect(r.isError).toBe(true);
  });

  it('no answer, and nothing on its stderr, holds the canary key in any form', () => {
    expect(answers.length).toBeGreaterThanOrEqual(8);
    for (const a of answers) expect(findCanary(a)).toBeUndefined();
    expect(findCanary(stderr)).toBeUndefined();
  });
});
