/**
 * The dashboard's command-line flags and the SSE helpers that need no socket.
 */
import type { IncomingMessage } from 'node:http';

import { UsageError } from '../../lab/errors';
import { dashboardOptionsFrom } from '../../lab/observe/dashboard-command';
import { formatEvent, startSeqOf } from '../../lab/observe/dashboard-server';
import { RunRecorder } from '../../lab/observe/run-events';

describe('dashboardOptionsFrom', () => {
  it('is off without any dashboard flag', () => {
    expect(dashboardOptionsFrom({ dashboard: false, 'dashboard-exit': false })).toBeUndefined();
  });

  it('reads --dashboard, --dashboard-port (0 = any free port) and --dashboard-exit; the last two imply the first', () => {
    expect(dashboardOptionsFrom({ dashboard: true })).toEqual({ exitWhenDone: false });
    expect(dashboardOptionsFrom({ 'dashboard-port': '0' })).toEqual({ port: 0, exitWhenDone: false });
    expect(dashboardOptionsFrom({ 'dashboard-exit': true, 'dashboard-port': '8088' })).toEqual({
      port: 8088,
      exitWhenDone: true,
    });
  });

  it('refuses a port that is not one', () => {
    for (const bad of ['-1', '65536', 'http', '80a', '']) {
      expect(() => dashboardOptionsFrom({ dashboard: true, 'dashboard-port': bad })).toThrow(UsageError);
    }
  });
});

describe('SSE helpers', () => {
  const request = (headers: Record<string, string>): IncomingMessage => ({ headers }) as unknown as IncomingMessage;

  it('formats an event as one message whose id is its seq', () => {
    const recorder = new RunRecorder();
    const event = recorder.record({ type: 'info', text: 'two\nlines' });
    const message = formatEvent(event);
    expect(message.startsWith('id: 0\ndata: {')).toBe(true);
    expect(message.endsWith('}\n\n')).toBe(true);
    expect(message.split('\n')).toHaveLength(4); // id, data, and the blank line: the newline stays escaped
  });

  it('starts after Last-Event-ID, or from the beginning when it is missing or not a number', () => {
    const url = new URL('http://127.0.0.1/events');
    expect(startSeqOf(request({ 'last-event-id': '41' }), url)).toBe(42);
    expect(startSeqOf(request({}), url)).toBe(0);
    expect(startSeqOf(request({ 'last-event-id': 'abc' }), url)).toBe(0);
    expect(startSeqOf(request({}), new URL('http://127.0.0.1/events?lastEventId=9'))).toBe(10);
  });
});
