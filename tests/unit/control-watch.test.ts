/**
 * The `watch` control command's schema and event lines, and the lab's mapping of those lines to the
 * dashboard's run events (lab/observe/dashboard-watch.ts).
 */
import { runEventOfWatchLine } from '../../lab/observe/dashboard-watch';
import { parseControlLine, parseControlRequest } from '../../src/control/control-schemas';

describe('watch request', () => {
  it('takes no arguments', () => {
    expect(parseControlRequest('{"id":1,"cmd":"watch"}')).toEqual({ id: 1, cmd: 'watch' });
    expect(parseControlRequest('{"id":"w","cmd":"watch","args":{}}').cmd).toBe('watch');
    expect(() => parseControlRequest('{"id":1,"cmd":"watch","args":{"file":"x"}}')).toThrow(/args of watch/);
  });

  it('streams event lines that the client accepts as events, not as the response', () => {
    const finished = parseControlLine(
      '{"id":1,"event":"download-finished","fileId":"ab","file":"x","succeeded":true,"verified":true}',
    );
    expect('ok' in finished).toBe(false);
    // Why the activity says `succeeded`: a line with both `event` and `ok` is not a valid control line.
    expect(() => parseControlLine('{"id":1,"event":"download-finished","ok":true}')).toThrow();
  });
});

describe('runEventOfWatchLine', () => {
  const names = new Map<string, string>();

  it('turns a complete held file or a published one into a full chunk map', () => {
    expect(
      runEventOfWatchLine(
        'peer-1',
        { event: 'held', file: 'a', fileId: 'f1', size: 10, chunks: 2, have: 2, complete: true },
        names,
      ),
    ).toEqual({ type: 'file', peer: 'peer-1', file: 'a', size: 10, chunks: 2 });
    expect(
      runEventOfWatchLine('peer-1', { event: 'published', file: 'a', fileId: 'f1', size: 10, chunks: 2 }, names),
    ).toEqual({ type: 'file', peer: 'peer-1', file: 'a', size: 10, chunks: 2 });
  });

  it('turns a partial held file into progress, and an empty one into nothing', () => {
    expect(
      runEventOfWatchLine(
        'peer-3',
        { event: 'held', file: 'a', fileId: 'f1', size: 10, chunks: 4, have: 1, complete: false },
        names,
      ),
    ).toEqual({ type: 'progress', peer: 'peer-3', file: 'a', have: 1, chunks: 4, size: 10 });
    expect(
      runEventOfWatchLine(
        'peer-3',
        { event: 'held', file: 'a', fileId: 'f1', size: 10, chunks: 4, have: 0, complete: false },
        names,
      ),
    ).toBeUndefined();
  });

  it('turns a received chunk into a transfer to the watched peer', () => {
    expect(
      runEventOfWatchLine(
        'peer-3',
        {
          event: 'chunk',
          file: 'a',
          fileId: 'f1',
          index: 3,
          chunks: 4,
          from: 'peer-1',
          fromAddr: '10.0.0.2:7071',
          to: 'peer-3',
          bytes: 5,
          ms: 7,
        },
        names,
      ),
    ).toEqual({ type: 'transfer', file: 'a', index: 3, chunks: 4, from: 'peer-1', to: 'peer-3', bytes: 5, ms: 7 });
  });

  it('names progress and a finished download by the file id seen before', () => {
    const byId = new Map<string, string>([['f9', 'named.txt']]);
    expect(
      runEventOfWatchLine('peer-4', { event: 'progress', fileId: 'f9', have: 2, chunks: 4, rateBps: 100 }, byId),
    ).toEqual({
      type: 'progress',
      peer: 'peer-4',
      file: 'named.txt',
      have: 2,
      chunks: 4,
      rateBps: 100,
    });
    expect(
      runEventOfWatchLine(
        'peer-4',
        { event: 'download-finished', fileId: 'f9', succeeded: false, code: 'ERR_X', error: 'gone' },
        byId,
      ),
    ).toEqual({ type: 'download', peer: 'peer-4', file: 'named.txt', ok: false, error: 'gone' });
  });

  it('notes in the timeline that a peer is being watched', () => {
    expect(runEventOfWatchLine('peer-4', { event: 'watching', peer: 'peer-4' }, names)).toEqual({
      type: 'info',
      text: 'peer-4: following its activity (ctl watch)',
    });
  });

  it('ignores lines it does not know', () => {
    expect(runEventOfWatchLine('peer-4', { event: 'whatever', peer: 'peer-4' }, names)).toBeUndefined();
    expect(runEventOfWatchLine('peer-4', { event: 'chunk', file: 'a' }, names)).toBeUndefined();
  });
});
