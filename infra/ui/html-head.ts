/**
 * Where the shell's own scripts go in the built `index.html`: early in its head, before its first `<link>`, else
 * before `</head>`. Not after the stylesheets: an inline script there waits for them to load and holds the HTML parser
 * meanwhile (the body would then be parsed only once they are in).
 */

/** `html` with `markup` inserted before its head's first `<link>` (else before `</head>`). */
export function insertEarlyInHead(html: string, markup: string): string {
  const head = html.indexOf('</head>');
  if (head === -1) throw new Error('the UI build has no </head> in its index.html');
  const link = html.indexOf('<link');
  const at = link !== -1 && link < head ? link : head;
  return `${html.slice(0, at)}${markup}\n    ${html.slice(at)}`;
}
