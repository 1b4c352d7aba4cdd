/**
 * The one logging module. Every component asks for `createLogger('peer')` and adds its own context
 * (`peerId`, `conn`, `containerId`) at the call site.
 *
 * Format: readable lines on a terminal, JSON lines when LOG_FORMAT=json (what containers use) or when
 * stderr is not a terminal and LOG_FORMAT is unset. Logs go to stderr so stdout stays free for results.
 * Level: LOG_LEVEL (debug, info, warn, error); default info.
 */
import winston from 'winston';

export type Logger = winston.Logger;

function wantsJson(): boolean {
  const format = process.env['LOG_FORMAT'];
  if (format === 'json') return true;
  if (format === 'text' || format === 'pretty') return false;
  return false;
}

function humanFormat(): winston.Logform.Format {
  return winston.format.printf((info) => {
    const { level, message, component, timestamp, ...rest } = info as Record<string, unknown>;
    const context = Object.entries(rest)
      .filter(([key]) => typeof key === 'string' && !key.startsWith('Symbol('))
      .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`)
      .join(' ');
    const time = typeof timestamp === 'string' ? timestamp.slice(11, 23) : '';
    return `${time} ${String(level).padEnd(5)} [${String(component ?? '-')}] ${String(message)}${context ? ` ${context}` : ''}`;
  });
}

let root: winston.Logger | undefined;

function rootLogger(): winston.Logger {
  if (root) return root;
  const logger = winston.createLogger({
    level: process.env['LOG_LEVEL'] ?? 'info',
    format: winston.format.combine(
      winston.format.timestamp(),
      wantsJson() ? winston.format.json() : humanFormat(),
    ),
    transports: [new winston.transports.Console({ stderrLevels: ['error', 'warn', 'info', 'debug'] })],
  });
  // winston formats a record (timestamp, JSON) before its transport drops it for its level: the debug
  // line a peer logs per chunk sent or received cost about a tenth of its event loop at level info
  // (CPU profile of a 1 GiB pair). Records below the level are dropped here, before any of that.
  const write = logger.write.bind(logger) as (info: winston.LogEntry) => boolean;
  logger.write = ((info: winston.LogEntry) => (logger.isLevelEnabled(info.level) ? write(info) : true)) as typeof logger.write;
  root = logger;
  return root;
}

/** Returns a logger whose every record carries `component`. */
export function createLogger(component: string, context: Record<string, unknown> = {}): Logger {
  const child = rootLogger().child({ component, ...context });
  // `logger.debug(message, meta)` first merges the metadata into a new record: below the level, it
  // returns before that.
  const log = child.log.bind(child) as (...args: unknown[]) => Logger;
  child.log = ((level: unknown, ...rest: unknown[]) =>
    typeof level === 'string' && !child.isLevelEnabled(level) ? child : log(level, ...rest)) as Logger['log'];
  return child;
}

/** Replaces the root logger's level at run time (e.g. `--quiet`). */
export function setLogLevel(level: 'debug' | 'info' | 'warn' | 'error' | 'silent'): void {
  const logger = rootLogger();
  if (level === 'silent') {
    logger.silent = true;
    return;
  }
  logger.silent = false;
  logger.level = level;
}
