// Every jest config of the workspace points at folders that exist: a config whose `roots` or
// `testMatch` names a missing folder finds no tests, and with --passWithNoTests (every project's
// `test` and `integration` targets) it passes having run nothing.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { workspaceRoot } from './service-process';

const root = workspaceRoot();
const SKIPPED = new Set(['node_modules', 'dist', '.nx', '.git', 'coverage', '.data']);

/** Every jest*.cjs / jest*.js config file under the workspace, outside built and installed folders. */
function jestConfigs(dir = root): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    if (entry.isDirectory())
      return SKIPPED.has(entry.name) ? [] : jestConfigs(join(dir, entry.name));
    return /^jest(\..+)?\.config\.c?js$/.test(entry.name) ? [join(dir, entry.name)] : [];
  });
}

interface JestConfig {
  rootDir?: string;
  roots?: string[];
  testMatch?: string[];
}

/** The folder a pattern or root names: `<rootDir>` filled in, cut before its first glob segment. */
export function folderOf(pattern: string, rootDir: string): string {
  const path = pattern.replace(/^!/, '').replace('<rootDir>', rootDir);
  const segments = path.split(/[\\/]/);
  const literal = segments.findIndex((segment) => /[*?[\]{}()!]/.test(segment));
  const kept = literal === -1 ? segments : segments.slice(0, literal);
  // A pattern that is a file (`<rootDir>/x.spec.ts`) names the folder holding it.
  const folder = kept.join(sep) || sep;
  return literal === -1 && /\.[cm]?[jt]s$/.test(folder) ? dirname(folder) : folder;
}

/** The folders a config names that do not exist, relative to the workspace. */
export function missingFolders(file: string): string[] {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const config = require(file) as JestConfig;
  const rootDir = config.rootDir ?? dirname(file);
  const named = [rootDir, ...(config.roots ?? []), ...(config.testMatch ?? [])].map((pattern) =>
    folderOf(pattern, rootDir),
  );
  return [...new Set(named)]
    .filter((folder) => !(existsSync(folder) && statSync(folder).isDirectory()))
    .map((folder) => relative(root, folder));
}

describe('jest configs', () => {
  const configs = jestConfigs();

  it('are found: every project has a unit config', () => {
    const names = configs.map((file) => relative(root, file));
    expect(names).toEqual(expect.arrayContaining(['libs/testing/jest.config.cjs']));
    expect(names.length).toBeGreaterThanOrEqual(20);
  });

  it('name the folder of a pattern or a root, not what lies inside it', () => {
    expect(folderOf('<rootDir>/test/**/*.spec.ts', '/w/libs/x')).toBe(join('/w/libs/x', 'test'));
    expect(folderOf('<rootDir>/**/*.spec.ts', '/w/e2e')).toBe('/w/e2e');
    expect(folderOf('<rootDir>/src', '/w/libs/x')).toBe(join('/w/libs/x', 'src'));
    expect(folderOf('<rootDir>/src/one.spec.ts', '/w/libs/x')).toBe(join('/w/libs/x', 'src'));
  });

  it.each(configs.map((file) => [relative(root, file), file]))(
    '%s points only at folders that exist',
    (_, file) => {
      expect(missingFolders(file)).toEqual([]);
    },
  );
});
