// buildCredentialHeader: the one header the proxy sets, per definition shape.
import { describe, expect, it } from 'vitest';
import { buildCredentialHeader } from '../../../src/providers/headers.js';
import { parseProviderDefinition, type ProviderDefinition } from '../../../src/providers/schema.js';

function define(raw: Record<string, unknown>): ProviderDefinition {
  return parseProviderDefinition(
    { schema_version: 1, name: 'p', display_name: 'P', api_url: 'api.p.test', ...raw },
    { path: 'p.json' },
  );
}

describe('buildCredentialHeader', () => {
  it('defaults to Authorization: Bearer <key>', () => {
    expect(buildCredentialHeader(define({ auth_type: 'api_key' }), 'sk-1')).toEqual({
      name: 'Authorization',
      value: 'Bearer sk-1',
      secret: 'sk-1',
    });
  });

  it('uses the header name and prefix of the definition', () => {
    const def = define({
      auth_type: 'api_key',
      api_key: { header_name: 'Authorization', header_prefix: 'Klaviyo-API-Key' },
    });
    expect(buildCredentialHeader(def, 'pk_1')).toEqual({
      name: 'Authorization',
      value: 'Klaviyo-API-Key pk_1',
      secret: 'pk_1',
    });
  });

  it('sends the bare key when the prefix is null or empty', () => {
    expect(
      buildCredentialHeader(
        define({ auth_type: 'api_key', api_key: { header_name: 'x-api-key', header_prefix: null } }),
        'k',
      ),
    ).toEqual({
      name: 'x-api-key',
      value: 'k',
      secret: 'k',
    });
    expect(
      buildCredentialHeader(
        define({ auth_type: 'api_key', api_key: { header_name: 'api-key', header_prefix: '' } }),
        'k',
      ).value,
    ).toBe('k');
  });

  it("header_format basic sends Basic base64('<key>:')", () => {
    const def = define({ auth_type: 'api_key', api_key: { header_name: 'Authorization', header_format: 'basic' } });
    const header = buildCredentialHeader(def, 'ashby-key');
    expect(header.value).toBe(`Basic ${Buffer.from('ashby-key:').toString('base64')}`);
    expect(Buffer.from(header.value.slice(6), 'base64').toString()).toBe('ashby-key:');
  });

  it('OAuth connections always send Authorization: Bearer <access token>', () => {
    const def = define({
      auth_type: 'oauth2',
      flow: 'pkce',
      oauth: { authorization_url: 'https://p.test/a', token_url: 'https://p.test/t' },
    });
    expect(buildCredentialHeader(def, 'at-1')).toEqual({ name: 'Authorization', value: 'Bearer at-1', secret: 'at-1' });
  });

  it('refuses a secret that would break the header block, without echoing it', () => {
    const def = define({ auth_type: 'api_key' });
    let thrown: unknown;
    try {
      buildCredentialHeader(def, 'sk-abc\r\nX-Evil: 1');
    } catch (err) {
      thrown = err;
    }
    const json = (thrown as { toJSON(): { error: string; hint?: string } }).toJSON();
    expect(json.error).toBe('INVALID_KEY');
    expect(json.hint).toMatch(/cannot be sent in an HTTP header/);
    expect(JSON.stringify(json)).not.toContain('sk-abc');
  });
});
