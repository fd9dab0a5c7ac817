import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ServiceProcess,
  eventually,
  freePort,
  runService,
  startPrivateRedis,
  workspaceRoot,
  type PrivateRedis,
} from '@temps/testing';
import { Redis } from 'ioredis';

const PASSWORD = 'acl-S3cret-pw';

/** The ACL rule the README gives for the services, read from the README itself. */
function readmeAclRule(): string {
  const readme = readFileSync(join(workspaceRoot(), 'README.md'), 'utf8');
  const rule = /^ACL SETUSER temps (.+)$/m.exec(readme)?.[1];
  if (!rule) throw new Error('README has no "ACL SETUSER temps …" line');
  return rule.replace('>change-me', `>${PASSWORD}`);
}

describe('Redis with an ACL user limited to the project keys and commands', () => {
  let server: PrivateRedis;
  let admin: Redis;
  let url: string;

  beforeAll(async () => {
    server = await startPrivateRedis();
    admin = server.client();
    await admin.call('ACL', 'SETUSER', 'temps', ...readmeAclRule().split(' '));
    await admin.call('ACL', 'SETUSER', 'default', 'off');
    url = `redis://temps:${PASSWORD}@127.0.0.1:${server.port}`;
  });
  afterAll(() => server.stop());

  it('runs the whole pipeline as that user, and the user cannot touch other keys', async () => {
    const produced = await runService('producer', ['--days', '2', '--seed', '3'], {
      REDIS_URL: url,
    });
    expect(produced.stderr).toBe('');
    expect(produced.code).toBe(0);

    const ports = [await freePort(), await freePort()];
    const aggregator = new ServiceProcess('aggregator', ['temps:20250101'], {
      REDIS_URL: url,
      PORT: String(ports[0]),
    });
    const averages = new ServiceProcess('averages', [], { REDIS_URL: url, PORT: String(ports[1]) });
    try {
      await aggregator.waitFor('Waiting for new messages in stream temps:20250102', 60_000);
      await eventually(
        () => averages.stdout.split('\n').filter((l) => l.startsWith('Average')).length === 48,
        30_000,
      );
      for (const port of ports) {
        const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
        expect(metrics).toMatch(/^temps_redis_up\{service="\w+"\} 1$/m);
        if (port === ports[1])
          // The averages reader owns the per-stream gauges.
          expect(metrics).toMatch(
            /^temps_stream_length\{stream="temps:20250101",service="averages"\} 86400$/m,
          );
        expect((await fetch(`http://127.0.0.1:${port}/health`)).status).toBe(200);
        // No secret in what a service exposes or prints.
        expect(metrics).not.toContain(PASSWORD);
      }
      for (const output of [
        produced.stdout,
        aggregator.stdout,
        aggregator.stderr,
        averages.stdout,
        averages.stderr,
      ]) {
        expect(output).not.toContain(PASSWORD);
      }
    } finally {
      await Promise.all([aggregator.kill('SIGKILL'), averages.kill('SIGKILL')]);
    }

    const user = new Redis(url, { maxRetriesPerRequest: 1 });
    try {
      await expect(user.set('someone:else', 'x')).rejects.toThrow(/NOPERM/);
      await expect(user.call('FLUSHALL')).rejects.toThrow(/NOPERM/);
      await expect(user.xadd('elsewhere', '*', 'temp_f', '1')).rejects.toThrow(/NOPERM/);
      expect(await user.xlen('temps:20250101')).toBe(86_400);
    } finally {
      user.disconnect();
    }
  });

  it('runs lanes as that user too: lane streams, lane states, the registry and the tagged states', async () => {
    // temps:averages of the test before holds these hours already: start it afresh.
    const user = new Redis(url, { maxRetriesPerRequest: 1 });
    await user.del('temps:averages');
    user.disconnect();
    const lanes = { REDIS_URL: url, PRODUCER_SHARDS: '3' };
    const produced = await runService(
      'producer',
      ['--days', '1', '--devices', '3', '--seed', '3'],
      lanes,
    );
    expect(produced.stderr).toBe('');
    expect(produced.code).toBe(0);
    const ports = [await freePort(), await freePort()];
    const aggregator = new ServiceProcess('aggregator', ['--from-oldest'], {
      ...lanes,
      PORT: String(ports[0]),
    });
    const averages = new ServiceProcess('averages', [], { ...lanes, PORT: String(ports[1]) });
    try {
      await eventually(
        () => averages.stdout.split('\n').filter((l) => l.startsWith('Average')).length === 24,
        60_000,
      ).catch((error) => {
        throw new Error(
          `${error}\naggregator:\n${aggregator.stdout}${aggregator.stderr}\naverages:\n${averages.stdout}${averages.stderr}`,
        );
      });
      for (const port of ports) {
        expect((await fetch(`http://127.0.0.1:${port}/health`)).status).toBe(200);
      }
    } finally {
      await Promise.all([aggregator.kill('SIGKILL'), averages.kill('SIGKILL')]);
    }
  });

  it('names a wrong password without printing it', async () => {
    const result = await runService('producer', ['--days', '1'], {
      REDIS_URL: `redis://temps:not-${PASSWORD}@127.0.0.1:${server.port}`,
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('wrong user name or password');
    expect(result.stderr).not.toContain(PASSWORD);
  });
});
