/**
 * The pure pieces under the scenario runner: the control requests it sends, the equivalent ctl argv, and
 * the Docker log demultiplexer.
 */
import { demuxBuffer } from '../../lab/engine/dockerode-lab-docker';
import { controlRequest, ctlArgv } from '../../lab/peer-control';

function frame(stream: 1 | 2, text: string): Buffer {
  const payload = Buffer.from(text, 'utf8');
  const header = Buffer.alloc(8);
  header.writeUInt8(stream, 0);
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

describe('ctlArgv', () => {
  it('builds the argv that `swarmlab ctl --json` parses (src/cli/ctl.ts)', () => {
    expect(ctlArgv('connect', {})).toEqual(['swarmlab', 'ctl', '--json', 'connect']);
    expect(ctlArgv('connect', { tracker: 'tracker:7070' })).toEqual([
      'swarmlab',
      'ctl',
      '--json',
      'connect',
      'tracker:7070',
    ]);
    expect(ctlArgv('upload', {})).toEqual(['swarmlab', 'ctl', '--json', 'upload']);
    expect(ctlArgv('download', { name: 'file1_dir1.txt' })).toEqual([
      'swarmlab',
      'ctl',
      '--json',
      'download',
      'file1_dir1.txt',
    ]);
    expect(ctlArgv('download', { fileId: 'ab'.repeat(32) })).toEqual([
      'swarmlab',
      'ctl',
      '--json',
      'download',
      'ab'.repeat(32),
    ]);
    expect(ctlArgv('generate', { name: 'a.txt', size: 524288, seed: 'demo', text: true })).toEqual([
      'swarmlab',
      'ctl',
      '--json',
      'generate',
      'a.txt',
      '524288',
      '--seed',
      'demo',
      '--text',
    ]);
    expect(ctlArgv('rate', { upload: 131072, download: null })).toEqual([
      'swarmlab',
      'ctl',
      '--json',
      'rate',
      '--upload',
      '131072',
      '--download',
      'off',
    ]);
    expect(ctlArgv('faults', { corrupt: 1, delayMs: 20 })).toEqual([
      'swarmlab',
      'ctl',
      '--json',
      'faults',
      'corrupt=1',
      'delay=20',
    ]);
  });
});

describe('controlRequest', () => {
  it('builds the control protocol request of each command (docs/control.md), as ctl would send it', () => {
    expect(controlRequest('connect', {})).toEqual({ cmd: 'connect', args: {} });
    expect(controlRequest('connect', { tracker: 'tracker:7070' })).toEqual({
      cmd: 'connect',
      args: { tracker: 'tracker:7070' },
    });
    expect(controlRequest('status', {})).toEqual({ cmd: 'status', args: {} });
    expect(controlRequest('download', { name: 'file1_dir1.txt' })).toEqual({
      cmd: 'download',
      args: { name: 'file1_dir1.txt' },
    });
    expect(controlRequest('download', { fileId: 'ab'.repeat(32) })).toEqual({
      cmd: 'download',
      args: { fileId: 'ab'.repeat(32) },
    });
    expect(controlRequest('download', { name: 'big.bin', digest: false })).toEqual({
      cmd: 'download',
      args: { name: 'big.bin', digest: false },
    });
    expect(controlRequest('generate', { name: 'a.txt', size: 524288, seed: 'demo', text: true })).toEqual({
      cmd: 'generate',
      args: { name: 'a.txt', size: 524288, seed: 'demo', text: true },
    });
    expect(controlRequest('rate', { upload: 131072, download: null })).toEqual({
      cmd: 'rate',
      args: { upload: 131072, download: null },
    });
    // The settings not given are reset to 0, as `ctl faults corrupt=1` does.
    expect(controlRequest('faults', { corrupt: 1 })).toEqual({
      cmd: 'faults',
      args: { delayMs: 0, dropRate: 0, corruptRate: 1 },
    });
    expect(controlRequest('link', { to: '10.0.0.3', latencyMs: 50, jitterMs: 0, bandwidth: null })).toEqual({
      cmd: 'link',
      args: { action: 'set', to: '10.0.0.3', latencyMs: 50, jitterMs: 0, bandwidth: null },
    });
  });

  it('refuses a download that names no file', () => {
    expect(() => controlRequest('download', {})).toThrow(expect.objectContaining({ code: 'ERR_LAB_USAGE' }));
  });
});

describe('demuxBuffer', () => {
  it('splits stdout and stderr frames and keeps their interleaving in combined', () => {
    const raw = Buffer.concat([frame(1, 'out 1\n'), frame(2, 'err 1\n'), frame(1, 'out 2\n')]);
    expect(demuxBuffer(raw)).toEqual({
      stdout: 'out 1\nout 2\n',
      stderr: 'err 1\n',
      combined: 'out 1\nerr 1\nout 2\n',
    });
  });

  it('keeps a truncated last frame as far as it goes and ignores a partial header', () => {
    const whole = frame(1, 'hello world\n');
    expect(demuxBuffer(whole.subarray(0, 8 + 5)).stdout).toBe('hello');
    expect(demuxBuffer(Buffer.concat([frame(2, 'x'), Buffer.from([1, 0, 0])])).stderr).toBe('x');
    expect(demuxBuffer(Buffer.alloc(0))).toEqual({ stdout: '', stderr: '', combined: '' });
  });
});
