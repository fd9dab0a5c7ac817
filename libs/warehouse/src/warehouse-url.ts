import { redactUrl } from '@temps/common';
import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where the warehouse is: a PostgreSQL server, or an embedded PostgreSQL (PGlite) in a folder. */
export type WarehouseLocation =
  { kind: 'postgres'; url: string } | { kind: 'pglite'; dataDir: string };

export class WarehouseConfigError extends Error {
  override name = 'WarehouseConfigError';
}

const FORM =
  'postgres://user[:password]@host[:port]/database (or file:///path/to/folder for an embedded PGlite)';

/**
 * Reads `WAREHOUSE_URL`: `postgres://` / `postgresql://` names a PostgreSQL server, `file://` a
 * folder for PGlite (absolute, or relative to the working directory). Throws WarehouseConfigError
 * with one line, never quoting the password.
 */
export function parseWarehouseUrl(raw: string): WarehouseLocation {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new WarehouseConfigError(`WAREHOUSE_URL must look like ${FORM}.`);
  }
  if (url.protocol === 'file:') {
    const path = raw.startsWith('file:///') ? fileURLToPath(url) : raw.replace(/^file:(\/\/)?/, '');
    if (!path) throw new WarehouseConfigError(`WAREHOUSE_URL names no folder; use ${FORM}.`);
    return { kind: 'pglite', dataDir: isAbsolute(path) ? path : resolve(path) };
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new WarehouseConfigError(
      `WAREHOUSE_URL must start with postgres://, postgresql:// or file://, got ${url.protocol}//.`,
    );
  }
  if (!url.hostname) throw new WarehouseConfigError(`WAREHOUSE_URL names no host; use ${FORM}.`);
  if (url.pathname.length <= 1) {
    throw new WarehouseConfigError(`WAREHOUSE_URL names no database; use ${FORM}.`);
  }
  return { kind: 'postgres', url: raw };
}

/** The location for logs and errors: the URL without its password, or the PGlite folder. */
export function describeWarehouse(location: WarehouseLocation): string {
  if (location.kind === 'pglite') return `embedded PostgreSQL (PGlite) in ${location.dataDir}`;
  return redactWarehouseUrl(location.url);
}

/** A WAREHOUSE_URL as given, its password replaced by `***`, for logs; checked or not. */
export function redactWarehouseUrl(raw: string): string {
  return redactUrl(raw, 'WAREHOUSE_URL');
}
