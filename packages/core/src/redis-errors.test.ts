import { describe, expect, it } from 'vitest';
import type { Logger } from './logger.js';
import { redisErrorLogger } from './redis-errors.js';

function recordingLogger() {
  const lines: Array<{ level: 'warn' | 'debug'; fields: Record<string, unknown> }> = [];
  const log = {
    warn: (fields: Record<string, unknown>) => void lines.push({ level: 'warn', fields }),
    debug: (fields: Record<string, unknown>) => void lines.push({ level: 'debug', fields }),
  } as unknown as Logger;
  return { log, lines };
}

describe('redisErrorLogger', () => {
  it('logs a burst of errors (a cluster failover) once at warn, then at debug, and counts them in the next warn', async () => {
    const { log, lines } = recordingLogger();
    const onError = redisErrorLogger(log, 'redis connection error', 50);
    for (let i = 0; i < 120; i++) onError(new Error(`reconnect ${i}`));
    expect(lines.filter((line) => line.level === 'warn')).toHaveLength(1);
    expect(lines.filter((line) => line.level === 'debug')).toHaveLength(119);
    await new Promise((resolve) => setTimeout(resolve, 60));
    onError(new Error('still failing'));
    const warns = lines.filter((line) => line.level === 'warn');
    expect(warns).toHaveLength(2);
    expect(warns[1]?.fields).toMatchObject({ suppressed: 119 });
  });
});
