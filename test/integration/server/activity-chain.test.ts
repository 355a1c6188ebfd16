// The activity page says, in one calm line, whether the audit log's hash chain holds: intact (verified against the
// checkpoint in the vault), or broken at the first bad line after a hostile edit of audit.log. Real sockets.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendHttp } from '../../helpers/http.js';
import { createRuntime, type Runtime } from '../../../src/runtime.js';

describe('the activity page shows the state of the audit chain', () => {
  let root: string;
  let rt: Runtime;
  let cookie = '';
  const page = (path: string, headers: Record<string, string> = {}) =>
    sendHttp(rt.port, path, { headers: { host: `authsome.localhost:${rt.port}`, cookie, ...headers } });
  /** The chain line as a person reads it, tags and extra spaces removed. */
  const readChainLine = (body: string) =>
    /<p id="audit-chain">([\s\S]*?)<\/p>/
      .exec(body)![1]!
      .replace(/<[^>]+>/g, '')
      .replace(/\s+/g, ' ')
      .trim();

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'authsome-activity-chain-'));
    rt = await createRuntime({ home: join(root, 'home'), port: 0, kdf: { memory_kib: 1024, iterations: 1 } });
    await rt.connections.loginWithApiKey({ provider: 'openai', apiKey: 'sk-chain0123456789abcdefghijklmn' });
    const link = await sendHttp(rt.port, '/api/ui-link', {
      method: 'POST',
      headers: { authorization: `Bearer ${rt.token}` },
    });
    const url = new URL(JSON.parse(link.body).url);
    const signIn = await sendHttp(rt.port, url.pathname + url.search, {
      headers: { host: `authsome.localhost:${rt.port}` },
    });
    cookie = String(signIn.headers['set-cookie']).split(';')[0]!;
    for (let i = 0; i < 4; i++)
      rt.audit.record('inject', {
        provider: 'openai',
        method: 'GET',
        host: 'api.openai.com',
        path: `/v1/r${i}`,
        status: 200,
        ms: 1,
      });
    await rt.audit.flush();
  });
  afterAll(async () => {
    await rt.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('intact: the number of entries, verified against the vault', async () => {
    const r = await page('/activity');
    expect(r.status).toBe(200);
    const lines = readFileSync(rt.paths.audit, 'utf8').split('\n').filter(Boolean);
    expect(readChainLine(r.body)).toBe(
      `Chain intact ${lines.length} entries verified against the checkpoint in the vault.`,
    );
  });

  it('an edited line: broken at that line, with the reason; the page still lists the events', async () => {
    const original = readFileSync(rt.paths.audit);
    const lines = original.toString('utf8').split('\n').filter(Boolean);
    lines[2] = lines[2]!.replace('"status":200', '"status":500');
    writeFileSync(rt.paths.audit, lines.map((l) => `${l}\n`).join(''));
    const r = await page('/activity');
    expect(r.status).toBe(200);
    expect(readChainLine(r.body)).toBe(
      'Chain broken at line 3 of audit.log: it was changed after it was written (the next line&#39;s hash ' +
        'link does not match it). Entries from that line on cannot be trusted; authsome log --verify says ' +
        'the same.',
    );
    expect(r.body).toContain('id="activity-feed"');
    writeFileSync(rt.paths.audit, original);
    expect(readChainLine((await page('/activity')).body)).toMatch(/^Chain intact /);
  });
});
