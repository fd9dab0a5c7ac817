import { catchStopRequests } from '@temps/common';

/**
 * `aggregator [temps:YYYYMMDD]`: a hybrid Nest application. The Redis Streams transport feeds
 * partition reads to the aggregator's @EventPattern handler; HTTP serves /health and /metrics.
 *
 * Stop requests are caught before Nest and the service load (a second or more on a busy machine),
 * so a `docker stop` during start-up is still a clean exit 0, never Node's default exit by signal.
 */
catchStopRequests();
void import('./bootstrap.js');
