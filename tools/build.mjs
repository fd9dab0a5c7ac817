#!/usr/bin/env node
/**
 * Builds a project together with every workspace project it depends on, as Nx's project graph
 * says, into one folder that keeps the workspace's layout:
 *
 *   node tools/build.mjs <project> [--out <dir>] [--with <folder>]...
 *
 * `--out` defaults to dist/<project> (so the producer's entry point is
 * dist/producer/services/producer/src/main.js). Compiled are the `.ts` files of each project's
 * sourceRoot, spec files excepted, plus the named folders of the project itself (`--with bench`).
 * swc takes its options from .swcrc and the path aliases from tsconfig.base.json, the only place
 * they are written; it rewrites them into relative requires, which the kept layout resolves.
 *
 * Projects tagged type:testing are built only with a `--with` folder: the module boundary rule
 * (eslint.config.mjs) lets nothing but specs, test/ and bench/ files import them, so the graph's
 * edges to them from anywhere else come from specs. A type:e2e project may import them from any
 * file, so its build would always include them; the launchers in tools/ are type:launcher, which
 * may not import them at all, so a build of tools that needed the kit fails below.
 */
import { access, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { createProjectGraphAsync, workspaceRoot } from '@nx/devkit';
import { transformFile } from '@swc/core';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { out: { type: 'string' }, with: { type: 'string', multiple: true, default: [] } },
});
if (positionals.length !== 1) {
  process.stderr.write(
    'Usage: node tools/build.mjs <project> [--out <dir>] [--with <folder>]...\n',
  );
  process.exit(1);
}
const [name] = positionals;
const out = join(workspaceRoot, values.out ?? join('dist', name));
const extraFolders = values.with;

const graph = await createProjectGraphAsync({ exitOnError: true });
if (!graph.nodes[name]) {
  process.stderr.write(`No project named ${name} in the project graph.\n`);
  process.exit(1);
}

/** The project and the workspace projects it reaches, in the order found. */
function closure(start, withTesting) {
  const found = [start];
  for (let i = 0; i < found.length; i++) {
    for (const { target } of graph.dependencies[found[i]] ?? []) {
      const node = graph.nodes[target];
      if (!node || found.includes(target)) continue;
      if (!withTesting && node.data.tags?.includes('type:testing')) continue;
      found.push(target);
    }
  }
  return found;
}

/** The `.ts` sources under a workspace folder, spec files excepted; none if it does not exist. */
async function sources(folder) {
  const entries = await readdir(join(workspaceRoot, folder), { recursive: true }).catch((error) => {
    if (error.code === 'ENOENT') return [];
    throw error;
  });
  return entries
    .filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts'))
    .filter((file) => !file.endsWith('.spec.ts'))
    .map((file) => join(folder, file));
}

const e2e = graph.nodes[name].data.tags?.includes('type:e2e') ?? false;
const projects = closure(name, e2e || extraFolders.length > 0);
const folders = projects.map((project) => {
  const { root, sourceRoot } = graph.nodes[project].data;
  return sourceRoot ?? join(root, 'src');
});
folders.push(...extraFolders.map((folder) => join(graph.nodes[name].data.root, folder)));
const files = (await Promise.all(folders.map(sources))).flat();

const { $schema: _schema, ...swcrc } = JSON.parse(
  await readFile(join(workspaceRoot, '.swcrc'), 'utf8'),
);
const { compilerOptions } = JSON.parse(
  await readFile(join(workspaceRoot, 'tsconfig.base.json'), 'utf8'),
);
const options = {
  ...swcrc,
  swcrc: false,
  configFile: false,
  jsc: {
    ...swcrc.jsc,
    baseUrl: join(workspaceRoot, compilerOptions.baseUrl ?? '.'),
    paths: compilerOptions.paths,
  },
};

await rm(out, { recursive: true, force: true });
/** Every relative require the output makes, as [requiring file, required path]. */
const requires = [];
await Promise.all(
  files.map(async (file) => {
    const source = join(workspaceRoot, file);
    const target = join(out, file.replace(/\.ts$/, '.js'));
    const { code, map } = await transformFile(source, {
      ...options,
      filename: source,
      sourceFileName: relative(dirname(target), source),
    });
    for (const [, path] of code.matchAll(/require\("(\.{1,2}\/[^"]*)"\)/g)) {
      requires.push([target, join(dirname(target), path)]);
    }
    await mkdir(dirname(target), { recursive: true });
    if (map) {
      await writeFile(`${target}.map`, map);
      await writeFile(target, `${code}\n//# sourceMappingURL=${basename(target)}.map`);
    } else {
      await writeFile(target, code);
    }
  }),
);
// An import the project graph does not know of (its TypeScript analysis comes from @nx/js) would
// only fail when the service starts: refuse the build instead.
const exists = (path) =>
  access(path).then(
    () => true,
    () => false,
  );
async function resolves(path) {
  for (const candidate of [`${path}.js`, join(path, 'index.js'), path]) {
    if (await exists(candidate)) return true;
  }
  return false;
}
for (const [from, path] of requires) {
  if (!(await resolves(path))) {
    process.stderr.write(
      `${relative(out, from)} requires ${relative(out, path)}, which is not in the build: the project graph does not list it as a dependency of ${name}.\n`,
    );
    process.exit(1);
  }
}
process.stdout.write(
  `Built ${name} (${projects.join(', ')}): ${files.length} files into ${relative(workspaceRoot, out)}.\n`,
);
