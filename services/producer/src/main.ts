import { catchStopRequests } from '@temps/common';

/**
 * `producer [options]`: a bounded run writes its days and exits; `--follow` runs forever and serves
 * /health and /metrics on PORT. Any problem before the first write exits 1 with one line, having
 * deleted and written nothing.
 *
 * Stop requests are caught before Nest and the service load (a second or more on a busy machine),
 * so a `docker stop` during start-up is still a clean exit 0, never Node's default exit by signal.
 */
catchStopRequests();
void import('./bootstrap.js');
