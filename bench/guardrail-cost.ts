// The guardrails' own CPU per request, measured in this process on the code the proxy runs: the allow-list check of
// the bench's request and the scrubber's read of the bench's answer, against the framing read the proxy does anyway.
// Throughput through two proxies (run.ts's `guardrails` phase) shows the same cost end to end, but on a shared
// 2-core machine its noise is larger than the cost; this figure is steady.
import { readFileSync } from 'node:fs';
import { readBodyCodings } from '../src/proxy/response-decoding.js';
import { createResponseTracker } from '../src/proxy/response-tracker.js';
import { buildScrubNeedles, createScrubber } from '../src/proxy/secret-scrubber.js';
import { createRunPolicy } from '../src/runs/policy.js';

export interface GuardrailCost {
  /** Framing read of one answer, as the proxy does without guardrails (µs). */
  bare: number;
  /** The same with the allow-list check, the coding check and the scrubber's scan (µs). */
  guarded: number;
}

const ROUNDS = 200_000;

/** The bench upstream's `/v1/models` answer as node:https sends it (fields and lengths alike). */
function buildModelsAnswer(): { chunk: Buffer; headText: string } {
  const body = JSON.stringify({
    object: 'list',
    data: [
      { id: 'gpt-4o-mini', object: 'model', created: 1721172741, owned_by: 'system' },
      { id: 'gpt-4o', object: 'model', created: 1715367049, owned_by: 'system' },
    ],
  });
  const headText =
    'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n' +
    `content-length: ${body.length}\r\nDate: ${new Date().toUTCString()}\r\nConnection: keep-alive\r\n` +
    'Keep-Alive: timeout=60';
  return { chunk: Buffer.from(`${headText}\r\n\r\n${body}`, 'latin1'), headText };
}

/** Mean µs per call of `fn`, after a warm-up that lets V8 optimise it. */
function measure(fn: () => void): number {
  for (let i = 0; i < ROUNDS / 10; i++) fn();
  const start = process.hrtime.bigint();
  for (let i = 0; i < ROUNDS; i++) fn();
  return Number(process.hrtime.bigint() - start) / ROUNDS / 1000;
}

export function measureGuardrailCost(secret: string): GuardrailCost {
  const allow = JSON.parse(readFileSync(new URL('allow-rules.json', import.meta.url), 'utf8')) as string[];
  const policy = createRunPolicy({ allow });
  const { chunk, headText } = buildModelsAnswer();
  const request = { method: 'GET', upgrade: false };
  const events = { peekRequest: () => request, onResponse: () => undefined, onResponseEnd: () => undefined };
  const bareTracker = createResponseTracker(events);
  const guardedTracker = createResponseTracker(events);
  const scrubber = createScrubber(buildScrubNeedles(secret));
  let sink = 0;
  const bare = measure(() => {
    sink += bareTracker.scan(chunk);
  });
  const guarded = measure(() => {
    if (!policy.check('openai', 'GET', '/v1/models').allowed) throw new Error('the bench request is not allowed');
    const content: [number, number][] = [];
    sink += guardedTracker.scan(chunk, (from, to) => content.push([from, to]));
    sink += readBodyCodings(headText).length;
    sink += scrubber.push(chunk, content).length;
  });
  if (sink === 0 || scrubber.found !== 0) throw new Error('the guardrail cost measure did not run as meant');
  return { bare, guarded };
}
