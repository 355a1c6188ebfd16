// An unmodified agent script on node:https (what axios, got, node-fetch 2 and most SDKs sit on): GET <url> with the
// key from the environment, through the global agent, or through an agent of its own with `--own-agent`.
// CHILD_EXTRA_CA names a CA file for a direct request to the test upstream. Run by real-clients.test.ts.
import { readFileSync } from 'node:fs';
import https from 'node:https';

const [url = 'https://api.openai.com/v1/models', mode] = process.argv.slice(2);
const options = { headers: { authorization: `Bearer ${process.env.OPENAI_API_KEY}` } };
if (process.env.CHILD_EXTRA_CA) options.ca = readFileSync(process.env.CHILD_EXTRA_CA, 'utf8');
if (mode === '--own-agent') options.agent = new https.Agent({ keepAlive: false });

const result = await new Promise((resolve) => {
  const req = https.get(url, options, (res) => {
    let body = '';
    res.setEncoding('utf8');
    res.on('data', (chunk) => (body += chunk));
    res.on('end', () => {
      let object;
      try {
        object = JSON.parse(body).object;
      } catch {
        object = undefined;
      }
      resolve({ status: res.statusCode, object });
    });
  });
  req.on('error', (err) => resolve({ error: err.code ?? err.message }));
});
console.log(JSON.stringify(result));
