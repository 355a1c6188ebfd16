// The request side's input, step by step without a socket: heads split across reads and pipelined in one, bodies
// cut at their framing's end, bytes held after an upgrade request, a tunnel, `Connection: close`, and the limits.
import { describe, expect, it } from 'vitest';
import { parseRequestHead } from '../../../src/proxy/http1-framing.js';
import { MAX_BUFFERED_INPUT_BYTES, RequestInput } from '../../../src/proxy/request-input.js';

const bytes = (text: string) => Buffer.from(text, 'latin1');
const framingOf = (head: string) => parseRequestHead(head).framing;

describe('RequestInput', () => {
  it('waits for a whole head, however it is split, and hands it over without its blank line', () => {
    const input = new RequestInput();
    expect(input.next()).toBe('wait');
    expect(input.append(bytes('GET /a HTTP/1.1\r\nHost: x\r\n'))).toBe('kept');
    expect(input.next()).toBe('wait');
    input.append(bytes('\r\n'));
    expect(input.next()).toBe('head');
    expect(input.takeHead()).toBe('GET /a HTTP/1.1\r\nHost: x');
    expect(input.pending).toBe(false);
  });

  it('hands pipelined heads over one at a time, skipping empty lines between them', () => {
    const input = new RequestInput();
    input.append(bytes('GET /a HTTP/1.1\r\n\r\n\r\nGET /b HTTP/1.1\r\n\r\nGET /c'));
    expect(input.next()).toBe('head');
    expect(input.takeHead()).toBe('GET /a HTTP/1.1');
    expect(input.next()).toBe('head');
    expect(input.takeHead()).toBe('GET /b HTTP/1.1');
    expect(input.next()).toBe('wait');
    expect(input.pending).toBe(true);
  });

  it('forwards a body as it comes and ends it where its length says; what follows is the next head', () => {
    const input = new RequestInput();
    input.startBody(framingOf('POST / HTTP/1.1\r\nContent-Length: 5'));
    input.append(bytes('ab'));
    expect(input.next()).toBe('forward');
    expect(input.data.toString()).toBe('ab');
    input.append(bytes('cdeGET /n HTTP/1.1\r\n\r\n'));
    expect(input.next()).toBe('forward-end');
    expect(input.data.toString()).toBe('cde');
    expect(input.mode).toBe('head');
    expect(input.next()).toBe('head');
    expect(input.takeHead()).toBe('GET /n HTTP/1.1');
  });

  it('stops at a chunked body it cannot parse and says why', () => {
    const input = new RequestInput();
    input.startBody(framingOf('POST / HTTP/1.1\r\nTransfer-Encoding: chunked'));
    input.append(bytes('zz\r\n'));
    expect(input.next()).toBe('bad-body');
    expect(input.error).not.toBe('');
  });

  it('holds bytes after an upgrade request, then reads them as the mode the answer set', () => {
    const held = new RequestInput();
    held.holdForUpgrade();
    held.append(bytes('GET /next HTTP/1.1\r\n\r\n'));
    expect(held.next()).toBe('wait');
    expect(held.pending).toBe(true);
    expect(held.endHold()).toBe(true);
    expect(held.mode).toBe('head');
    expect(held.next()).toBe('head');

    const tunnel = new RequestInput();
    tunnel.holdForUpgrade();
    tunnel.append(bytes('\x81\x05frame'));
    tunnel.openTunnel();
    expect(tunnel.endHold()).toBe(false);
    expect(tunnel.next()).toBe('forward');
    expect(tunnel.data.toString('latin1')).toBe('\x81\x05frame');
    expect(tunnel.pending).toBe(false);
  });

  it('reads nothing after a Connection: close request, but still the rest of its body', () => {
    const input = new RequestInput();
    input.closeRequested = true;
    input.startBody(framingOf('POST / HTTP/1.1\r\nContent-Length: 2'));
    expect(input.append(bytes('okGET /smuggled HTTP/1.1\r\n\r\n'))).toBe('kept');
    expect(input.next()).toBe('forward-end');
    expect(input.data.toString()).toBe('ok');
    expect(input.next()).toBe('wait');
    expect(input.pending).toBe(false);
    expect(input.append(bytes('GET /later HTTP/1.1\r\n\r\n'))).toBe('ignored');
    expect(input.pending).toBe(false);
  });

  it('refuses a head past the size limit, and more buffered input than may wait', () => {
    const big = new RequestInput();
    big.append(Buffer.alloc(64 * 1024 + 1, 'a'));
    expect(big.next()).toBe('head-too-large');

    const flood = new RequestInput();
    flood.holdForUpgrade();
    expect(flood.append(Buffer.alloc(MAX_BUFFERED_INPUT_BYTES))).toBe('kept');
    expect(flood.append(Buffer.alloc(1))).toBe('overflow');
  });
});
