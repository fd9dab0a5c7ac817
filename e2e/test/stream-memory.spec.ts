import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import {
  COMPOSE_STREAM_NODE_ARGS,
  runService,
  startPrivateRedis,
  workspaceRoot,
} from '@temps/testing';
import { parse } from 'yaml';

/** The stream node settings the compose file gives Redis. */
function composeStreamSettings(): string[] {
  const compose = parse(readFileSync(join(workspaceRoot(), 'docker-compose.yml'), 'utf8')) as {
    services: { redis: { command: string[] } };
  };
  const command = compose.services.redis.command;
  return command.flatMap((arg, i) =>
    arg.startsWith('--stream-node-') ? [arg, command[i + 1]] : [],
  );
}

async function bytesPerReading(args: string[]): Promise<number> {
  const server = await startPrivateRedis({ args });
  try {
    const result = await runService('producer', ['--days', '1', '--seed', '1'], {
      REDIS_URL: server.url,
    });
    expect(result.code).toBe(0);
    const redis = server.client();
    const bytes = Number(await redis.memory('USAGE', 'temps:20250101', 'SAMPLES', 0));
    return bytes / (await redis.xlen('temps:20250101'));
  } finally {
    await server.stop();
  }
}

describe('Redis stream node settings (measured)', () => {
  it('store a reading in at most 15 bytes with the compose settings, against about 20 by default', async () => {
    const settings = composeStreamSettings();
    expect(settings).toEqual(COMPOSE_STREAM_NODE_ARGS);
    const tuned = await bytesPerReading(settings);
    const defaults = await bytesPerReading([]);
    expect(tuned).toBeLessThanOrEqual(15);
    expect(defaults).toBeGreaterThan(tuned);
  });
});
