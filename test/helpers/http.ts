// One raw HTTP request to the server under test (node:http, no agent, the Host header left to the caller when given).
import { request } from 'node:http';

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export interface SendOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
}

export function sendHttp(port: number, path: string, options: SendOptions = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: options.method ?? 'GET',
        headers: options.headers,
        agent: false,
        setHost: !options.headers?.host,
      },
      (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

/** POSTs `body` as JSON to the runtime's `/api<path>` with its bearer token; resolves with the parsed answer. */
export async function postApi(rt: { url: string; token: string }, path: string, body: unknown): Promise<any> {
  const res = await fetch(`${rt.url}/api${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${rt.token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return res.json();
}
