// The redis-server the launcher (`npm start`) starts when no Redis is given or answering, and the
// test kit starts for every suite: a real process on a free port, nothing left behind.
import { existsSync } from 'node:fs';
import { Redis } from 'ioredis';
import { startRedisServer, type RedisServer } from '@temps/runtime';

const servers: RedisServer[] = [];
const clients: Redis[] = [];
afterEach(async () => {
  clients.splice(0).forEach((client) => client.disconnect());
  await Promise.all(servers.splice(0).map((server) => server.stop()));
});

async function start(options?: Parameters<typeof startRedisServer>[0]) {
  const server = await startRedisServer(options);
  servers.push(server);
  const client = new Redis(server.url, { maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on('error', () => undefined);
  clients.push(client);
  return { server, client };
}

describe('startRedisServer', () => {
  it('starts a redis-server of its own on 127.0.0.1, with the options given', async () => {
    const { server, client } = await start({ args: ['--stream-node-max-entries', '1000'] });
    expect(server.url).toBe(`redis://127.0.0.1:${server.port}`);
    expect(server.port).not.toBe(6379);
    expect(await client.ping()).toBe('PONG');
    expect(await client.config('GET', 'stream-node-max-entries')).toEqual([
      'stream-node-max-entries',
      '1000',
    ]);
    expect(await client.config('GET', 'save')).toEqual(['save', '']);
  });

  it('requires the password it was given, which its URL carries', async () => {
    const { server } = await start({ password: 's3cret' });
    expect(server.url).toBe(`redis://:s3cret@127.0.0.1:${server.port}`);
    const anonymous = new Redis(`redis://127.0.0.1:${server.port}`, {
      lazyConnect: true,
      enableReadyCheck: false,
    });
    anonymous.on('error', () => undefined);
    clients.push(anonymous);
    await anonymous.connect();
    await expect(anonymous.ping()).rejects.toThrow(/NOAUTH/);
  });

  it('two servers get two ports', async () => {
    const [a, b] = await Promise.all([start(), start()]);
    expect(a.server.port).not.toBe(b.server.port);
    expect(await a.client.set('k', 'a')).toBe('OK');
    expect(await b.client.get('k')).toBeNull();
  });

  it('stop() ends the process and removes its folder', async () => {
    const { server, client } = await start();
    const [, dir] = (await client.config('GET', 'dir')) as [string, string];
    const pid = Number(/process_id:(\d+)/.exec(await client.info('server'))?.[1]);
    expect(existsSync(dir)).toBe(true);
    await server.stop();
    expect(existsSync(dir)).toBe(false);
    expect(() => process.kill(pid, 0)).toThrow(/ESRCH/);
  });
});
