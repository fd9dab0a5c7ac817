import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** The folder holding nx.json, found from wherever this file was compiled to. */
export function workspaceRoot(from = __dirname): string {
  for (let dir = from; dir !== dirname(dir); dir = dirname(dir)) {
    if (existsSync(join(dir, 'nx.json'))) return dir;
  }
  throw new Error(`No nx.json above ${from}`);
}

/** The built entry point of a service (`dist/<service>/services/<service>/src/main.js`). */
export function serviceEntry(service: string): string {
  return join(workspaceRoot(), 'dist', service, 'services', service, 'src', 'main.js');
}
