// How a login session's end maps to the login command's result or the catalogue's error (pure).
import { describe, expect, it } from 'vitest';
import { settleLogin, type LoginSessionReply } from '../../../src/client/login-session.js';
import { errors } from '../../../src/errors.js';
import { caught } from '../../helpers/app-errors.js';

const ended = (state: LoginSessionReply['state'], extra: Partial<LoginSessionReply> = {}): LoginSessionReply => ({
  id: 'id',
  url: 'http://authsome.localhost:1/login/id',
  state,
  provider: 'github',
  connection: 'work',
  expires_at: new Date(0).toISOString(),
  ...extra,
});

describe('settleLogin', () => {
  it('a completed session is a stored login', () => {
    expect(settleLogin(ended('completed'))).toEqual({ provider: 'github', connection: 'work', stored: true });
  });

  it('cancelled, expired and pending are the catalogue errors', () => {
    expect(caught(() => settleLogin(ended('cancelled'))).message).toBe('The login was cancelled in the browser.');
    expect(caught(() => settleLogin(ended('expired'))).hint).toBe("Run 'authsome login github' again for a new link.");
    expect(caught(() => settleLogin(ended('pending'))).code).toBe('INTERNAL');
  });

  it('a failed session throws the error the server sent, with its hint; without one, an internal error', () => {
    const sent = errors.usage('The provider refused the code.', 'Run it again.');
    const err = caught(() => settleLogin(ended('failed', { error: sent.toJSON() })));
    expect([err.code, err.message, err.hint]).toEqual(['USAGE', 'The provider refused the code.', 'Run it again.']);
    expect(caught(() => settleLogin(ended('failed'))).message).toBe('The login failed.');
  });
});
