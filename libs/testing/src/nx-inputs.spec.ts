// A cached Nx target whose inputs miss a file it builds replays a stale output: `build-bench`
// bundles each service's bench/ files, which the `production` input leaves out.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { workspaceRoot } from './service-process';

const root = workspaceRoot();

/** Projects (their folders under services/) with a `build-bench` target. */
const benchProjects = readdirSync(join(root, 'services')).filter((name) => {
  const project = JSON.parse(readFileSync(join(root, 'services', name, 'project.json'), 'utf8'));
  return 'build-bench' in (project.targets ?? {});
});

/** `nx show target inputs <target> --check <files>`: exit 0 when every file is an input, else 1. */
function checkInputs(target: string, files: string[]) {
  const run = spawnSync('npx', ['nx', 'show', 'target', 'inputs', target, '--check', ...files], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, NX_DAEMON: 'false', NX_TUI: 'false' },
  });
  return { status: run.status, output: `${run.stdout}${run.stderr}`.trim() };
}

describe('Nx inputs', () => {
  it('finds the services with benchmarks', () => {
    expect(benchProjects.sort()).toEqual(['aggregator', 'averages', 'producer']);
  });

  it.each(benchProjects)(
    '%s:build-bench hashes every file under its bench/, not its tests',
    (name) => {
      const bench = readdirSync(join(root, 'services', name, 'bench')).map(
        (file) => `services/${name}/bench/${file}`,
      );
      expect(bench.length).toBeGreaterThan(0);
      const checked = checkInputs(`${name}:build-bench`, bench);
      expect(checked).toEqual({ status: 0, output: expect.not.stringMatching(/\bnot\b/) });
      // The check can fail: a spec beside the code is not an input.
      const spec = readdirSync(join(root, 'services', name, 'src')).find((f) =>
        f.endsWith('.spec.ts'),
      );
      expect(checkInputs(`${name}:build-bench`, [`services/${name}/src/${spec}`]).status).toBe(1);
    },
    60_000, // two Nx start-ups, each computing the project graph
  );
});
