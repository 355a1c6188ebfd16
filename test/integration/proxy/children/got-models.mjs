// An unmodified agent on got 14 (node:https underneath, no proxy support of its own).
import got from 'got';

const res = await got('https://api.openai.com/v1/models', {
  headers: { authorization: `Bearer ${process.env.OPENAI_API_KEY}` },
  timeout: { request: 15_000 },
  retry: { limit: 0 },
});
console.log(
  JSON.stringify({ status: res.statusCode, object: JSON.parse(res.body).object, sent: process.env.OPENAI_API_KEY }),
);
