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
  'timeout',
  'in_use',
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

/**
 * The database refused what one entry holds, not how it was asked (SQLSTATE class 22, data
 * exception: a value out of range, a day that does not exist, …; or one of the table's own CHECK
 * constraints): the same entry fails again however often it is sent. The sink sets it aside;
 * `detail` is the database's reason.
 */
export class UnstorableError extends WarehouseError {
  override name = 'UnstorableError';
  constructor(
    readonly detail: string,
    where: string,
  ) {
    super('other', `warehouse at ${where} cannot store an entry: ${detail}`);
  }
}

/** The warehouse's own CHECK constraints (./migrations): a row that breaks one is bad data. */
const OWN_CHECKS = new Set([
  'hourly_averages_hour_check',
  'hourly_averages_num_observations_check',
]);

/** How long each call may take (see Warehouse.open); named in the timeout messages. */
export const WAREHOUSE_DEADLINES = {
  /** Server-side: waiting for a lock another session holds (`lock_timeout`). */
  lockMs: 2_000,
  /** Server-side: one statement (`statement_timeout`). */
  statementMs: 5_000,
  /** Client-side: no answer at all (a frozen server, a stalled proxy: node-postgres `query_timeout`). */
  queryMs: 6_000,
  /** Client-side: opening a connection, or waiting for one from the pool. */
  connectMs: 5_000,
  /** Client-side, embedded PGlite: one call (its first start, which creates the folder, gets 60 s). */
  embeddedMs: 10_000,
} as const;

/** A call that ran out of its client-side deadline; `what` names it. */
export class DeadlineError extends Error {
  override name = 'DeadlineError';
  constructor(
    readonly what: string,
    readonly ms: number,
  ) {
    super(`no answer within ${ms / 1000} s while ${what}`);
  }
}

const seconds = (ms: number) => `${ms / 1000} s`;

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
export function classifyWarehouseError(
  error: unknown,
  where: string,
  doing = 'using it',
): WarehouseError {
  if (error instanceof WarehouseError) return error;
  const {
    code = '',
    message = describe(error),
    constraint = '',
  } = (error ?? {}) as {
    code?: string;
    message?: string;
    constraint?: string;
  };
  const detail = message.split('\n')[0];
  if (code.startsWith('22') || (code === '23514' && OWN_CHECKS.has(constraint))) {
    return new UnstorableError(detail, where);
  }
  if (code === '55P03') {
    return new WarehouseError(
      'timeout',
      `PostgreSQL at ${where}: ${doing} waited more than ${seconds(WAREHOUSE_DEADLINES.lockMs)} for a lock another session holds (${detail}); find it in pg_locks / pg_stat_activity`,
    );
  }
  if (code === '57014') {
    return new WarehouseError(
      'timeout',
      `PostgreSQL at ${where}: ${doing} did not finish within ${seconds(WAREHOUSE_DEADLINES.statementMs)} (${detail})`,
    );
  }
  if (error instanceof DeadlineError || detail === 'Query read timeout') {
    const ms = error instanceof DeadlineError ? error.ms : WAREHOUSE_DEADLINES.queryMs;
    return new WarehouseError(
      'timeout',
      `${where.startsWith('embedded') ? '' : 'PostgreSQL at '}${where} did not answer within ${seconds(ms)} while ${doing}; is the server (or a proxy before it) stuck?`,
    );
  }
  if (/due to connection timeout|timeout exceeded when trying to connect/i.test(detail)) {
    return new WarehouseError(
      'timeout',
      `PostgreSQL at ${where} did not complete a connection within ${seconds(WAREHOUSE_DEADLINES.connectMs)} (${detail}); is the server (or a proxy before it) stuck?`,
    );
  }
  if (NETWORK.has(code) || code.startsWith('08') || code === '57P01' || code === '57P03') {
    return new WarehouseError('unreachable', `PostgreSQL at ${where} is unreachable (${detail})`);
  }
  if (/Connection terminated|connect ECONN/i.test(detail)) {
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
  // Undefined table/column, wrong type, a constraint that is not the table's own (NOT NULL on a
  // column someone added, a foreign key): the table is not what the migrations made.
  if (/^42(P01|703|804|P10)$/.test(code) || code.startsWith('23')) {
    return new WarehouseError(
      'schema',
      `the warehouse table at ${where} is not as its migrations left it (${detail}); restore it or drop the tables to recreate them`,
    );
  }
  return new WarehouseError('other', `warehouse at ${where}: ${detail}`);
}

/** A thrown value as one line, whatever it is (PGlite may throw a plain object). */
function describe(error: unknown): string {
  if (error instanceof Error) return error.message;
  if (typeof error === 'object' && error !== null) {
    try {
      return JSON.stringify(error);
    } catch {
      return Object.prototype.toString.call(error);
    }
  }
  return String(error);
}
