import { ConfigError } from '@temps/runtime';
import { parseProducerConfig } from './producer-config';

describe('parseProducerConfig: lanes', () => {
  it('leaves the default layout alone when --shards is not set', () => {
    const config = parseProducerConfig([], {});
    expect(config.shards).toBeUndefined();
    expect(config.leaseMs).toBeUndefined();
  });

  it('takes --shards and --lease-ms from the command line or their variables, and notes shards for --resume', () => {
    const fromArgs = parseProducerConfig(
      ['--shards', '6', '--devices', '10', '--lease-ms', '3000'],
      {},
    );
    expect(fromArgs).toMatchObject({ shards: 6, devices: 10, leaseMs: 3000 });
    expect(fromArgs.explicit.has('shards')).toBe(true);
    const fromEnv = parseProducerConfig([], {
      PRODUCER_SHARDS: '4',
      PRODUCER_DEVICES: '4',
      PRODUCER_LEASE_MS: '60000',
    });
    expect(fromEnv).toMatchObject({ shards: 4, leaseMs: 60_000 });
  });

  it.each([
    [
      ['--shards', '0', '--devices', '9'],
      "option '--shards <n>' argument '0' is invalid. Shards must be a whole number from 1 to 256.",
    ],
    [
      ['--shards', '257', '--devices', '300'],
      "option '--shards <n>' argument '257' is invalid. Shards must be a whole number from 1 to 256.",
    ],
    [
      ['--shards', '2.5', '--devices', '9'],
      "option '--shards <n>' argument '2.5' is invalid. Shards must be a whole number from 1 to 256.",
    ],
    [
      ['--shards', '6', '--devices', '5'],
      "option '--shards <n>' argument '6' is invalid. Shards must be at most the number of devices (5): every lane carries at least one device.",
    ],
    [
      ['--shards', '2', '--devices', '2', '--lease-ms', '999'],
      "option '--lease-ms <n>' argument '999' is invalid. The lease must be a whole number from 1000 to 60000.",
    ],
    [
      ['--shards', '2', '--devices', '2', '--lease-ms', '60001'],
      "option '--lease-ms <n>' argument '60001' is invalid. The lease must be a whole number from 1000 to 60000.",
    ],
  ])('refuses %j in one line naming the option and what it accepts', (argv, line) => {
    expect(() => parseProducerConfig(argv, {})).toThrow(new ConfigError(line));
  });

  it('takes REDIS_WAIT_REPLICAS with lanes only (the confirmed mark is kept per lane)', () => {
    expect(parseProducerConfig([], {}).waitReplicas).toBe(0);
    expect(parseProducerConfig(['--shards', '6'], { REDIS_WAIT_REPLICAS: '1' }).waitReplicas).toBe(
      1,
    );
    expect(() => parseProducerConfig([], { REDIS_WAIT_REPLICAS: '1' })).toThrow(
      new ConfigError(
        'REDIS_WAIT_REPLICAS needs lanes (PRODUCER_SHARDS): the confirmed mark it moves is kept per lane.',
      ),
    );
    expect(() => parseProducerConfig(['--shards', '6'], { REDIS_WAIT_REPLICAS: 'two' })).toThrow(
      ConfigError,
    );
  });

  it('gives each lane one device when --devices is not given (PRODUCER_SHARDS alone works)', () => {
    expect(parseProducerConfig(['--shards', '6'], {})).toMatchObject({ shards: 6, devices: 6 });
    expect(parseProducerConfig([], { PRODUCER_SHARDS: '3' })).toMatchObject({
      shards: 3,
      devices: 3,
    });
    expect(parseProducerConfig(['--shards', '6'], {}).explicit.has('devices')).toBe(false);
  });

  it('names the variable when the value came from the environment', () => {
    expect(() => parseProducerConfig([], { PRODUCER_SHARDS: 'x' })).toThrow(
      "option '--shards <n>' value 'x' from env 'PRODUCER_SHARDS' is invalid. Shards must be a whole number from 1 to 256.",
    );
  });

  it('checks shards against the saved run, not the default device count, when resuming without --devices', () => {
    expect(parseProducerConfig(['--shards', '6', '--resume'], {}).shards).toBe(6);
    expect(() => parseProducerConfig(['--shards', '6', '--devices', '3', '--resume'], {})).toThrow(
      'Shards must be at most the number of devices (3)',
    );
  });
});
