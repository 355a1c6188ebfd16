// The same unmodified fetch script for Bun and Deno (and Node): the model list, the key from the environment.
const key = globalThis.Deno ? Deno.env.get('OPENAI_API_KEY') : process.env.OPENAI_API_KEY;
const res = await fetch('https://api.openai.com/v1/models', { headers: { authorization: `Bearer ${key}` } });
const body = await res.json();
console.log(JSON.stringify({ status: res.status, object: body.object, sent: key }));
