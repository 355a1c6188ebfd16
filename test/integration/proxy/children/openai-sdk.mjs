// An unmodified agent using the openai SDK (which calls the global fetch). Run by real-clients.test.ts.
import OpenAI from 'openai';

const client = new OpenAI({ maxRetries: 0, timeout: 15_000 });
const ids = [];
for await (const model of client.models.list()) ids.push(model.id);
const stream = await client.chat.completions.create({
  model: 'gpt-4o-mini',
  stream: true,
  messages: [{ role: 'user', content: 'Say hello' }],
});
const arrivals = [];
let text = '';
for await (const chunk of stream) {
  arrivals.push(Date.now());
  text += chunk.choices[0]?.delta?.content ?? '';
}
console.log(JSON.stringify({ ids, text, arrivals }));
