// `authsome doctor`: health checks with a verdict each (home permissions, server, vault, provider files, sandbox);
// exits non-zero when any check fails.
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { defineCommand } from 'citty';
import { connectApi } from '../../client/api-client.js';
import { AppError } from '../../errors.js';
import { buildHomePaths, resolveHomeDir, type HomePaths } from '../../paths.js';
import { getOutput } from '../output.js';
import { checkProxyRoundTrip } from '../proxy-check.js';
import { requireSandbox } from '../sandbox.js';
import { escapeTerminalText } from '../terminal-text.js';

type Verdict = 'ok' | 'warn' | 'fail';
interface Check {
  name: string;
  verdict: Verdict;
  detail: string;
  hint?: string;
}

async function checkPermissions(paths: HomePaths): Promise<Check[]> {
  const checks: Check[] = [];
  const wrong: string[] = [];
  const dirs = [paths.home, paths.providers, paths.server, paths.ca];
  const files = [
    paths.vault,
    paths.vaultBackup,
    paths.masterKey,
    paths.audit,
    paths.state,
    paths.token,
    paths.serverLog,
    paths.caCert,
    paths.caBundle,
  ];
  for (const dir of dirs) {
    const mode = await readMode(dir);
    if (mode !== undefined && mode !== 0o700) wrong.push(`${dir} is ${octal(mode)} (want 0700)`);
  }
  let fileCount = 0;
  for (const file of files) {
    const mode = await readMode(file);
    if (mode === undefined) continue;
    fileCount++;
    if (mode !== 0o600) wrong.push(`${file} is ${octal(mode)} (want 0600)`);
  }
  checks.push(
    wrong.length === 0
      ? {
          name: 'Permissions',
          verdict: 'ok',
          detail: `${paths.home} and its ${fileCount} files are private (0700/0600)`,
        }
      : {
          name: 'Permissions',
          verdict: 'fail',
          detail: wrong.join('; '),
          hint: `Run: chmod 700 ${paths.home} && chmod 600 <file>`,
        },
  );
  const shared: string[] = [];
  for (const file of await readdir(paths.providers).catch(() => [] as string[])) {
    const mode = await readMode(join(paths.providers, file));
    if (mode !== undefined && (mode & 0o022) !== 0) shared.push(`${file} (${octal(mode)})`);
  }
  if (shared.length > 0) {
    checks.push({
      name: 'Provider files',
      verdict: 'warn',
      detail: `writable by others: ${shared.join(', ')}`,
      hint: 'Anyone who can edit them can redirect credentials: chmod go-w them.',
    });
  }
  return checks;
}

async function readMode(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).mode & 0o777;
  } catch {
    return undefined;
  }
}

const octal = (mode: number) => `0${mode.toString(8)}`;

async function checkServer(): Promise<Check[]> {
  const checks: Check[] = [];
  let api;
  try {
    api = await connectApi({ onProgress: () => {}, onWarning: (m) => getOutput().warn(m) });
  } catch (err) {
    const e = err instanceof AppError ? err : undefined;
    return [{ name: 'Server', verdict: 'fail', detail: e?.message ?? String(err), hint: e?.hint }];
  }
  const status = await api.call<{
    version: string;
    url: string;
    pid: number;
    vault: { path: string; mode: string; state: string; error?: { message: string; hint?: string } };
    connections: number | null;
  }>('GET', '/status');
  checks.push({
    name: 'Server',
    verdict: 'ok',
    detail: `running (pid ${status.pid}) at ${status.url}, version ${status.version}`,
  });
  const v = status.vault;
  if (v.state === 'damaged')
    checks.push({ name: 'Vault', verdict: 'fail', detail: v.error?.message ?? 'damaged', hint: v.error?.hint });
  else if (v.state === 'locked')
    checks.push({
      name: 'Vault',
      verdict: 'warn',
      detail: `${v.path} is locked (${v.mode} mode)`,
      hint: "Run 'authsome unlock'.",
    });
  else
    checks.push({
      name: 'Vault',
      verdict: 'ok',
      detail: `${v.path} unlocked (${v.mode} mode), ${status.connections ?? 0} connection(s)`,
    });
  let warnings: { path: string; reason: string }[];
  try {
    ({ warnings } = await api.call<{ warnings: { path: string; reason: string }[] }>('GET', '/providers'));
  } catch (err) {
    // The provider list comes with the vault's connections: a damaged vault must still get its own verdict above.
    if (!(err instanceof AppError) || v.state === 'unlocked') throw err;
    checks.push({ name: 'Providers', verdict: 'warn', detail: `not checked while the vault is ${v.state}` });
    checks.push({ name: 'Proxy', verdict: 'warn', detail: `not checked while the vault is ${v.state}` });
    return checks;
  }
  if (warnings.length === 0)
    checks.push({ name: 'Providers', verdict: 'ok', detail: 'every custom provider file is valid' });
  for (const w of warnings) {
    checks.push({
      name: 'Providers',
      verdict: 'fail',
      detail: `${w.path} is ignored: ${w.reason}`,
      hint: 'Fix the file or delete it.',
    });
  }
  if (v.state !== 'unlocked') {
    checks.push({ name: 'Proxy', verdict: 'warn', detail: 'not checked while the vault is not unlocked' });
    return checks;
  }
  try {
    checks.push(...(await checkProxyRoundTrip(api)));
  } catch (err) {
    const e = err instanceof AppError ? err : undefined;
    checks.push({
      name: 'Proxy round trip',
      verdict: 'fail',
      detail: e?.message ?? (err as Error).message,
      hint: e?.hint,
    });
  }
  return checks;
}

/** A warning, not a failure, when missing: `run` works without it, and `run --sandbox` says so itself. */
async function checkSandbox(): Promise<Check> {
  try {
    const tool = await requireSandbox(process.env);
    const works =
      tool.kind === 'bwrap'
        ? `${tool.path} builds its network and pid namespaces`
        : `${tool.path} applies the run's Seatbelt profile (macOS)`;
    return { name: 'Sandbox', verdict: 'ok', detail: `${works}: 'authsome run --sandbox' is available` };
  } catch (err) {
    if (!(err instanceof AppError)) throw err;
    return {
      name: 'Sandbox',
      verdict: 'warn',
      detail: `${err.detail ?? err.message}; 'authsome run --sandbox' is not available`,
      hint: err.hint,
    };
  }
}

/** What each client family reads inside `authsome run` (printed by doctor; README has the same table). */
const CLIENT_TRUST_NOTES = [
  'Inside `authsome run`, clients find the proxy and trust its CA through:',
  "  (each run's CA is made for it alone and vouches only for its providers' hosts; `run --stable-ca` uses " +
    'ca.pem, for trust stores)',
  "  curl             HTTPS_PROXY, CURL_CA_BUNDLE (system roots + the run's CA)",
  '  Python requests  HTTPS_PROXY, REQUESTS_CA_BUNDLE; httpx/urllib: HTTPS_PROXY, SSL_CERT_FILE',
  '  Node.js fetch    NODE_OPTIONS --import preload (Node 20-23), NODE_USE_ENV_PROXY (Node 22.21+, 24+), ' +
    'NODE_EXTRA_CA_CERTS',
  '  Node http/https  the same preload replaces the global agents (Node < 24.5), NODE_USE_ENV_PROXY (22.21+, 24.5+);',
  '    axios, got      a client given its own agent goes direct: give it one built from HTTPS_PROXY instead',
  '  Go, Ruby, Rust   HTTPS_PROXY, SSL_CERT_FILE',
  '  git              HTTPS_PROXY, GIT_SSL_CAINFO',
  '  Java (JVM)       needs code: JAVA_TOOL_OPTIONS="-Dhttps.proxyHost=127.0.0.1 -Dhttps.proxyPort=<port ' +
    'in HTTPS_PROXY>',
  '                   -Djdk.http.auth.tunneling.disabledSchemes= -Djavax.net.ssl.trustStore=<PKCS12 store ' +
    'with ca.pem>"',
  '                   under `authsome run --stable-ca` (the run then trusts the stored ca.pem),',
  '                   and a java.net.Authenticator that answers with the user and password in HTTPS_PROXY',
];

export default defineCommand({
  meta: { name: 'doctor', description: 'Check home permissions, the server, the vault and provider files.' },
  async run() {
    const out = getOutput();
    const paths = buildHomePaths(resolveHomeDir());
    // The server first: on a fresh home it is what creates the files whose modes are then checked.
    const serverChecks = await checkServer();
    const checks = [...(await checkPermissions(paths)), ...serverChecks, await checkSandbox()];
    const failed = checks.filter((c) => c.verdict === 'fail').length;
    out.result({ ok: failed === 0, checks }, () => {
      const mark: Record<Verdict, string> = {
        ok: out.paint('green', '✓'),
        warn: out.paint('yellow', '!'),
        fail: out.paint('red', '✗'),
      };
      // Details quote paths, provider files and server answers: escaped before paint() adds our own colours.
      const lines = checks.flatMap((c) => [
        `${mark[c.verdict]} ${escapeTerminalText(c.name)}: ${escapeTerminalText(c.detail)}`,
        ...(c.hint && c.verdict !== 'ok' ? [`  Hint: ${escapeTerminalText(c.hint)}`] : []),
      ]);
      lines.push('', ...CLIENT_TRUST_NOTES, '');
      lines.push(failed === 0 ? 'All checks passed.' : `${failed} check${failed === 1 ? '' : 's'} failed.`);
      return lines.join('\n');
    });
    if (failed > 0) process.exitCode = 1;
  },
});
