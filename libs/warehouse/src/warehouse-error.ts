/**
 * Why a warehouse step failed; the sink's metrics (`temps_warehouse_write_errors_total{reason}`,
 * each reason a series at 0 from the start) and health report it by this name.
 */
export const WAREHOUSE_FAILURES = [
  'unreachable',
  'authentication',
  'database',
  'schema',
  'conflict',
  'other',
] as const;
export type WarehouseFailure = (typeof WAREHOUSE_FAILURES)[number];

/** A warehouse step that failed, with one line for the log that names the cause (never a password). */
export class WarehouseError extends Error {
  override name = 'WarehouseError';
  constructor(
    readonly reason: WarehouseFailure,
    message: string,
  ) {
    super(message);
  }
}

/** The saved position is not the one a step started from: another writer stored hours meanwhile. */
export class StalePositionError extends WarehouseError {
  override name = 'StalePositionError';
  constructor(expected: string, found: string) {
    super(
      'conflict',
      `the warehouse position moved from ${expected} to ${found} under this writer (another averages consumer?); reloading it`,
    );
  }
}

const NETWORK = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
]);

/**
 * Names the cause of a driver error (node-postgres or PGlite) in one line about `where` (the
 * warehouse as describeWarehouse gives it). Driver messages never carry the password.
 */
export function classifyWarehouseError(error: unknown, where: string): WarehouseError {
  if (error instanceof WarehouseError) return error;
  const { code = '', message = String(error) } = (error ?? {}) as {
    code?: string;
    message?: string;
  };
  const detail = message.split('\n')[0];
  if (NETWORK.has(code) || code.startsWith('08') || code === '57P01' || code === '57P03') {
    return new WarehouseError('unreachable', `PostgreSQL at ${where} is unreachable (${detail})`);
  }
  if (/Connection terminated|timeout exceeded when trying to connect|connect ECONN/i.test(detail)) {
    return new WarehouseError('unreachable', `PostgreSQL at ${where} is unreachable (${detail})`);
  }
  if (code === '28P01' || code === '28000') {
    return new WarehouseError(
      'authentication',
      `PostgreSQL at ${where} refused the credentials (${detail}); check the user and password in WAREHOUSE_URL`,
    );
  }
  if (code === '3D000') {
    return new WarehouseError('database', `PostgreSQL at ${where}: ${detail}; create it first`);
  }
  // Undefined table/column, wrong type, a constraint the rows break: the table is not what the
  // migrations made.
  if (/^42(P01|703|804|P10)$/.test(code) || code.startsWith('23') || code === '22P02') {
    return new WarehouseError(
      'schema',
      `the warehouse table at ${where} is not as its migrations left it (${detail}); restore it or drop the tables to recreate them`,
    );
  }
  return new WarehouseError('other', `warehouse at ${where}: ${detail}`);
}
