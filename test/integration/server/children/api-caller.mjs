// A process that calls the authsome API on request, so a test can place it anywhere in a process tree (here: under a
// live run) and keep it alive across the run's end. Each stdin line is {path, body, proxy?}; each reply line is
// {status, body}. With `proxy` (a run's proxy URL) the request goes through that proxy as plain HTTP.
// Arguments: <web port> <API token>.
import { request } from 'node:http';
import { createInterface } from 'node:readline';

const [port, token] = process.argv.slice(2);

function call({ path, body, proxy }) {
  const via = proxy ? new URL(proxy) : undefined;
  const headers = { host: `127.0.0.1:${port}`, authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  if (via) {
    const userPass = `${decodeURIComponent(via.username)}:${decodeURIComponent(via.password)}`;
    headers['proxy-authorization'] = `Basic ${Buffer.from(userPass).toString('base64')}`;
  }
  return new Promise((resolve) => {
    const req = request(
      via
        ? {
            host: via.hostname,
            port: via.port,
            path: `http://127.0.0.1:${port}/api${path}`,
            method: 'POST',
            headers,
            agent: false,
          }
        : { host: '127.0.0.1', port, path: `/api${path}`, method: 'POST', headers, agent: false },
      (res) => {
        let text = '';
        res.on('data', (d) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode, body: text }));
      },
    );
    req.on('error', (err) => resolve({ status: 0, body: err.message }));
    req.end(JSON.stringify(body));
  });
}

for await (const line of createInterface({ input: process.stdin })) {
  process.stdout.write(`${JSON.stringify(await call(JSON.parse(line)))}\n`);
}
