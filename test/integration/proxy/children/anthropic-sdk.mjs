// An unmodified agent on @anthropic-ai/sdk: a streamed message, the key sent as x-api-key from ANTHROPIC_API_KEY.
import Anthropic from '@anthropic-ai/sdk';

const client = new Anthropic({ maxRetries: 0, timeout: 15_000 });
const stream = await client.messages.create({
  model: 'claude-test',
  max_tokens: 64,
  stream: true,
  messages: [{ role: 'user', content: 'Say hello' }],
});
const arrivals = [];
let text = '';
for await (const event of stream) {
  if (event.type === 'content_block_delta' && event.delta.type === 'text_delta') {
    arrivals.push(Date.now());
    text += event.delta.text;
  }
}
console.log(JSON.stringify({ text, arrivals, sent: process.env.ANTHROPIC_API_KEY }));
