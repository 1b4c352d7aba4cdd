/**
 * The lab's control channel over a fake stream (no Docker): requests multiplexed by id on one stream,
 * events to the request that asked, one transparent reopen for what is safe to send again, and a clear
 * error, never a hang, for the rest.
 */
import {
  ControlChannel,
  type ChannelStream,
  type ChannelStreamHandlers,
  type ControlChannelInit,
} from '../../lab/control-channel';
import { setLogLevel } from '../../src/shared/logger';

setLogLevel('silent');

/** The peer's end of one stream: what the channel wrote, and hooks to answer or to die. */
class FakeStream implements ChannelStream {
  readonly requests: { id: number; cmd: string; args: Record<string, unknown> }[] = [];
  keepAlive: boolean | undefined;
  closed = false;

  constructor(private readonly handlers: ChannelStreamHandlers) {}

  write(text: string): void {
    expect(text.endsWith('\n')).toBe(true);
    this.requests.push(JSON.parse(text) as { id: number; cmd: string; args: Record<string, unknown> });
  }
  close(): void {
    this.closed = true;
  }
  setKeepAlive(keep: boolean): void {
    this.keepAlive = keep;
  }
  send(line: object): void {
    this.handlers.onLine(JSON.stringify(line));
  }
  answer(index: number, result: unknown = {}): void {
    this.send({ id: this.requests[index]!.id, ok: true, result });
  }
  /** The container stopped, the bridge died. */
  die(reason = 'the bridge ended'): void {
    this.handlers.onClose(reason);
  }
}

/** A channel whose streams are FakeStreams; `streams` lists them in the order they were opened. */
function channelWithFakes(init: Partial<ControlChannelInit> = {}): {
  channel: ControlChannel;
  streams: FakeStream[];
  /** Makes the next open fail with this error, or never answer when 'hang'. */
  nextOpen: { fail?: Error | 'hang' };
} {
  const streams: FakeStream[] = [];
  const nextOpen: { fail?: Error | 'hang' } = {};
  const channel = new ControlChannel(
    {
      open: async (handlers) => {
        const fail = nextOpen.fail;
        delete nextOpen.fail;
        if (fail === 'hang') return new Promise<ChannelStream>(() => undefined);
        if (fail !== undefined) throw fail;
        const stream = new FakeStream(handlers);
        streams.push(stream);
        return stream;
      },
    },
    { peer: 'peer-1', ...init },
  );
  return { channel, streams, nextOpen };
}

/** Lets the channel's promise callbacks run. */
const settle = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
};

describe('ControlChannel', () => {
  it('multiplexes concurrent requests on one stream and routes each event to its own request', async () => {
    const { channel, streams } = channelWithFakes();
    const eventsA: unknown[] = [];
    const eventsB: unknown[] = [];
    const a = channel.request('download', { name: 'a.txt' }, { onEvent: (event) => eventsA.push(event) });
    const b = channel.request('download', { name: 'b.txt' }, { onEvent: (event) => eventsB.push(event) });
    const c = channel.request('status', {});
    await settle();
    expect(streams).toHaveLength(1);
    const stream = streams[0]!;
    expect(stream.requests.map((r) => [r.cmd, r.args])).toEqual([
      ['download', { name: 'a.txt' }],
      ['download', { name: 'b.txt' }],
      ['status', {}],
    ]);
    const [idA, idB, idC] = stream.requests.map((r) => r.id);
    expect(new Set([idA, idB, idC]).size).toBe(3);
    // Answers and events interleaved, out of request order.
    stream.send({ id: idB, event: 'chunk', index: 0 });
    stream.send({ id: idA, event: 'progress', have: 1 });
    stream.send({ id: idC, ok: true, result: { connected: true } });
    stream.send({ id: idB, event: 'chunk', index: 1 });
    stream.send({ id: idB, ok: true, result: { file: 'b.txt' } });
    stream.send({ id: idA, ok: false, error: { code: 'ERR_NO_SOURCES', message: 'none' } });
    await expect(c).resolves.toEqual({ id: idC, ok: true, result: { connected: true } });
    await expect(b).resolves.toMatchObject({ ok: true, result: { file: 'b.txt' } });
    await expect(a).resolves.toMatchObject({ ok: false, error: { code: 'ERR_NO_SOURCES' } });
    expect(eventsA).toEqual([{ id: idA, event: 'progress', have: 1 }]);
    expect(eventsB).toEqual([
      { id: idB, event: 'chunk', index: 0 },
      { id: idB, event: 'chunk', index: 1 },
    ]);
  });

  it('reuses the stream for every later request', async () => {
    const { channel, streams } = channelWithFakes();
    for (let i = 0; i < 5; i++) {
      const answer = channel.request('status', {});
      await settle();
      streams[0]!.answer(i, { n: i });
      await expect(answer).resolves.toMatchObject({ result: { n: i } });
    }
    expect(streams).toHaveLength(1);
    expect(channel.opened).toBe(1);
  });

  it('keeps the lab process alive only while a request is in flight', async () => {
    const { channel, streams } = channelWithFakes();
    const answer = channel.request('status', {});
    await settle();
    expect(streams[0]!.keepAlive).toBe(true);
    streams[0]!.answer(0);
    await answer;
    expect(streams[0]!.keepAlive).toBe(false);
    const second = channel.request('files', {});
    expect(streams[0]!.keepAlive).toBe(true);
    await settle();
    streams[0]!.answer(1);
    await second;
    expect(streams[0]!.keepAlive).toBe(false);
  });

  it('sends an idempotent request again, once, on a fresh stream when the stream dies with it in flight', async () => {
    const { channel, streams } = channelWithFakes();
    const answer = channel.request('status', {}, { idempotent: true });
    await settle();
    streams[0]!.die();
    await settle();
    expect(streams).toHaveLength(2);
    expect(streams[1]!.requests.map((r) => r.cmd)).toEqual(['status']);
    // Whatever the dead stream still delivers is not the answer any more.
    streams[0]!.answer(0, { stale: true });
    streams[1]!.answer(0, { connected: true });
    await expect(answer).resolves.toMatchObject({ ok: true, result: { connected: true } });
    // The fresh stream serves what follows.
    const next = channel.request('files', {});
    await settle();
    expect(streams).toHaveLength(2);
    streams[1]!.answer(1);
    await expect(next).resolves.toMatchObject({ ok: true });
  });

  it('fails a request that is not safe to send twice with ERR_LAB_CONTROL_CHANNEL, then reopens for the next', async () => {
    const { channel, streams } = channelWithFakes();
    const download = channel.request('download', { name: 'a.txt' });
    const status = channel.request('status', {}, { idempotent: true });
    await settle();
    streams[0]!.die('control bridge: /run/swarmlab/peer.sock: ECONNRESET');
    await expect(download).rejects.toMatchObject({
      code: 'ERR_LAB_CONTROL_CHANNEL',
      name: 'ControlChannelError',
      message: expect.stringContaining('ECONNRESET') as unknown as string,
    });
    await settle();
    // The idempotent one went on to a new stream; the download was not sent again.
    expect(streams).toHaveLength(2);
    expect(streams[1]!.requests.map((r) => r.cmd)).toEqual(['status']);
    streams[1]!.answer(0);
    await expect(status).resolves.toMatchObject({ ok: true });
  });

  it('stops after the second stream: a channel that keeps dying fails the request instead of looping', async () => {
    const { channel, streams } = channelWithFakes();
    const answer = channel.request('status', {}, { idempotent: true });
    await settle();
    streams[0]!.die();
    await settle();
    streams[1]!.die();
    await expect(answer).rejects.toMatchObject({ code: 'ERR_LAB_CONTROL_CHANNEL' });
    expect(streams).toHaveLength(2);
  });

  it('sends a request not yet written to a stream that died while opening, whatever the command', async () => {
    const streams: FakeStream[] = [];
    let dieAtOnce = true;
    const channel = new ControlChannel(
      {
        open: async (handlers) => {
          const stream = new FakeStream(handlers);
          streams.push(stream);
          if (dieAtOnce) {
            dieAtOnce = false;
            stream.die('container stopped');
          }
          return stream;
        },
      },
      { peer: 'peer-1' },
    );
    const download = channel.request('download', { name: 'a.txt' });
    await settle();
    expect(streams).toHaveLength(2);
    expect(streams[0]!.requests).toEqual([]);
    expect(streams[0]!.closed).toBe(true);
    expect(streams[1]!.requests.map((r) => r.cmd)).toEqual(['download']);
    streams[1]!.answer(0, { file: 'a.txt' });
    await expect(download).resolves.toMatchObject({ result: { file: 'a.txt' } });
  });

  it('fails with ERR_LAB_CONTROL_TIMEOUT, drops the late answer, and keeps the stream for the next request', async () => {
    const { channel, streams } = channelWithFakes();
    const slow = channel.request('status', {}, { timeoutMs: 50 });
    await expect(slow).rejects.toMatchObject({ code: 'ERR_LAB_CONTROL_TIMEOUT', name: 'ControlTimeoutError' });
    expect(channel.inFlight).toBe(0);
    streams[0]!.answer(0, { late: true });
    const next = channel.request('files', {});
    await settle();
    streams[0]!.answer(1, { files: [] });
    await expect(next).resolves.toMatchObject({ result: { files: [] } });
    expect(streams).toHaveLength(1);
  });

  it('rejects an aborted request with ERR_LAB_ABORTED', async () => {
    const { channel } = channelWithFakes();
    const abort = new AbortController();
    const answer = channel.request('download', { name: 'a.txt' }, { signal: abort.signal });
    await settle();
    abort.abort();
    await expect(answer).rejects.toMatchObject({ code: 'ERR_LAB_ABORTED' });
    await expect(channel.request('status', {}, { signal: abort.signal })).rejects.toMatchObject({
      code: 'ERR_LAB_ABORTED',
    });
  });

  it('fails every waiting request with ERR_LAB_CONTROL_CHANNEL when the stream cannot be opened', async () => {
    const { channel, nextOpen, streams } = channelWithFakes();
    nextOpen.fail = new Error('(HTTP code 409) container stopped/paused');
    const a = channel.request('status', {}, { idempotent: true });
    const b = channel.request('files', {}, { idempotent: true });
    await expect(a).rejects.toMatchObject({ code: 'ERR_LAB_CONTROL_CHANNEL', message: expect.stringMatching(/409/) });
    await expect(b).rejects.toMatchObject({ code: 'ERR_LAB_CONTROL_CHANNEL' });
    // Not a dead end: the next request opens again.
    const c = channel.request('status', {});
    await settle();
    streams[0]!.answer(0);
    await expect(c).resolves.toMatchObject({ ok: true });
  });

  it('bounds the opening of a stream', async () => {
    const { channel, nextOpen } = channelWithFakes({ openTimeoutMs: 50 });
    nextOpen.fail = 'hang';
    await expect(channel.request('status', {})).rejects.toMatchObject({
      code: 'ERR_LAB_CONTROL_CHANNEL',
      message: expect.stringMatching(/more than 50 ms/),
    });
  });

  it('close() fails what is in flight, closes the stream, and a later request opens a new one', async () => {
    const { channel, streams } = channelWithFakes();
    const download = channel.request('download', { name: 'a.txt' });
    await settle();
    channel.close();
    await expect(download).rejects.toMatchObject({ code: 'ERR_LAB_CONTROL_CHANNEL' });
    expect(streams[0]!.closed).toBe(true);
    // The stream's own end after close() changes nothing.
    streams[0]!.die();
    const status = channel.request('status', {});
    await settle();
    expect(streams).toHaveLength(2);
    streams[1]!.answer(0);
    await expect(status).resolves.toMatchObject({ ok: true });
  });

  it('ignores lines that are not JSON objects, and answers for requests it does not know', async () => {
    const { channel, streams } = channelWithFakes();
    const answer = channel.request('status', {});
    await settle();
    const stream = streams[0]!;
    stream.send({ id: 999, ok: true, result: {} });
    stream.send({ id: 0, ok: false, error: { code: 'ERR_LINE_TOO_LONG', message: 'x' } });
    (stream as unknown as { handlers: ChannelStreamHandlers }).handlers.onLine('not json');
    (stream as unknown as { handlers: ChannelStreamHandlers }).handlers.onLine('[1,2]');
    expect(channel.inFlight).toBe(1);
    stream.answer(0, { connected: true });
    await expect(answer).resolves.toMatchObject({ result: { connected: true } });
  });
});
