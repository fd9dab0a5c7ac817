import type { FactoryProvider } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { Registry, register as globalRegistry } from 'prom-client';
import { MetricsModule, type MetricsModuleOptions } from './metrics.module';

/** No scrape happens here: any Redis command fails the test. */
const noRedis = new Proxy({} as Redis, {
  get: (_, command) => () => {
    throw new Error(`unexpected Redis command ${String(command)}`);
  },
});

/** The registry MetricsModule.forRoot gives the application. */
function registryFor(options: MetricsModuleOptions): Registry {
  const provider = MetricsModule.forRoot(options).providers?.find(
    (p): p is FactoryProvider => typeof p === 'object' && 'provide' in p && p.provide === Registry,
  );
  if (!provider) throw new Error('MetricsModule.forRoot provides no Registry');
  return provider.useFactory() as Registry;
}

/** The metric names of a registry. */
const names = (registry: Registry) => registry.getMetricsAsArray().map((m) => m.name);

describe('MetricsModule', () => {
  it("gives each application its own registry, never prom-client's global one", () => {
    const before = names(globalRegistry);
    const a = registryFor({ service: 'producer' });
    const b = registryFor({ service: 'aggregator' });
    expect(a).not.toBe(b);
    expect(a).not.toBe(globalRegistry);
    expect(names(globalRegistry)).toEqual(before);
  });

  it("labels every series with the service and prefixes Node's default metrics with temps_", async () => {
    const text = await registryFor({ service: 'averages' }).metrics();
    expect(text).toMatch(/^temps_process_cpu_user_seconds_total\{service="averages"\} /m);
    expect(text).toMatch(/^temps_nodejs_heap_size_used_bytes\{service="averages"\} /m);
    const samples = text.split('\n').filter((line) => line && !line.startsWith('#'));
    expect(samples.length).toBeGreaterThan(10);
    expect(samples.filter((line) => !line.includes('service="averages"'))).toEqual([]);
  });

  it('registers temps_redis_up in every service and the stream gauges only where asked', () => {
    const plain = registryFor({ service: 'producer' });
    new MetricsModule(plain, noRedis, { service: 'producer' }).onModuleInit();
    const owner = registryFor({ service: 'averages', streamGauges: true });
    new MetricsModule(owner, noRedis, { service: 'averages', streamGauges: true }).onModuleInit();

    const ours = (registry: Registry) =>
      names(registry)
        .filter((name) => /^temps_(redis|stream|aggregator)_/.test(name))
        .sort();
    expect(ours(plain)).toEqual(['temps_redis_up']);
    expect(ours(owner)).toEqual([
      'temps_aggregator_headroom_seconds',
      'temps_redis_maxmemory_bytes',
      'temps_redis_memory_used_bytes',
      'temps_redis_node_stream_entries',
      'temps_redis_node_used_memory_bytes',
      'temps_redis_up',
      'temps_stream_length',
      'temps_stream_memory_bytes',
      'temps_stream_ttl_seconds',
    ]);
  });
});
