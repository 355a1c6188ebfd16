// The script-free page that moves the browser on (the launcher file, the sign-in after a cross-site navigation).
import { describe, expect, it } from 'vitest';
import { buildRedirectPage } from '../../src/redirect-page.js';

describe('buildRedirectPage', () => {
  it("moves on by meta refresh and by a link, the address escaped in both, the caller's head lines first", () => {
    const html = buildRedirectPage('/x?a=1&b="><script>alert(1)</script>', {
      title: 'Go <on>',
      head: ['<meta name="referrer" content="no-referrer">'],
    });
    const href = '/x?a=1&amp;b=&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;';
    expect(html).toContain(`<meta http-equiv="refresh" content="0;url=${href}">`);
    expect(html).toContain(`<a href="${href}">Continue to authsome</a>`);
    expect(html).not.toMatch(/<script/i);
    expect(html).toContain('<title>Go &lt;on&gt;</title>');
    expect(html.indexOf('no-referrer')).toBeLessThan(html.indexOf('http-equiv="refresh"'));
  });
});
