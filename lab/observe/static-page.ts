/**
 * What every self-contained page of the lab shares (run report, comparison): the escaping and a head
 * whose Content-Security-Policy forbids any fetch and any script. File and peer names come from remote
 * peers; even if one slipped through the escaping it could neither run nor phone home.
 */

const CONTENT_SECURITY_POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src data:";

/** Escapes text for HTML content and attribute values (double or single quoted). */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The page up to and including `<body>`: charset, policy, viewport, the escaped title and the inline style. */
export function staticPageStart(title: string, style: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${CONTENT_SECURITY_POLICY}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${style}</style>
</head>
<body>`;
}
