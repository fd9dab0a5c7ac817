import { catchStopRequests } from '@temps/common';

/**
 * `averages`: tails temps:averages and prints each hourly average; with WAREHOUSE_URL it also
 * stores every one in the warehouse. Serves /health and /metrics.
 *
 * Stop requests are caught before Nest and the service load (a second or more on a busy machine),
 * so a `docker stop` during start-up is still a clean exit 0, never Node's default exit by signal.
 */
catchStopRequests();
void import('./bootstrap.js');
