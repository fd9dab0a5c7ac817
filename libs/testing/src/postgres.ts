import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { freePort } from './free-port';

const run = promisify(execFile);

/**
 * The machine's PostgreSQL, where tests create (and drop) their own databases:
 * `TEMPS_TEST_POSTGRES_URL`, default the trust-auth server at 127.0.0.1:5432 as user postgres.
 */
export const TEST_POSTGRES_URL =
  process.env.TEMPS_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface ScratchDatabase {
  /** postgres:// URL of the new database. */
  url: string;
  name: string;
  /** Drops the database (and only it), ending its sessions first. */
  drop(): Promise<void>;
}

/** Creates a uniquely named database on the machine's PostgreSQL; fails the test if none answers. */
export async function createScratchDatabase(prefix = 'temps_test'): Promise<ScratchDatabase> {
  const name = `${prefix}_${process.pid}_${randomBytes(4).toString('hex')}`;
  await adminQuery(`CREATE DATABASE ${name}`);
  const url = new URL(TEST_POSTGRES_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    drop: () => adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  };
}

async function adminQuery(statement: string): Promise<void> {
  const client = new Client({
    connectionString: TEST_POSTGRES_URL,
    connectionTimeoutMillis: 5_000,
  });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}

/** Runs one query against `url` and returns its rows. */
export async function queryRows<T = Record<string, unknown>>(
  url: string,
  text: string,
  values: unknown[] = [],
): Promise<T[]> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    return (await client.query(text, values)).rows as T[];
  } finally {
    await client.end();
  }
}

const PG_BIN = process.env.TEMPS_TEST_PG_BIN ?? '/usr/lib/postgresql/15/bin';

/**
 * A PostgreSQL cluster of the test's own (initdb + pg_ctl from PG_BIN) on a free port, password
 * authentication (scram) for user `postgres`: the test may stop, crash and start it at will.
 * Under root the server runs as the `postgres` system user, as PostgreSQL requires.
 */
export class PrivatePostgres {
  private constructor(
    readonly dir: string,
    readonly port: number,
    readonly password: string,
  ) {}

  /** postgres:// URL of database `database` (default `postgres`) with the right password. */
  url(database = 'postgres', password = this.password): string {
    return `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${this.port}/${database}`;
  }

  static async start(password = `pw-${randomBytes(6).toString('hex')}`): Promise<PrivatePostgres> {
    const dir = mkdtempSync(join(tmpdir(), 'temps-pg-'));
    chmodSync(dir, 0o755);
    const data = join(dir, 'data');
    const pwfile = join(dir, 'pwfile');
    writeFileSync(pwfile, `${password}\n`);
    if (process.getuid?.() === 0) {
      const { uid, gid } = await systemUser('postgres');
      chownSync(dir, uid, gid);
      chownSync(pwfile, uid, gid);
    }
    await asServerUser('initdb', [
      '-D',
      data,
      '-U',
      'postgres',
      '-A',
      'scram-sha-256',
      '--pwfile',
      pwfile,
      '--no-sync',
    ]);
    const server = new PrivatePostgres(dir, await freePort(), password);
    await server.startServer();
    return server;
  }

  /** Starts the server again on the same port and data. */
  async startServer(): Promise<void> {
    const options = `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1 -c fsync=off`;
    await asServerUser('pg_ctl', [
      '-D',
      join(this.dir, 'data'),
      '-l',
      join(this.dir, 'log'),
      '-o',
      options,
      '-w',
      'start',
    ]);
  }

  /** `immediate` crashes it (no checkpoint, sessions cut); `fast` shuts it down cleanly. */
  async stopServer(mode: 'immediate' | 'fast' = 'immediate'): Promise<void> {
    await asServerUser('pg_ctl', ['-D', join(this.dir, 'data'), '-m', mode, '-w', 'stop']);
  }

  /**
   * Freezes the server as a paused VM would: SIGSTOP to the postmaster and every process it
   * started. It still accepts TCP connections (the kernel does) but answers nothing until thaw().
   */
  freeze(): void {
    for (const pid of this.processes()) process.kill(pid, 'SIGSTOP');
  }

  thaw(): void {
    for (const pid of this.processes()) process.kill(pid, 'SIGCONT');
  }

  /** The postmaster (from postmaster.pid) and its children (from /proc). */
  private processes(): number[] {
    const postmaster = Number(
      readFileSync(join(this.dir, 'data', 'postmaster.pid'), 'utf8').split('\n')[0],
    );
    const children = readdirSync('/proc')
      .filter((name) => /^\d+$/.test(name))
      .filter((name) => {
        try {
          // The field after the parenthesised command: state, then the parent's pid.
          const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
          return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === postmaster;
        } catch {
          return false;
        }
      })
      .map(Number);
    return [postmaster, ...children];
  }

  async destroy(): Promise<void> {
    try {
      this.thaw();
    } catch {
      // Not running.
    }
    await this.stopServer('immediate').catch(() => undefined);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

async function systemUser(name: string): Promise<{ uid: number; gid: number }> {
  const [uid, gid] = await Promise.all(
    ['-u', '-g'].map(async (flag) => Number((await run('id', [flag, name])).stdout.trim())),
  );
  return { uid, gid };
}

async function asServerUser(tool: string, args: string[]): Promise<void> {
  const asRoot = process.getuid?.() === 0;
  const user = asRoot ? await systemUser('postgres') : null;
  await new Promise<void>((resolve, reject) => {
    const child = spawn(join(PG_BIN, tool), args, {
      ...(user ?? {}),
      cwd: tmpdir(),
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0
        ? resolve()
        : reject(new Error(`${tool} ${args.join(' ')} failed (${code}): ${stderr}`)),
    );
  });
}
