// `npm test`: unit and integration suites always; the container suite, beside them, when a Docker daemon answers.
// With REQUIRE_DOCKER=1 a missing daemon fails the run instead of skipping the container suite.
// DOCKER_HOST may name a Unix socket (unix://), a TCP daemon (tcp://HOST:PORT), or anything the
// docker CLI reaches (ssh://, TLS).
import { spawn, spawnSync } from 'node:child_process';
import { Buffer } from 'node:buffer';
import { request } from 'node:http';

/**
 * Where DOCKER_HOST points, as http.request options: unix:// (or a bare path) is a socket, tcp:// a
 * host and port (dockerd's plain-HTTP port). Anything else (ssh://, https:// with TLS certificates)
 * cannot be pinged here: undefined, and the caller asks the docker CLI instead.
 */
function dockerEndpoint(dockerHost = 'unix:///var/run/docker.sock') {
  if (dockerHost.startsWith('unix://')) return { socketPath: dockerHost.slice('unix://'.length) };
  if (dockerHost.startsWith('/')) return { socketPath: dockerHost };
  const tcp = /^tcp:\/\/(\[[^\]]+\]|[^:/]+)(?::(\d+))?\/?$/.exec(dockerHost);
  if (tcp) return { host: tcp[1].replace(/^\[|\]$/g, ''), port: Number(tcp[2] ?? 2375) };
  return undefined;
}

function pingDocker(endpoint) {
  return new Promise((resolve) => {
    const req = request({ ...endpoint, path: '/_ping', timeout: 3000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => {
      req.destroy();
      resolve(false);
    });
    req.end();
  });
}

async function dockerReachable() {
  const endpoint = dockerEndpoint(process.env.DOCKER_HOST || undefined);
  if (endpoint) return pingDocker(endpoint);
  // ssh://, or TLS (DOCKER_TLS_VERIFY): the docker CLI knows how to reach it.
  return spawnSync('docker', ['version', '--format', '{{.Server.Version}}'], { stdio: 'ignore', timeout: 10_000 }).status === 0;
}

// `node scripts/test.mjs --docker-reachable` only says whether the container suite would run.
if (process.argv[2] === '--docker-reachable') {
  console.log((await dockerReachable()) ? 'reachable' : 'unreachable');
  process.exit(0);
}

const extraArgs = process.argv.slice(2);
const selectors = ['unit', 'integration'];
if (await dockerReachable()) {
  selectors.push('containers');
} else if (process.env.REQUIRE_DOCKER === '1') {
  console.error('REQUIRE_DOCKER=1 but no Docker daemon answers: failing instead of skipping the container suite.');
  process.exit(1);
} else {
  console.error('NOTICE: no Docker daemon answers; SKIPPING the container suite (set REQUIRE_DOCKER=1 to fail instead).');
}

const env = { ...process.env, TESTCONTAINERS_RYUK_DISABLED: 'true' };

/** One jest process over `projects`, in band: every suite of a project runs after the previous one. */
function jestArgs(projects) {
  return ['node_modules/jest/bin/jest.js', '--runInBand', ...projects.flatMap((name) => ['--selectProjects', name]), ...extraArgs];
}

/**
 * Every container, network and swarm service Docker has, by id and name: taken before and after the
 * container suite, the difference is what a test left behind. Empty when the docker CLI cannot list them.
 */
function dockerObjects() {
  const listings = [
    ['container', ['ps', '-a', '--no-trunc', '--format', '{{.ID}} {{.Names}}']],
    ['network', ['network', 'ls', '--no-trunc', '--format', '{{.ID}} {{.Name}}']],
    ['service', ['service', 'ls', '--format', '{{.ID}} {{.Name}}']],
  ];
  const objects = new Map();
  for (const [kind, args] of listings) {
    const listed = spawnSync('docker', args, { encoding: 'utf8', timeout: 30_000 });
    if (listed.status !== 0) continue; // no swarm (service ls), or no CLI
    for (const line of listed.stdout.split('\n').filter(Boolean)) {
      const [id, name] = line.split(' ');
      objects.set(`${kind} ${id}`, `${kind} ${name}`);
    }
  }
  return objects;
}

/** Fails the run (exit 1) when the container suite left containers, networks or services behind. */
function leftBehind(before) {
  const left = [...dockerObjects()].filter(([key]) => !before.has(key)).map(([, what]) => what);
  if (left.length === 0) return 0;
  console.error(`The container suite left ${left.length} Docker object(s) behind:\n  ${left.join('\n  ')}`);
  return 1;
}

/**
 * The container suite mostly waits on Docker and on its scenarios' own clocks (rate-limited transfers,
 * timeouts a broken swarm must run into), so it runs beside unit and integration rather than after them:
 * two jest processes, each in band, so that no two suites of the same ring compete with each other. The
 * containers stream their output live; unit and integration print theirs in one block when they end, so
 * the two never interleave. Arguments for jest (a file, -t) or SWARMLAB_TEST_SERIAL=1 keep one process.
 */
const split = selectors.includes('containers') && extraArgs.length === 0 && process.env.SWARMLAB_TEST_SERIAL !== '1';
const before = selectors.includes('containers') ? dockerObjects() : undefined;
if (!split) {
  const result = spawnSync(process.execPath, jestArgs(selectors), { stdio: 'inherit', env });
  const left = before === undefined ? 0 : leftBehind(before);
  process.exit(result.status === 0 && left === 0 ? 0 : 1);
}

function runJest(projects, buffered) {
  return new Promise((resolve) => {
    const output = [];
    const child = spawn(process.execPath, jestArgs(projects), { stdio: buffered ? ['ignore', 'pipe', 'pipe'] : 'inherit', env });
    if (buffered) {
      child.stdout.on('data', (chunk) => output.push(chunk));
      child.stderr.on('data', (chunk) => output.push(chunk));
    }
    child.on('close', (code, signal) => {
      if (buffered) {
        process.stderr.write(`\n===== jest ${projects.join(' + ')} (exit ${code ?? signal}) =====\n`);
        process.stderr.write(Buffer.concat(output));
        process.stderr.write(`===== end of jest ${projects.join(' + ')} =====\n\n`);
      }
      resolve(code ?? 1);
    });
  });
}

const codes = await Promise.all([runJest(['containers'], false), runJest(['unit', 'integration'], true)]);
codes.push(leftBehind(before));
process.exit(codes.every((code) => code === 0) ? 0 : 1);
