import { appendFileSync } from 'node:fs';
import type { Tally } from './run-check';

/** One line of the chaos suite's closing table. */
export interface LedgerRow extends Tally {
  /** What was done to the pipeline. */
  fault: string;
  /** How many times it was done. */
  injected: number;
  /** Where the data was checked: the partitions (readings), temps:averages or the warehouse table (hours). */
  checkedIn: 'partitions' | 'temps:averages' | 'Redis snapshot' | 'warehouse';
  /** Measurements printed under the table (rates, memory). */
  notes?: string;
}

/**
 * Adds a row to the ledger the chaos suite's reporter prints at the end (the reporter names the
 * file in CHAOS_LEDGER; outside the suite rows are dropped).
 */
export function recordRow(row: LedgerRow): void {
  const ledger = process.env.CHAOS_LEDGER;
  if (ledger) appendFileSync(ledger, `${JSON.stringify(row)}\n`);
}
