import { execFileSync } from 'node:child_process';

/**
 * The benchmarks' reference: redis-benchmark's XADD of `requests` entries (`temp_f 70`) in
 * pipelines of 1,000 to the server on `port`, over one connection; with `cluster`, one connection
 * a master (-c 3), each to a key hash-tagged for its master. Returns requests per second.
 */
export function xaddReference(port: number, requests: number, cluster = false): number {
  const target = cluster
    ? ['--cluster', '-p', String(port), '-c', '3', 'XADD', 's:{tag}']
    : ['-p', String(port), '-c', '1', 'XADD', 's'];
  const out = execFileSync(
    'redis-benchmark',
    ['-P', '1000', '-n', String(requests), '-q', ...target, '*', 'temp_f', '70'],
    { encoding: 'utf8' },
  );
  return Number(/([\d.]+) requests per second/.exec(out)?.[1]);
}
