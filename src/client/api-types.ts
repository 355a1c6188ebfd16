// The shapes of the server's /api answers that more than one CLI command reads. Types only: the server is the
// source of truth, and a change there shows up here as a compile error in every reader.

/** One connection in `GET /api/providers`. */
export interface ApiConnectionRow {
  connection: string;
  status: string;
  is_default: boolean;
  expires_at?: string;
  scopes?: string[];
}

/** One provider in `GET /api/providers`. */
export interface ApiProviderRow {
  name: string;
  source: string;
  auth_type: string;
  connections: ApiConnectionRow[];
}
