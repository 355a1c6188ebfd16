// Every status the proxy answers (or audits) on its own account, by name: one table, so an answer's status, the
// phrase of its status line and whether it challenges for credentials cannot drift apart between the listener,
// the interception and the forwarder. The JSON body is built from the AppError (proxy-errors.ts).

export interface ProxyAnswerSpec {
  readonly status: number;
  /** The status line's phrase (RFC 9110's); curl shows only that line for a failed CONNECT. */
  readonly phrase: string;
  /** A 407 tells the client how to authenticate, and the connection is not kept after it. */
  readonly challenge?: boolean;
  /** Only ever written to the audit log: the agent is gone and gets no answer. */
  readonly auditOnly?: boolean;
}

export const PROXY_ANSWERS = {
  /** A request, CONNECT target or body the proxy cannot read the way every server would. */
  badRequest: { status: 400, phrase: 'Bad Request' },
  /** The agent sent more than may be buffered while nothing can be relayed. */
  inputOverflow: { status: 400, phrase: 'Bad Request' },
  /** The run's allow-list, read-only mode or request cap refused it before any credential was added. */
  requestDenied: { status: 403, phrase: 'Forbidden' },
  /** The target is the authsome server itself, which a run never reaches through the proxy. */
  serverRefused: { status: 403, phrase: 'Forbidden' },
  /** No live run session: no Proxy-Authorization, a wrong one, or a run that has ended. */
  proxyAuthRequired: { status: 407, phrase: 'Proxy Authentication Required', challenge: true },
  headTooLarge: { status: 431, phrase: 'Request Header Fields Too Large' },
  /** The agent went away before the upstream answered (nginx's convention). */
  clientClosed: { status: 499, phrase: 'Client Closed Request', auditOnly: true },
  /** The upstream could not be reached, refused TLS, or dropped the exchange. */
  upstreamFailed: { status: 502, phrase: 'Bad Gateway' },
  /** The credential for a matched route could not be had (vault locked, refresh failed). */
  credentialUnavailable: { status: 502, phrase: 'Bad Gateway' },
  /** An answer to a request with a credential, compressed in a way the key scrubber cannot read. */
  answerNotScannable: { status: 502, phrase: 'Bad Gateway' },
  /** No leaf certificate could be made for the CONNECT host. */
  certificateFailed: { status: 502, phrase: 'Bad Gateway' },
} as const satisfies Record<string, ProxyAnswerSpec>;

export type ProxyAnswer = keyof typeof PROXY_ANSWERS;
