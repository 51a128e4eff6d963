/** Captures pino output in memory so tests can read what would have gone to stdout. */
import { Writable } from 'node:stream';
import { createLogger, type Logger } from '../../proxy/src/logger';

export interface CapturedLogs {
  logger: Logger;
  lines(): Record<string, unknown>[];
  text(): string;
}

export function captureLogs(level = 'debug'): CapturedLogs {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk.toString('utf8'));
      callback();
    },
  });
  const logger = createLogger({ level }, stream);
  const text = () => chunks.join('');
  return {
    logger,
    text,
    lines: () =>
      text()
        .split('\n')
        .filter((line) => line.trim() !== '')
        .map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}
