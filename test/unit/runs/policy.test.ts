// A run's allow-list: rules, read-only, the request cap, and paths normalised so that no trick slips past a rule.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { AppError } from '../../../src/errors.js';
import { compileGlob, createRunPolicy, normalizePolicyPath, parseAllowRule } from '../../../src/runs/policy.js';

describe('parseAllowRule', () => {
  it('reads provider:METHOD:/glob, method any case or *', () => {
    expect(parseAllowRule('GitHub:get:/repos/**')).toMatchObject({
      provider: 'github',
      method: 'GET',
      glob: '/repos/**',
    });
    expect(parseAllowRule('openai:*:/v1/models')).toMatchObject({ method: '*' });
    expect(parseAllowRule('x:POST:/a:b').glob).toBe('/a:b');
  });

  it.each(['github', 'github:GET', ':GET:/x', 'github:G3T:/x', 'github:GET:repos', 'Git Hub:GET:/x'])(
    'refuses %j with the rule and a hint',
    (text) => {
      let err: AppError | undefined;
      try {
        parseAllowRule(text);
      } catch (e) {
        err = e as AppError;
      }
      expect(err?.code).toBe('USAGE');
      expect(err?.message).toContain(`'${text}'`);
      expect(err?.hint).toContain("--allow 'github:GET:/repos/**'");
    },
  );
});

describe('compileGlob', () => {
  it('* is one segment, ** any number (none included)', () => {
    const one = compileGlob('/repos/*/issues');
    expect(one.test('/repos/a/issues')).toBe(true);
    expect(one.test('/repos/a/b/issues')).toBe(false);
    const any = compileGlob('/repos/**');
    for (const p of ['/repos', '/repos/', '/repos/a', '/repos/a/b/c']) expect(any.test(p), p).toBe(true);
    for (const p of ['/reposx', '/admin', '/']) expect(any.test(p), p).toBe(false);
    const middle = compileGlob('/a/**/z');
    for (const p of ['/a/z', '/a/b/z', '/a/b/c/z']) expect(middle.test(p), p).toBe(true);
    expect(middle.test('/a/zz')).toBe(false);
    expect(compileGlob('/v1/chat.completions').test('/v1/chatXcompletions')).toBe(false);
  });
});

describe('normalizePolicyPath', () => {
  it.each([
    ['/repos/../admin', '/admin'],
    ['/repos/%2e%2e/admin', '/admin'],
    ['/repos/%2E./admin?x=/repos', '/admin'],
    ['//repos//a', '/repos/a'],
    ['/%72epos/a', '/repos/a'],
    ['/repos/a%2Fb', '/repos/a%2Fb'],
    ['/repos/./a/.', '/repos/a'],
    ['/../../', '/'],
  ])('%s → %s', (input, output) => {
    expect(normalizePolicyPath(input)).toBe(output);
  });

  it('never leaves a dot segment or an empty segment, whatever the input', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom('a', 'repos', '.', '..', '', '%2e', '%2E%2e', '%41', 'x%2Fy'), { maxLength: 12 }),
        (parts) => {
          const out = normalizePolicyPath(`/${parts.join('/')}`);
          const segments = out.split('/').slice(1);
          expect(out.startsWith('/')).toBe(true);
          expect(segments.some((s) => s === '.' || s === '..')).toBe(false);
          expect(segments.slice(0, -1).some((s) => s === '')).toBe(false);
        },
      ),
      { numRuns: 300 },
    );
  });
  it('leaves a path that is already normal as it is, and agrees with the segment walk on any path', () => {
    // The segment walk, written out here: the result is /-joined non-empty, non-dot segments, `..` popping one.
    const walk = (path: string): string => {
      const out: string[] = [];
      for (const s of path.split('/')) {
        if (s === '' || s === '.') continue;
        if (s === '..') out.pop();
        else out.push(s);
      }
      return `/${out.join('/')}${out.length > 0 && path.length > 1 && path.endsWith('/') ? '/' : ''}`;
    };
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom('a', 'v1', 'models', '.', '..', '', '.hidden', 'a.b', '..x'), { maxLength: 8 }),
        fc.boolean(),
        (parts, leading) => {
          const path = `${leading ? '/' : ''}${parts.join('/')}`;
          expect(normalizePolicyPath(path)).toBe(walk(path));
        },
      ),
      { numRuns: 500 },
    );
    for (const path of ['/v1/models', '/v1/models/', '/', '/.well-known/x', '/a..b/c'])
      expect(normalizePolicyPath(path)).toBe(path);
  });
});

describe('createRunPolicy', () => {
  it('with rules: only what a rule allows, for that provider; no rules for a provider means nothing for it', () => {
    const policy = createRunPolicy({
      allow: ['github:GET:/repos/**', 'openai:POST:/v1/chat/completions', 'openai:GET:/v1/models'],
    });
    expect(policy.active).toBe(true);
    expect(policy.check('github', 'get', '/repos/o/r/issues?page=2')).toEqual({ allowed: true });
    expect(policy.check('github', 'DELETE', '/repos/o/r')).toMatchObject({
      allowed: false,
      rule: 'allow-list',
      reason: 'no rule of this run allows DELETE /repos/o/r for github',
    });
    expect(policy.check('github', 'GET', '/repos/../admin').allowed).toBe(false);
    expect(policy.check('github', 'GET', '/repos/%2e%2e/admin').allowed).toBe(false);
    expect(policy.check('openai', 'POST', '/v1/chat/completions').allowed).toBe(true);
    expect(policy.check('openai', 'POST', '/v1/chat/completions/../../files').allowed).toBe(false);
    expect(policy.check('anthropic', 'GET', '/v1/models').allowed).toBe(false);
  });

  it('read-only: GET, HEAD and OPTIONS for every provider', () => {
    const policy = createRunPolicy({ readOnly: true });
    for (const m of ['GET', 'head', 'OPTIONS']) expect(policy.check('openai', m, '/v1/x').allowed, m).toBe(true);
    expect(policy.check('openai', 'POST', '/v1/x')).toMatchObject({ allowed: false, rule: 'read-only' });
  });

  it('max-requests counts per provider, and only allowed requests', () => {
    const policy = createRunPolicy({ maxRequests: 2, allow: ['openai:GET:/**', 'groq:GET:/**'] });
    expect(policy.check('openai', 'POST', '/x').allowed).toBe(false);
    expect(policy.check('openai', 'GET', '/a').allowed).toBe(true);
    expect(policy.check('openai', 'GET', '/b').allowed).toBe(true);
    expect(policy.check('openai', 'GET', '/c')).toMatchObject({ allowed: false, rule: 'max-requests' });
    expect(policy.check('groq', 'GET', '/a').allowed).toBe(true);
  });

  it('without anything to enforce, it is inactive and allows everything', () => {
    const policy = createRunPolicy();
    expect(policy.active).toBe(false);
    expect(policy.check('openai', 'DELETE', '/anything').allowed).toBe(true);
    expect(() => createRunPolicy({ maxRequests: 0 })).toThrow(/at least 1/);
  });

  it('describes itself as a person reads it', () => {
    expect(createRunPolicy({ allow: ['github:get:/repos/**'], readOnly: true, maxRequests: 5 }).describe()).toEqual([
      'allow github GET /repos/**',
      'read-only: GET, HEAD and OPTIONS for every provider in scope',
      'at most 5 requests per provider',
    ]);
  });
});
