// `npm test`: unit and integration suites always; the container suite when a Docker daemon answers.
// With REQUIRE_DOCKER=1 a missing daemon fails the run instead of skipping the container suite.
import { spawnSync } from 'node:child_process';
import { request } from 'node:http';

function dockerReachable() {
  const socketPath = (process.env.DOCKER_HOST ?? 'unix:///var/run/docker.sock').replace(/^unix:\/\//, '');
  return new Promise((resolve) => {
    const req = request({ socketPath, path: '/_ping', timeout: 3000 }, (res) => {
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

const result = spawnSync(
  process.execPath,
  ['node_modules/jest/bin/jest.js', '--runInBand', ...selectors.flatMap((name) => ['--selectProjects', name]), ...extraArgs],
  { stdio: 'inherit', env: { ...process.env, TESTCONTAINERS_RYUK_DISABLED: 'true' } },
);
process.exit(result.status ?? 1);
