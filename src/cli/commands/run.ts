// `authsome run -- <cmd>`: runs an agent with the proxy in its environment and placeholders instead of
// secrets. The child inherits the terminal; its exit code (128+signal when killed) is ours.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { constants } from 'node:os';
import { defineCommand } from 'citty';
import type { ApiClient } from '../../client/api-client.js';
import { sendJson } from '../../client/http.js';
import { errors } from '../../errors.js';
import { findSecretVariables } from '../../connections/secret-digests.js';
import { buildRunEnv, WITHHELD_VARS } from '../run-env.js';
import { getOutput } from '../output.js';
import { parseRunArgs, type RunArgs } from '../run-args.js';
import { createSandbox, requireSandbox, type Sandbox } from '../sandbox.js';
import { connect } from './_shared.js';

interface RunSessionReply {
  id: string;
  /** SECRET: carries the per-run proxy password. */
  proxy_url: string;
  ca_cert_path: string;
  ca_bundle_path: string;
  preload_path: string;
  placeholders: string[];
  /** Variable → placeholder shaped like the provider's keys (absent from an older server: the bare mark). */
  placeholder_values?: Record<string, string>;
  /** Keyed digests of every stored secret, to find inherited variables that hold one. */
  secret_digests: { salt: string; digests: string[] };
  policy_rules?: string[];
  policy_warnings?: string[];
  scope: { provider: string; connection: string }[];
  skipped: string[];
  /** Things to say before the command starts (absent from an older server). */
  warnings?: string[];
}

const FORWARDED = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

export default defineCommand({
  meta: {
    name: 'run',
    description:
      'Run a command whose API requests get your credentials through the local proxy. Its environment ' +
      'holds only the placeholder authsome-proxy-managed.',
  },
  args: {
    only: {
      type: 'string',
      description: 'Only these providers, comma-separated (default: every provider with a connection)',
      valueHint: 'p1,p2',
    },
    connection: {
      type: 'string',
      alias: 'c',
      description: 'Use this connection for a provider (repeatable)',
      valueHint: 'provider=name',
    },
    placeholders: {
      type: 'boolean',
      default: true,
      negativeDescription: 'Do not set provider env vars to the placeholder',
    },
    'stable-ca': {
      type: 'boolean',
      description:
        'Trust the stored authsome CA (ca.pem) instead of a CA made for this run: for runtimes with their ' +
        'own trust store (Java)',
    },
    sandbox: {
      type: 'boolean',
      description:
        'Run the command where it cannot read the vault and reaches the network only through the proxy ' +
        '(Linux: bubblewrap; macOS: sandbox-exec)',
    },
  },
  async run({ rawArgs }) {
    const out = getOutput();
    const args = parseRunArgs(rawArgs);
    if (process.env.AUTHSOME_RUN === '1' && process.env.HTTPS_PROXY) {
      // Nested run: the outer session's proxy, CA and placeholders are already in our environment.
      if (args.only || Object.keys(args.connections).length > 0)
        out.warn('Inside another authsome run: its scope applies, --only/--connection are ignored.');
      if (args.allow.length > 0 || args.readOnly || args.maxRequests !== undefined || args.policyFile !== undefined) {
        out.warn(
          'Inside another authsome run: its rules apply, --allow/--read-only/--max-requests/--policy are ignored.',
        );
      }
      // Already inside a sandbox, the command is too; outside one, asking for it must never quietly run without it.
      if (args.sandbox && process.env.AUTHSOME_SANDBOX !== '1') {
        throw errors.sandboxUnavailable(
          'this command runs inside an authsome run that is not sandboxed',
          "Start the outer run with 'authsome run --sandbox'.",
        );
      }
      const env = { ...process.env };
      for (const name of WITHHELD_VARS) delete env[name];
      process.exitCode = await runChild(args, env);
      return;
    }
    // Checked before the session exists: a run that cannot be sandboxed never starts.
    const tool = args.sandbox ? await requireSandbox(process.env) : undefined;
    const policy = await loadRunPolicy(args);
    const api = await connect();
    const session = await api.call<RunSessionReply>('POST', '/run-sessions', {
      pid: process.pid,
      only: args.only,
      connections: args.connections,
      // The activity page names the run by its program: the file name only, never a path or an argument.
      program: basename(args.command[0]!),
      ...(policy ? { policy } : {}),
      stable_ca: args.stableCa,
    });
    for (const warning of [...(session.warnings ?? []), ...(session.policy_warnings ?? [])]) out.warn(warning);
    if (args.verbose) {
      const scope = session.scope.map((e) => `${e.provider} (${e.connection})`).join(', ') || 'nothing';
      process.stderr.write(`authsome run: credentials for ${scope}\n`);
      for (const rule of session.policy_rules ?? []) process.stderr.write(`authsome run: ${rule}\n`);
      if ((session.policy_rules ?? []).length === 0)
        process.stderr.write('authsome run: no rules: every request to those providers gets its credential\n');
    }
    for (const name of session.skipped)
      out.warn(`${name} has no connection: its requests get no credential. Run 'authsome login ${name}'.`);
    if (session.scope.length === 0)
      out.warn("No connections in scope: requests go through unchanged. Run 'authsome login <provider>' first.");
    const withhold = findSecretVariables(process.env, session.secret_digests.salt, session.secret_digests.digests);
    const replaced = new Set(args.placeholders ? session.placeholders : []);
    for (const name of withhold) {
      if (!replaced.has(name)) out.warn(`${name} holds a key stored in authsome: it is not passed to the command.`);
    }
    let sandbox: Sandbox | undefined;
    if (tool !== undefined) {
      sandbox = await createSandbox({
        tool,
        home: api.paths.home,
        env: process.env,
        proxyUrl: session.proxy_url,
        caCertPath: session.ca_cert_path,
        caBundlePath: session.ca_bundle_path,
      }).catch(async (err: unknown) => {
        await api.call('POST', `/run-sessions/${session.id}/end`, {}).catch(() => undefined);
        throw err;
      });
    }
    const env = buildRunEnv({
      parentEnv: process.env,
      proxyUrl: session.proxy_url,
      // Under --sandbox the home is hidden: the child reads copies of the CA files.
      caCertPath: sandbox?.caCertPath ?? session.ca_cert_path,
      caBundlePath: sandbox?.caBundlePath ?? session.ca_bundle_path,
      preloadPath: session.preload_path,
      placeholders: session.placeholders,
      placeholderValues: session.placeholder_values,
      noPlaceholders: !args.placeholders,
      withhold,
    });
    if (sandbox) env.AUTHSOME_SANDBOX = '1';
    let code: number | undefined;
    const watch = watchRunSession(api, session.id, (at) =>
      out.warn(
        `The authsome server stopped at ${at} (or no longer knows this run): the command's requests ` +
          'through the proxy now fail. ' +
          "It keeps running; once it ends, start it again with 'authsome run'.",
      ),
    );
    try {
      code = await runChild(args, env, sandbox);
    } finally {
      watch.stop();
      await sandbox?.close();
      const ended = await api
        .call<{ summary?: Record<string, RunStats> }>('POST', `/run-sessions/${session.id}/end`, {
          exit_code: code ?? null,
        })
        .catch(() => undefined);
      if (args.summary) process.stderr.write(formatRunSummary(ended?.summary ?? {}));
    }
    process.exitCode = code;
  },
});

interface RunStats {
  injected: number;
  denied: number;
  scrubbed: number;
}

/** `--policy file` merged with the flags (the flags add to the file); undefined when the run has no rules. */
async function loadRunPolicy(
  args: RunArgs,
): Promise<{ allow: string[]; read_only: boolean; max_requests?: number } | undefined> {
  let file: { allow?: unknown; read_only?: unknown; max_requests?: unknown } = {};
  if (args.policyFile !== undefined) {
    let text: string;
    try {
      text = await readFile(args.policyFile, 'utf8');
    } catch (err) {
      throw errors.usage(
        `Cannot read the policy file ${args.policyFile} (${(err as NodeJS.ErrnoException).code ?? 'error'}).`,
        'Give the path of a JSON file: {"allow": ["github:GET:/repos/**"], "read_only": false, "max_requests": 100}.',
      );
    }
    try {
      file = JSON.parse(text) as typeof file;
    } catch {
      throw errors.usage(
        `The policy file ${args.policyFile} is not valid JSON.`,
        'Write it as {"allow": ["provider:METHOD:/path"], "read_only": false, "max_requests": 100}.',
      );
    }
    if (typeof file !== 'object' || file === null || Array.isArray(file))
      throw errors.usage(`The policy file ${args.policyFile} must hold a JSON object.`);
    if (file.allow !== undefined && (!Array.isArray(file.allow) || !file.allow.every((r) => typeof r === 'string'))) {
      throw errors.usage(`In ${args.policyFile}, "allow" must be a list of rules like "github:GET:/repos/**".`);
    }
    if (
      file.max_requests !== undefined &&
      (typeof file.max_requests !== 'number' || !Number.isInteger(file.max_requests) || file.max_requests < 1)
    ) {
      throw errors.usage(`In ${args.policyFile}, "max_requests" must be a whole number of at least 1.`);
    }
  }
  const allow = [...((file.allow as string[] | undefined) ?? []), ...args.allow];
  const readOnly = args.readOnly || file.read_only === true;
  const maxRequests = args.maxRequests ?? (file.max_requests as number | undefined);
  if (allow.length === 0 && !readOnly && maxRequests === undefined) return undefined;
  return { allow, read_only: readOnly, ...(maxRequests !== undefined ? { max_requests: maxRequests } : {}) };
}

/** `run --summary`: one line per provider, what its requests did. */
export function formatRunSummary(summary: Record<string, RunStats>): string {
  const rows = Object.entries(summary).sort(([a], [b]) => (a < b ? -1 : 1));
  if (rows.length === 0) return 'authsome run: no request got a credential.\n';
  const width = Math.max(8, ...rows.map(([p]) => p.length));
  const lines = [`${'Provider'.padEnd(width)}  Injected  Denied  Scrubbed`];
  for (const [provider, s] of rows)
    lines.push(
      `${provider.padEnd(width)}  ${String(s.injected).padStart(8)}  ${String(s.denied).padStart(6)}  ` +
        `${String(s.scrubbed).padStart(8)}`,
    );
  return `${lines.join('\n')}\n`;
}

/** How often `run` checks that its session still serves; a check waits this long for an answer at most. */
const WATCH_INTERVAL_MS = 2_000;
const WATCH_TIMEOUT_MS = 1_500;

/**
 * Checks now and then that the server still serves this run, and says so once when it does not. It never starts a
 * server (a new one would not know this run) and never ends the child: the person decides.
 */
function watchRunSession(api: ApiClient, id: string, onLost: (at: string) => void): { stop(): void } {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const check = async () => {
    const { url } = api.server.state;
    const live = await sendJson(
      `${url}/api/run-sessions/${id}`,
      'GET',
      { authorization: `Bearer ${api.server.token}` },
      undefined,
      WATCH_TIMEOUT_MS,
    ).then(
      (res) => res.status === 200,
      () => false,
    );
    if (stopped) return;
    if (!live) {
      onLost(new Date().toLocaleTimeString('en-GB', { hour12: false }));
      return;
    }
    timer = setTimeout(() => void check(), WATCH_INTERVAL_MS);
    timer.unref();
  };
  timer = setTimeout(() => void check(), WATCH_INTERVAL_MS);
  timer.unref();
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

/**
 * Spawns the child with the terminal (inside the sandbox when there is one), forwards signals, resolves with its
 * exit code (128+N when killed).
 */
function runChild(args: RunArgs, env: NodeJS.ProcessEnv, sandbox?: Sandbox): Promise<number> {
  const [command, ...rest] = args.command;
  return new Promise((resolve, reject) => {
    let child: ChildProcess;
    let kill: (signal: NodeJS.Signals) => void;
    if (sandbox) ({ child, kill } = sandbox.spawn(args.command, env));
    else {
      child = spawn(command!, rest, { stdio: 'inherit', env });
      kill = (signal) => child.kill(signal);
    }
    // On a terminal, Ctrl-C already reaches the child (same process group): forwarding it would deliver it twice.
    // A sandboxed child (Linux and macOS) has a session of its own, which the terminal's Ctrl-C does not reach: it is
    // forwarded.
    const handlers = FORWARDED.map((signal) => {
      const handler = () => {
        if (signal === 'SIGINT' && process.stdin.isTTY && !sandbox) return;
        kill(signal);
      };
      process.on(signal, handler);
      return [signal, handler] as const;
    });
    const cleanUp = () => handlers.forEach(([signal, handler]) => process.off(signal, handler));
    child.once('error', (err: NodeJS.ErrnoException) => {
      cleanUp();
      if (err.code === 'ENOENT') reject(errors.commandNotFound(command!));
      else if (err.code === 'EACCES') reject(errors.commandNotExecutable(command!));
      else reject(errors.internal(`Could not start ${command}: ${err.message}`));
    });
    child.once('exit', (code, signal) => {
      cleanUp();
      resolve(code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0));
    });
  });
}
