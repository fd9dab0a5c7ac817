import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import {
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  type Kysely,
  type TransactionSettings,
} from 'kysely';
import { PGliteDialect } from 'kysely-pglite-dialect';
import { WarehouseError } from './warehouse-error';

/**
 * PGlite in a folder, opened on the first query and only once this process holds the folder:
 * PGlite has no lock of its own, and a second process opening the same files fails with a bare
 * object (or worse, writes beside the first). The hold is a file beside the folder
 * (`<folder>.lock`) holding the pid; one left by a process that has ended is taken over.
 */
export class EmbeddedDialect implements Dialect {
  constructor(private readonly dataDir: string) {}
  createAdapter() {
    return new PostgresAdapter();
  }
  createDriver(): Driver {
    return new EmbeddedDriver(this.dataDir);
  }
  createQueryCompiler() {
    return new PostgresQueryCompiler();
  }
  createIntrospector(db: Kysely<unknown>) {
    return new PostgresIntrospector(db);
  }
}

class EmbeddedDriver implements Driver {
  private inner: Driver | null = null;
  private release: (() => void) | null = null;

  constructor(private readonly dataDir: string) {}

  async init(): Promise<void> {
    const release = holdFolder(this.dataDir);
    try {
      const pglite = await PGlite.create(`file://${this.dataDir}`);
      const inner = new PGliteDialect(pglite).createDriver();
      await inner.init();
      this.inner = inner;
      this.release = release;
    } catch (error) {
      release();
      throw error;
    }
  }
  acquireConnection(): Promise<DatabaseConnection> {
    return this.driver().acquireConnection();
  }
  beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    return this.driver().beginTransaction(connection, settings);
  }
  commitTransaction(connection: DatabaseConnection): Promise<void> {
    return this.driver().commitTransaction(connection);
  }
  rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    return this.driver().rollbackTransaction(connection);
  }
  releaseConnection(connection: DatabaseConnection): Promise<void> {
    return this.driver().releaseConnection(connection);
  }
  async destroy(): Promise<void> {
    try {
      await this.inner?.destroy();
    } finally {
      this.inner = null;
      this.release?.();
      this.release = null;
    }
  }
  private driver(): Driver {
    if (!this.inner) throw new Error('PGlite is not open');
    return this.inner;
  }
}

/** `<folder>.lock`, created with the pid of the process that holds the folder. */
export function folderLockFile(dataDir: string): string {
  return `${dataDir.replace(/\/+$/, '')}.lock`;
}

/**
 * Takes the folder for this process, or throws WarehouseError `in_use` naming the process that
 * holds it. Returns the release (also run at exit).
 */
function holdFolder(dataDir: string): () => void {
  const file = folderLockFile(dataDir);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(file, `${process.pid}\n`, { flag: 'wx' });
      const release = () => {
        process.off('exit', release);
        if (readPid(file) === process.pid) rmSync(file, { force: true });
      };
      process.once('exit', release);
      return release;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const pid = readPid(file);
    if (pid !== null && running(pid)) {
      throw new WarehouseError(
        'in_use',
        `the warehouse folder ${dataDir} is in use by another process (pid ${pid}${commandOf(pid)}, see ${file}); stop that process, or give this one a folder of its own in WAREHOUSE_URL`,
      );
    }
    // Left by a process that has ended (SIGKILL, a crash): take it over.
    rmSync(file, { force: true });
  }
  throw new WarehouseError(
    'in_use',
    `the warehouse folder ${dataDir} could not be taken (${file})`,
  );
}

function readPid(file: string): number | null {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    return Number.isSafeInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** `: node …/main.js` where the system says (Linux's /proc), else nothing. */
function commandOf(pid: number): string {
  try {
    const command = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
    return command ? `: ${command.length > 80 ? `${command.slice(0, 77)}...` : command}` : '';
  } catch {
    return '';
  }
}
