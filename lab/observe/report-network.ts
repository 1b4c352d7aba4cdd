/**
 * The run report's network section: which layer enforced each property, and the links the scenario set
 * at its start (their changes are marks on the time axis).
 */
import type { NetworkReport } from '../report-types';
import { isPerfectLink, linkLabel } from './link-label';
import { escapeHtml } from './static-page';

/** '' when the scenario had no network section. */
export function networkHtml(network: NetworkReport | undefined): string {
  if (network === undefined) return '';
  const enforcement = Object.entries(network.enforcement)
    .map(([property, layer]) => `${property} <b>${escapeHtml(layer)}</b>`)
    .join(', ');
  const links = network.links.filter((link) => !isPerfectLink(link));
  const rows = links
    .map((link) => `<tr><td>${escapeHtml(link.between.join(' <-> '))}</td><td>${escapeHtml(linkLabel(link))}</td></tr>`)
    .join('');
  const table =
    links.length === 0
      ? '<p class="note">Every link perfect at the start.</p>'
      : `<table><thead><tr><th>LINK</th><th>AT THE START (one way)</th></tr></thead><tbody>${rows}</tbody></table>`;
  return `<section id="network">
<h2>Network</h2>
<p>Enforced by: ${enforcement}. Changes during the run are marked on the time axis.</p>
${table}
</section>`;
}
