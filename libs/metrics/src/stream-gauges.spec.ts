import { infoNumber } from './stream-gauges';

/** The start of a Redis 7 `INFO memory` reply, lines ending in CRLF as Redis sends them. */
const INFO = [
  '# Memory',
  'used_memory:1048576',
  'used_memory_human:1.00M',
  'used_memory_rss:9437184',
  'used_memory_peak:2097152',
  'maxmemory_human:256.00M',
  'maxmemory:268435456',
  'maxmemory_policy:volatile-ttl',
  '',
].join('\r\n');

describe('infoNumber', () => {
  it('reads a field of an INFO reply, not another field that begins with its name', () => {
    expect(infoNumber(INFO, 'used_memory')).toBe(1_048_576);
    expect(infoNumber(INFO, 'maxmemory')).toBe(268_435_456);
    expect(infoNumber(INFO, 'used_memory_rss')).toBe(9_437_184);
  });

  it('reads 0 for a Redis without maxmemory, and NaN for a field that is not there', () => {
    expect(infoNumber('# Memory\r\nmaxmemory:0\r\n', 'maxmemory')).toBe(0);
    expect(infoNumber('# Memory\r\nused_memory:5\r\n', 'maxmemory')).toBeNaN();
    expect(infoNumber('', 'used_memory')).toBeNaN();
  });
});
