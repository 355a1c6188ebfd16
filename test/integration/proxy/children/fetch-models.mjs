// An unmodified agent script: Node's built-in fetch, the key from the environment. Run by real-clients.test.ts.
const res = await fetch('https://api.openai.com/v1/models', {
  headers: { authorization: `Bearer ${process.env.OPENAI_API_KEY}` },
});
const body = await res.json();
console.log(JSON.stringify({ status: res.status, object: body.object, ids: body.data.map((m) => m.id) }));
