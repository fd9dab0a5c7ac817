import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ServiceProcess,
  eventually,
  freePort,
  startPrivateRedis,
  workspaceRoot,
  type PrivateRedis,
} from '@temps/testing';

const root = workspaceRoot();
const SERVICES = ['producer', 'aggregator', 'averages'] as const;

interface Stage {
  from: string;
  name: string;
  lines: string[];
}

/** The Dockerfile's stages, with continuation lines joined and comments dropped. */
function stages(): Stage[] {
  const lines = readFileSync(join(root, 'Dockerfile'), 'utf8')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'));
  const result: Stage[] = [];
  for (const line of lines) {
    const from = /^FROM (\S+) AS (\S+)$/.exec(line);
    if (from) result.push({ from: from[1], name: from[2], lines: [] });
    else result[result.length - 1].lines.push(line);
  }
  return result;
}

const runs = (stage: Stage) =>
  stage.lines.filter((l) => l.startsWith('RUN ')).map((l) => l.slice(4));
const bash = (command: string, cwd: string, env: NodeJS.ProcessEnv = {}) =>
  execFileSync('bash', ['-euo', 'pipefail', '-c', command], {
    cwd,
    env: { ...process.env, NX_DAEMON: 'false', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    encoding: 'utf8',
  });

describe('Dockerfile', () => {
  const [builder, runtime] = stages();
  const scratch = mkdtempSync(join(tmpdir(), 'temps-docker-'));
  let redis: PrivateRedis;

  beforeAll(async () => {
    redis = await startPrivateRedis();
  });
  afterAll(async () => {
    await redis.stop();
    rmSync(scratch, { recursive: true, force: true });
  });

  it('builds in a builder stage and runs the output as a non-root user under tini', () => {
    expect(builder.name).toBe('builder');
    expect(runtime.name).toBe('runtime');
    for (const stage of [builder, runtime]) expect(stage.from).toMatch(/^node:22/);
    expect(runtime.lines).toContain('USER node');
    expect(runtime.lines.find((l) => l.startsWith('ENTRYPOINT'))).toContain('tini');
    expect(runtime.lines.find((l) => l.startsWith('COPY --from=builder'))).toBeDefined();
    expect(runs(runtime).join(' ')).toContain('npm ci --omit=dev');
  });

  it("the builder's commands build every service from the files it copies", () => {
    // What the builder stage COPYs, copied here; node_modules stands in for its `npm ci`.
    const workspace = join(scratch, 'workspace');
    for (const line of builder.lines.filter((l) => l.startsWith('COPY '))) {
      const sources = line.split(/\s+/).slice(1, -1);
      for (const source of sources)
        cpSync(join(root, source), join(workspace, source), { recursive: true });
    }
    symlinkSync(join(root, 'node_modules'), join(workspace, 'node_modules'));
    const build = runs(builder).find((command) => command.includes('nx run'))!;
    for (const service of SERVICES) {
      bash(build, workspace, { SERVICE: service });
      expect(readFileSync(join(workspace, 'dist', service, 'main.js'), 'utf8')).toContain(
        `services/${service}/src/main.js`,
      );
    }
  });

  it("the runtime stage's production install runs each service", async () => {
    const install = runs(runtime)
      .find((command) => command.includes('npm ci'))!
      .split('&&')[0]
      .trim();
    const app = join(scratch, 'app');
    cpSync(join(root, 'package.json'), join(app, 'package.json'));
    cpSync(join(root, 'package-lock.json'), join(app, 'package-lock.json'));
    bash(install, app);
    expect(() => bash('test -d node_modules/typescript', app)).toThrow();

    for (const service of SERVICES) {
      const image = join(scratch, `image-${service}`);
      cpSync(join(scratch, 'workspace', 'dist', service), image, { recursive: true });
      symlinkSync(join(app, 'node_modules'), join(image, 'node_modules'));
      const port = await freePort();
      const args = service === 'producer' ? ['--follow', '--speed', '360'] : [];
      const child = new ServiceProcess(
        service,
        args,
        { REDIS_URL: redis.url, PORT: String(port), AGGREGATOR_FROM_OLDEST: 'true' },
        join(image, 'main.js'),
      );
      try {
        await eventually(
          async () => (await fetch(`http://127.0.0.1:${port}/health`)).status === 200,
          30_000,
        );
        expect((await child.kill('SIGTERM')).code).toBe(0);
      } finally {
        await child.kill('SIGKILL');
      }
    }
  });
});
