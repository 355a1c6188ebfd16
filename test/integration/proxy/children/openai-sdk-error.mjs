// An unmodified agent using the openai SDK against a provider whose upstream is down: prints the SDK's own error
// message, which is what an agent (or its person) gets to read. Run by real-clients.test.ts.
import OpenAI from 'openai';

const client = new OpenAI({ maxRetries: 0, timeout: 15_000 });
try {
  await client.models.list();
  console.log(JSON.stringify({ ok: true }));
} catch (err) {
  console.log(
    JSON.stringify({ name: err.constructor.name, status: err.status, message: err.message, code: err.code ?? null }),
  );
}
