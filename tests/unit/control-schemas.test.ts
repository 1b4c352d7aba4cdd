/**
 * Control protocol validation: every request and response line is checked before it is acted on.
 * These functions throw plain Errors, so the tests check only that they throw, never the text.
 */
import {
  CONTROL_COMMANDS,
  MAX_CONTROL_LINE_BYTES,
  parseControlLine,
  parseControlRequest,
  requestIdOf,
} from '../../src/control/control-schemas';

const FILE_ID = 'ab'.repeat(32);

function line(value: unknown): string {
  return JSON.stringify(value);
}

describe('parseControlRequest', () => {
  it.each<[string, object]>([
    ['connect with no args', { id: 1, cmd: 'connect' }],
    ['connect to a tracker', { id: 2, cmd: 'connect', args: { tracker: 'tracker:7000' } }],
    ['disconnect', { id: 3, cmd: 'disconnect', args: {} }],
    ['upload', { id: 'u-1', cmd: 'upload' }],
    ['files', { id: 4, cmd: 'files' }],
    ['download by name', { id: 5, cmd: 'download', args: { name: 'notes.txt' } }],
    ['download by fileId', { id: 6, cmd: 'download', args: { fileId: FILE_ID } }],
    ['download by both', { id: 7, cmd: 'download', args: { name: 'n', fileId: FILE_ID } }],
    ['download without chunk events', { id: 14, cmd: 'download', args: { name: 'n', chunkEvents: false } }],
    ['status with a token', { id: 8, cmd: 'status', token: 'secret' }],
    ['generate', { id: 9, cmd: 'generate', args: { name: 'g.bin', size: 0, seed: 's', text: true } }],
    ['generate at the size limit', { id: 10, cmd: 'generate', args: { name: 'g', size: 64 * 1024 ** 3 } }],
    ['rate limits', { id: 11, cmd: 'rate', args: { upload: 1, download: null } }],
    ['fault injection', { id: 12, cmd: 'faults', args: { delayMs: 250, dropRate: 0.1, corruptRate: 0 } }],
    ['clearing faults', { id: 13, cmd: 'faults', args: {} }],
    ['an id of 64 characters', { id: 'x'.repeat(64), cmd: 'status' }],
    ['ping with the default count', { id: 15, cmd: 'ping', args: { target: '127.0.0.1:7001' } }],
    ['ping with a count', { id: 16, cmd: 'ping', args: { target: 'peer-2:7001', count: 3 } }],
    ['link set on a host', { id: 17, cmd: 'link', args: { action: 'set', to: 'peer-2', latencyMs: 50, jitterMs: 5, bandwidth: 4194304 } }],
    ['link set on HOST:PORT, uncapping', { id: 18, cmd: 'link', args: { action: 'set', to: '10.0.0.2:7001', bandwidth: null } }],
    ['link set on the default', { id: 19, cmd: 'link', args: { action: 'set', to: 'default', latencyMs: 0.5 } }],
    ['link clear of every rule', { id: 20, cmd: 'link', args: { action: 'clear' } }],
    ['link clear of one rule', { id: 21, cmd: 'link', args: { action: 'clear', to: 'peer-2' } }],
    ['link show', { id: 22, cmd: 'link', args: { action: 'show' } }],
  ])('accepts %s', (_label, request) => {
    expect(parseControlRequest(line(request))).toEqual(request);
  });

  it('knows every command it lists', () => {
    for (const cmd of CONTROL_COMMANDS) {
      const args =
        cmd === 'download'
          ? { name: 'x' }
          : cmd === 'generate'
            ? { name: 'x', size: 1 }
            : cmd === 'ping'
              ? { target: 'h:1' }
              : cmd === 'link'
                ? { action: 'show' }
                : {};
      expect(parseControlRequest(line({ id: 1, cmd, args })).cmd).toBe(cmd);
    }
  });

  it.each<[string, string]>([
    ['invalid JSON', '{"id":1,'],
    ['an empty line', ''],
    ['a JSON array', line([1, 'status'])],
    ['JSON null', 'null'],
    ['no id', line({ cmd: 'status' })],
    ['no cmd', line({ id: 1 })],
    ['an unknown cmd', line({ id: 1, cmd: 'delete' })],
    ['a cmd in the wrong case', line({ id: 1, cmd: 'STATUS' })],
    ['a fractional id', line({ id: 1.5, cmd: 'status' })],
    ['an object id', line({ id: {}, cmd: 'status' })],
    ['an extra top-level field', line({ id: 1, cmd: 'status', extra: true })],
    ['args that are not an object', line({ id: 1, cmd: 'status', args: 'x' })],
    ['args that are an array', line({ id: 1, cmd: 'connect', args: ['tracker'] })],
    ['a numeric token', line({ id: 1, cmd: 'status', token: 5 })],
  ])('rejects a request with %s', (_label, text) => {
    expect(() => parseControlRequest(text)).toThrow(Error);
  });

  it.each<[string, object]>([
    ['connect with a numeric tracker', { tracker: 7000 }],
    ['connect with an empty tracker', { tracker: '' }],
    ['connect with an unknown arg', { tracker: 't:1', force: true }],
    ['status with an arg', { verbose: true }],
    ['download with chunkEvents that is not a boolean', { name: 'x', chunkEvents: 'no' }],
    ['download with neither name nor fileId', {}],
    ['download with an uppercase fileId', { fileId: FILE_ID.toUpperCase() }],
    ['download with a short fileId', { fileId: 'ab' }],
    ['download with an empty name', { name: '' }],
    ['generate without a size', { name: 'g' }],
    ['generate without a name', { size: 1 }],
    ['generate with a negative size', { name: 'g', size: -1 }],
    ['generate with a fractional size', { name: 'g', size: 1.5 }],
    ['generate with a string size', { name: 'g', size: '1M' }],
    ['rate 0', { upload: 0 }],
    ['faults with a negative delay', { delayMs: -1 }],
    ['faults with a delay above 60 s', { delayMs: 60_001 }],
    ['faults with a drop rate above 1', { dropRate: 1.5 }],
    ['faults with a string corrupt rate', { corruptRate: '0.1' }],
    ['faults with an unknown arg', { lossRate: 0.1 }],
    ['rate as a string', { download: '1M' }],
    ['ping without a target', {}],
    ['ping a target without a port', { target: 'peer-2' }],
    ['ping with a count of 0', { target: 'h:1', count: 0 }],
    ['ping with a fractional count', { target: 'h:1', count: 1.5 }],
    ['link without an action', { to: 'peer-2', latencyMs: 5 }],
    ['link with an unknown action', { action: 'drop' }],
    ['link set without a target', { action: 'set', latencyMs: 5 }],
    ['link set with a negative latency', { action: 'set', to: 'h', latencyMs: -1 }],
    ['link set with a string latency', { action: 'set', to: 'h', latencyMs: '50' }],
    ['link set with a bandwidth of 0', { action: 'set', to: 'h', bandwidth: 0 }],
    ['link set with a target holding a space', { action: 'set', to: 'a b', latencyMs: 5 }],
    ['link set with loss (not emulated)', { action: 'set', to: 'h', lossPercent: 1 }],
    ['link show with conditions', { action: 'show', latencyMs: 5 }],
    ['link clear with conditions', { action: 'clear', to: 'h', jitterMs: 5 }],
  ])('rejects bad args: %s', (label, args) => {
    const cmd = label.split(' ')[0];
    expect(() => parseControlRequest(line({ id: 1, cmd, args }))).toThrow(Error);
  });

  it.each<[string, object]>([
    ['an id of 65 characters', { id: 'x'.repeat(65), cmd: 'status' }],
    ['a token of 257 characters', { id: 1, cmd: 'status', token: 't'.repeat(257) }],
    ['a tracker address of 301 characters', { id: 1, cmd: 'connect', args: { tracker: 't'.repeat(301) } }],
    ['a download name of 1025 characters', { id: 1, cmd: 'download', args: { name: 'n'.repeat(1025) } }],
    ['a generate name of 256 characters', { id: 1, cmd: 'generate', args: { name: 'n'.repeat(256), size: 1 } }],
    ['a generate size above 64 GiB', { id: 1, cmd: 'generate', args: { name: 'g', size: 64 * 1024 ** 3 + 1 } }],
    ['a seed of 257 characters', { id: 1, cmd: 'generate', args: { name: 'g', size: 1, seed: 's'.repeat(257) } }],
  ])('rejects an oversize field: %s', (_label, request) => {
    expect(() => parseControlRequest(line(request))).toThrow(Error);
  });
});

describe('parseControlLine', () => {
  it.each<[string, object]>([
    ['a result', { id: 1, ok: true, result: { files: [] } }],
    ['a null result', { id: 'a', ok: true, result: null }],
    ['an error', { id: 2, ok: false, error: { code: 'ERR_X', message: 'm' } }],
    ['an event', { id: 0, event: 'progress', bytes: 10 }],
  ])('accepts %s', (_label, value) => {
    expect(parseControlLine(line(value))).toEqual(value);
  });

  it.each<[string, object]>([
    ['no id', { ok: true, result: 1 }],
    ['ok without a result', { id: 1, ok: true }],
    ['ok: false without an error', { id: 1, ok: false }],
    ['an error without a code', { id: 1, ok: false, error: { message: 'm' } }],
    ['ok: false with a result only', { id: 1, ok: false, result: 1 }],
    ['an event that also has ok but no result', { id: 1, event: 'x', ok: true }],
    ['neither ok nor event', { id: 1 }],
  ])('rejects %s', (_label, value) => {
    expect(() => parseControlLine(line(value))).toThrow(Error);
  });

  it('rejects invalid JSON', () => {
    expect(() => parseControlLine('{')).toThrow(SyntaxError);
  });
});

describe('requestIdOf', () => {
  it('recovers a numeric or short string id from a line that failed validation', () => {
    expect(requestIdOf(line({ id: 42, cmd: 'nope' }))).toBe(42);
    expect(requestIdOf(line({ id: 'req-7', cmd: 'nope' }))).toBe('req-7');
  });

  it.each([
    ['invalid JSON', '{"id":'],
    ['no id', line({ cmd: 'status' })],
    ['an id of 65 characters', line({ id: 'x'.repeat(65) })],
    ['an object id', line({ id: { a: 1 } })],
    ['JSON null', 'null'],
  ])('falls back to 0 for %s', (_label, text) => {
    expect(requestIdOf(text)).toBe(0);
  });
});

it('MAX_CONTROL_LINE_BYTES is 64 KiB', () => {
  expect(MAX_CONTROL_LINE_BYTES).toBe(64 * 1024);
});
