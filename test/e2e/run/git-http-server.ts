// A git smart-HTTP endpoint for tests: a bare repository with one commit, served over HTTPS by `git http-backend`
// (the CGI git itself ships) behind a tiny node:https server that answers 401 unless the request carries the
// expected Authorization header, so a passing `git ls-remote` proves the proxy added the real credential.
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface GitHttpServer {
  port: number;
  /** The commit the repository's main branch points at. */
  head: string;
  /** The Authorization header of every request, in order (undefined when absent). */
  seen: (string | undefined)[];
  close(): Promise<void>;
}

const BACKEND = '/usr/lib/git-core/git-http-backend';

export async function startGitHttpServer(opts: {
  cert: string;
  key: string;
  authorization: string;
}): Promise<GitHttpServer> {
  const root = mkdtempSync(join(tmpdir(), 'authsome-git-'));
  const work = join(root, 'work');
  mkdirSync(work);
  const git = (args: string[], cwd: string) =>
    execFileSync('git', args, {
      cwd,
      env: {
        ...process.env,
        GIT_AUTHOR_NAME: 't',
        GIT_AUTHOR_EMAIL: 't@t',
        GIT_COMMITTER_NAME: 't',
        GIT_COMMITTER_EMAIL: 't@t',
        GIT_CONFIG_NOSYSTEM: '1',
        HOME: root,
      },
    })
      .toString()
      .trim();
  git(['init', '-q', '-b', 'main'], work);
  git(['commit', '-q', '--allow-empty', '-m', 'first'], work);
  const head = git(['rev-parse', 'HEAD'], work);
  git(['clone', '-q', '--bare', work, join(root, 'repo.git')], root);

  const seen: (string | undefined)[] = [];
  const server = https.createServer({ cert: opts.cert, key: opts.key }, (req, res) => {
    seen.push(req.headers.authorization);
    if (req.headers.authorization !== opts.authorization) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="test"', 'content-length': 0 });
      res.end();
      return;
    }
    const url = new URL(req.url ?? '/', 'https://git.test');
    const cgi = spawn(BACKEND, [], {
      env: {
        GIT_PROJECT_ROOT: root,
        GIT_HTTP_EXPORT_ALL: '1',
        PATH_INFO: decodeURIComponent(url.pathname),
        QUERY_STRING: url.search.replace(/^\?/, ''),
        REQUEST_METHOD: req.method ?? 'GET',
        CONTENT_TYPE: req.headers['content-type'] ?? '',
        REMOTE_ADDR: '127.0.0.1',
        GIT_CONFIG_NOSYSTEM: '1',
        HOME: root,
        ...(req.headers['git-protocol'] ? { GIT_PROTOCOL: String(req.headers['git-protocol']) } : {}),
      },
      stdio: ['pipe', 'pipe', 'ignore'],
    });
    req.pipe(cgi.stdin);
    const chunks: Buffer[] = [];
    cgi.stdout.on('data', (c: Buffer) => chunks.push(c));
    cgi.once('close', () => {
      const out = Buffer.concat(chunks);
      const split = out.indexOf('\r\n\r\n');
      const headEnd = split === -1 ? out.indexOf('\n\n') : split;
      const sep = split === -1 ? 2 : 4;
      const headers: Record<string, string> = {};
      let status = 200;
      for (const line of out.subarray(0, headEnd).toString('latin1').split(/\r?\n/)) {
        const colon = line.indexOf(':');
        if (colon === -1) continue;
        const name = line.slice(0, colon).trim().toLowerCase();
        const value = line.slice(colon + 1).trim();
        if (name === 'status') status = Number(value.split(' ')[0]);
        else headers[name] = value;
      }
      const body = out.subarray(headEnd + sep);
      res.writeHead(status, { ...headers, 'content-length': body.length });
      res.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    head,
    seen,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(root, { recursive: true, force: true });
    },
  };
}
