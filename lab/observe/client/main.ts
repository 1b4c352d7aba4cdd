/**
 * The dashboard page's script (bundled by scripts/build.mjs into dist/dashboard-client.js and inlined in
 * the page by ../dashboard-page.ts): ONE EventSource on /events, each message a run event for the
 * Dashboard to fold and draw.
 */
import type { RunEvent } from '../run-events';
import { Dashboard } from './dashboard';

/** Rates and the elapsed time are recomputed this often. */
const TICK_MS = 1000;

/** The server sends only run events; anything else (a truncated message, say) is skipped, not trusted. */
function parseEvent(data: string): RunEvent | undefined {
  try {
    const parsed: unknown = JSON.parse(data);
    if (typeof parsed !== 'object' || parsed === null) return undefined;
    const { seq, type } = parsed as { seq?: unknown; type?: unknown };
    return typeof seq === 'number' && typeof type === 'string' ? (parsed as RunEvent) : undefined;
  } catch {
    return undefined;
  }
}

function connect(dashboard: Dashboard): void {
  const connection = document.getElementById('connection');
  // One EventSource for the page's lifetime; on a drop it reconnects by itself with Last-Event-ID.
  const source = new EventSource('events');
  source.onopen = () => {
    document.body.setAttribute('data-connection', 'live');
    if (connection !== null) connection.textContent = 'live';
  };
  source.onerror = () => {
    document.body.setAttribute('data-connection', 'lost');
    if (connection !== null) connection.textContent = dashboard.ended ? 'dashboard stopped' : 'reconnecting...';
  };
  source.onmessage = (message: MessageEvent<string>) => {
    const event = parseEvent(message.data);
    if (event !== undefined) dashboard.apply(event);
  };
}

const dashboard = new Dashboard(document);
window.addEventListener('resize', () => dashboard.redrawGraph());
setInterval(() => dashboard.tickRates(), TICK_MS);
connect(dashboard);
