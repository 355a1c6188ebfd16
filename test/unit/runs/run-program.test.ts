// What the audit log may say of the program a run started: its file name only.
import { describe, expect, it } from 'vitest';
import { buildProgramName } from '../../../src/runs/run-service.js';
import { describeEvent } from '../../../src/server/format.js';

describe('buildProgramName', () => {
  it('keeps the file name only: no directory, no argument, at most 64 characters', () => {
    expect(buildProgramName('/usr/bin/python3')).toBe('python3');
    expect(buildProgramName('curl -H secret')).toBe('curl');
    expect(buildProgramName('x'.repeat(100))).toHaveLength(64);
    expect(buildProgramName('')).toBeUndefined();
    expect(buildProgramName(undefined)).toBeUndefined();
    expect(buildProgramName('/trailing/')).toBeUndefined();
  });
});

describe('describeEvent', () => {
  it("labels doctor's round trip as a self-test, apart from the agents' runs", () => {
    expect(describeEvent('run_start', 'authsome doctor')).toEqual({ label: 'Self-test', tone: 'muted' });
    expect(describeEvent('run_end', 'authsome doctor')).toEqual({ label: 'Self-test ended', tone: 'muted' });
    expect(describeEvent('run_start', 'python3')).toEqual({ label: 'Run started', tone: 'info' });
  });

  it('shows refused requests and scrubbed answers apart from the injected ones', () => {
    expect(describeEvent('denied')).toEqual({ label: 'Denied', tone: 'error' });
    expect(describeEvent('secret_in_response')).toEqual({ label: 'Key scrubbed', tone: 'warn' });
    expect(describeEvent('inject')).toEqual({ label: 'Injected', tone: 'ok' });
  });
});
