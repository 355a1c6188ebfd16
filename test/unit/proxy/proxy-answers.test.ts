// The proxy's own answers come from one table: a status written as a bare number elsewhere in src/proxy, a name
// nothing uses, or a phrase that differs from the status line clients know would let the answers drift apart.
import { STATUS_CODES } from 'node:http';
import { readdirSync, readFileSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { errors } from '../../../src/errors.js';
import { PROXY_ANSWERS, type ProxyAnswer, type ProxyAnswerSpec } from '../../../src/proxy/proxy-answers.js';
import { writeRawProxyError } from '../../../src/proxy/proxy-errors.js';

const dir = fileURLToPath(new URL('../../../src/proxy/', import.meta.url));
const sources = readdirSync(dir)
  .filter((name) => name.endsWith('.ts') && name !== 'proxy-answers.ts')
  .map((name) => ({ name, text: readFileSync(`${dir}${name}`, 'utf8') }));
const entries = Object.entries(PROXY_ANSWERS) as [ProxyAnswer, ProxyAnswerSpec][];

/** Code only: comments may name a status in prose. */
const stripComments = (text: string) =>
  text
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .split('\n')
    .map((line) => line.replace(/^\s*\/\/.*$/, '').replace(/\s\/\/ .*$/, ''))
    .join('\n');

function writeRaw(answer: ProxyAnswer): Promise<string> {
  const socket = new PassThrough();
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  const ended = new Promise<string>((resolve) => socket.on('end', () => resolve(Buffer.concat(chunks).toString())));
  writeRawProxyError(socket, answer, errors.invalidInput('x'));
  return ended;
}

describe('PROXY_ANSWERS', () => {
  it('holds only error statuses, each with the phrase Node (and so every HTTP client) knows for it', () => {
    expect(entries.length).toBeGreaterThan(0);
    for (const [name, spec] of entries) {
      expect(spec.status, name).toBeGreaterThanOrEqual(400);
      expect(spec.status, name).toBeLessThan(600);
      expect(spec.phrase, name).toBe(STATUS_CODES[spec.status] ?? spec.phrase);
      expect(spec.phrase, name).toMatch(/^[A-Za-z][A-Za-z ]+$/);
    }
  });

  it('challenges for credentials on the 407 only', () => {
    const challenging = entries.filter(([, spec]) => spec.challenge).map(([name]) => name);
    expect(challenging).toEqual(['proxyAuthRequired']);
    expect(PROXY_ANSWERS.proxyAuthRequired.status).toBe(407);
  });

  it('has every answer used somewhere in the proxy', () => {
    const all = sources.map((f) => stripComments(f.text)).join('\n');
    for (const [name] of entries) expect(all, name).toMatch(new RegExp(`'${name}'|\\.${name}\\b`));
  });

  it('is the only place in the proxy that spells one of its statuses as a number', () => {
    const statuses = new Set(entries.map(([, spec]) => spec.status));
    for (const { name, text } of sources) {
      const literals = [...stripComments(text).matchAll(/(?<![\w.'"-])(\d{3})(?![\w.'"])/g)].map((m) => Number(m[1]));
      expect(
        literals.filter((n) => statuses.has(n)),
        name,
      ).toEqual([]);
    }
  });

  it("writes each answer's status line, and the challenge header only with a 407", async () => {
    for (const [name, spec] of entries) {
      if (spec.auditOnly) continue;
      const text = await writeRaw(name);
      expect(text.split('\r\n')[0], name).toBe(`HTTP/1.1 ${spec.status} ${spec.phrase}`);
      expect(text.includes('\r\nx-authsome-error: 1\r\n'), name).toBe(true);
      expect(text.includes('Proxy-Authenticate: Basic realm="authsome"'), name).toBe(spec.challenge === true);
    }
  });
});
