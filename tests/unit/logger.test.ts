import { createLogger, setLogLevel } from '../../src/shared/logger';

/** A value whose formatting is counted: winston's formats call toJSON when they render a record. */
function counted(): { toJSON: () => string; calls: number } {
  const value = {
    calls: 0,
    toJSON(): string {
      value.calls++;
      return 'counted';
    },
  };
  return value;
}

describe('logger', () => {
  afterEach(() => setLogLevel('info'));

  it('does not format a record below the level (a debug line per chunk costs nothing at info)', () => {
    setLogLevel('info');
    const value = counted();
    createLogger('test').debug('chunk', { value });
    expect(value.calls).toBe(0);
  });

  it('formats a record at or above the level', () => {
    setLogLevel('debug');
    const write = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      const value = counted();
      createLogger('test').debug('chunk', { value });
      expect(value.calls).toBeGreaterThan(0);
    } finally {
      write.mockRestore();
    }
  });
});
