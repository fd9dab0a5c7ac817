import {
  Controller,
  Get,
  Global,
  Inject,
  Injectable,
  Module,
  type DynamicModule,
} from '@nestjs/common';
import {
  HealthCheck,
  HealthCheckService,
  HealthIndicatorService,
  TerminusModule,
} from '@nestjs/terminus';
import { REDIS_PROBE, singleFlight, type RedisClient } from '@temps/redis';
import { DependencyChecks } from './dependency-checks';
import { Heartbeat } from './heartbeat';

export interface HealthModuleOptions {
  /** Name of the work loop in the health report, e.g. 'write_loop'. */
  loop: string;
  /** The loop counts as stalled after this long without a heartbeat. */
  maxSilenceMs: number;
  /** How long a Redis PING may take before Redis counts as down. */
  redisTimeoutMs?: number;
}

const HEALTH_OPTIONS = Symbol('HEALTH_OPTIONS');

@Injectable()
export class ServiceHealthIndicators {
  constructor(
    private readonly indicators: HealthIndicatorService,
    private readonly heartbeat: Heartbeat,
    private readonly dependencies: DependencyChecks,
    @Inject(REDIS_PROBE) redis: RedisClient,
    @Inject(HEALTH_OPTIONS) private readonly options: HealthModuleOptions,
  ) {
    this.ping = singleFlight(() => redis.ping());
  }

  /** One PING on the probe connection at a time, shared by every probe that arrives meanwhile. */
  private readonly ping: () => Promise<string>;

  redisReachable() {
    return this.indicators
      .check('redis')
      .attempt(async () => {
        await this.ping();
      })
      .withTimeout(this.options.redisTimeoutMs ?? 1_000);
  }

  /** The checks the service registered, each failing with its own one-line message. */
  registered() {
    return this.dependencies.entries().map(
      ([name, check]) =>
        () =>
          this.indicators
            .check(name)
            .attempt(async () => {
              await check();
            })
            .withTimeout(this.options.redisTimeoutMs ?? 1_000),
    );
  }

  loopAlive() {
    const session = this.indicators.check(this.options.loop);
    const age = this.heartbeat.ageMs();
    const blocked = this.heartbeat.blockedBy();
    if (blocked !== null)
      return session.down({ message: 'blocked', reason: blocked.slice(0, 200) });
    if (age === null) return session.down({ message: 'not started' });
    return age <= this.options.maxSilenceMs
      ? session.up({ lastBeatMsAgo: age })
      : session.down({ message: 'stalled', lastBeatMsAgo: age });
  }
}

@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: ServiceHealthIndicators,
  ) {}

  /** Readiness: Redis answers, the work loop is turning and every registered dependency is usable (503 otherwise). */
  @Get()
  @HealthCheck()
  check() {
    return this.health.check([
      () => this.indicators.redisReachable(),
      () => this.indicators.loopAlive(),
      ...this.indicators.registered(),
    ]);
  }

  /** Liveness: the process serves HTTP; depends on nothing else. */
  @Get('live')
  @HealthCheck()
  live() {
    return this.health.check([]);
  }
}

@Global()
@Module({})
export class HealthModule {
  static forRoot(options: HealthModuleOptions): DynamicModule {
    return {
      module: HealthModule,
      imports: [TerminusModule.forRoot({ logger: false })],
      controllers: [HealthController],
      providers: [
        Heartbeat,
        DependencyChecks,
        ServiceHealthIndicators,
        { provide: HEALTH_OPTIONS, useValue: options },
      ],
      exports: [Heartbeat, DependencyChecks],
    };
  }
}
