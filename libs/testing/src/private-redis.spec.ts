import { composeImage, startPrivateRedis, testRedisKind } from './private-redis';

describe('the test Redis', () => {
  const saved = { ...process.env };
  afterEach(() => {
    process.env = { ...saved };
  });

  it('is a redis-server binary unless TEMPS_TEST_REDIS says container, whatever Docker there is', () => {
    expect(testRedisKind({})).toBe('binary');
    expect(testRedisKind({ DOCKER_HOST: 'unix:///var/run/docker.sock' })).toBe('binary');
    expect(testRedisKind({ TEMPS_TEST_REDIS: 'binary' })).toBe('binary');
    expect(testRedisKind({ TEMPS_TEST_REDIS: 'container' })).toBe('container');
  });

  it.each(['docker', 'Container', '', 'testcontainers'])(
    'refuses TEMPS_TEST_REDIS=%j in one line',
    (value) => {
      expect(() => testRedisKind({ TEMPS_TEST_REDIS: value })).toThrow(
        `TEMPS_TEST_REDIS must be "binary" or "container", got "${value}".`,
      );
    },
  );

  it("uses the compose file's Redis image, pinned to a full version", () => {
    expect(composeImage('redis')).toMatch(/^redis:\d+\.\d+\.\d+-alpine$/);
    expect(() => composeImage('no-such-service')).toThrow('docker-compose.yml has no image');
  });

  it('says in one line why a container Redis could not be started', async () => {
    process.env.TEMPS_TEST_REDIS = 'container';
    process.env.DOCKER_HOST = 'unix:///nonexistent/temps-test-docker.sock';
    const failure = await startPrivateRedis().then(
      () => null,
      (error: Error) => error.message,
    );
    expect(failure).toMatch(
      new RegExp(`^TEMPS_TEST_REDIS=container: cannot start ${composeImage('redis')}: \\S`),
    );
    expect(failure).not.toContain('\n');
  });
});
