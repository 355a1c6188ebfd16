// A page that sends the browser on to one address at once with no script at all (meta refresh), and a link for a
// browser that does not follow it: the CLI's launcher file and the sign-in step after a cross-site navigation.
// Pure; the address is escaped, since a one-time URL carries `&` and a path may carry `"` or `<`.

const escapeHtml = (text: string) =>
  text.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** `head`: the caller's own lines for <head> (a CSP, a stylesheet), put before the refresh. */
export function buildRedirectPage(target: string, page: { title: string; head: string[] }): string {
  const href = escapeHtml(target);
  return [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8">',
    ...page.head,
    `<meta http-equiv="refresh" content="0;url=${href}">`,
    `<title>${escapeHtml(page.title)}</title></head>`,
    `<body><main class="container"><p><a href="${href}">Continue to authsome</a></p></main></body></html>`,
    '',
  ].join('\n');
}
