// `npm run consumers -- [temps:YYYYMMDD]`: the aggregating consumer and the averages consumer side
// by side, their output prefixed `agg:` and `avg:` as in the seed exercise. The averages consumer
// starts once the aggregator has loaded or reset the shared state, so it never reads a stale
// temps:averages. Ctrl+C (or SIGTERM) stops both.
import { runTogether } from './run-together';

// Each service keeps its own default port (3002, 3003): one PORT for both would collide.
const { PORT: _port, ...env } = process.env;

runTogether(
  [
    { name: 'agg', service: 'aggregator', args: process.argv.slice(2) },
    {
      name: 'avg',
      service: 'averages',
      env: process.stdout.isTTY ? { FORCE_COLOR: '1' } : {},
      after: { name: 'agg', line: 'Starting aggregating consumer' },
    },
  ],
  // Started with a partition, the aggregator resets its state: never started twice by itself.
  { env, label: 'consumers', restart: 'no' },
);
