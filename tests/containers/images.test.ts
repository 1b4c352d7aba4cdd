/**
 * The images: the offline Node base (host node + busybox, imported through the Engine API), and the
 * tracker and peer images built FROM it with the bundle's hash as a label. Builds under test tags for
 * the rebuild-on-change check, so the shared swarmlab/* images are never replaced by a test bundle.
 * Needs Docker.
 */
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import {
  ensureLocalNodeBaseImage,
  ensureNodeBaseImage,
  imageExists,
  LABEL_NODE_VERSION,
  localBaseImageRef,
  sharedLibraries,
} from '../../lab/images/base-image';
import {
  ensureBundle,
  ensureImages,
  getImageSizes,
  LABEL_BUNDLE_SHA256,
  type ImageRefs,
} from '../../lab/images/build-images';
import { expectSuccess, runInImage, uniqueRunId } from '../helpers/docker';

const TIMEOUT_MS = 180_000;
const IMAGES_TIMEOUT_MS = 300_000;

describe('images (containers)', () => {
  jest.setTimeout(TIMEOUT_MS);
  const docker = new Docker();
  const run = uniqueRunId('images-test');
  const labels = { 'swarmlab.run': run, 'swarmlab.role': 'test' };
  const testTags = { tracker: `swarmlab-test/tracker:${run}`, peer: `swarmlab-test/peer:${run}` };
  const tempDir = mkdtempSync(join(tmpdir(), 'swarmlab-images-test-'));
  let images: ImageRefs;
  let bundlePath: string;

  const run0 = async (image: string, cmd: string[], user?: string): Promise<string> =>
    expectSuccess(
      await runInImage(docker, image, cmd, { labels, ...(user !== undefined ? { user } : {}) }),
      `${cmd.join(' ')} in ${image}`,
    );

  beforeAll(async () => {
    bundlePath = await ensureBundle();
    images = await ensureImages(docker);
  }, IMAGES_TIMEOUT_MS);

  afterAll(async () => {
    for (const tag of Object.values(testTags)) {
      // By name and without force: only this tag goes if the id is shared with swarmlab/* images.
      await docker
        .getImage(tag)
        .remove()
        .catch(() => undefined);
    }
    const containers = await docker.listContainers({ all: true, filters: { label: [`swarmlab.run=${run}`] } });
    await Promise.all(containers.map(async (c) => docker.getContainer(c.Id).remove({ force: true })));
    rmSync(tempDir, { recursive: true, force: true });
  }, 60_000);

  it('runs npm run build only when the bundle is missing', async () => {
    const root = join(tempDir, 'bundle-root');
    mkdirSync(root);
    const build =
      "require('fs').mkdirSync('dist',{recursive:true});require('fs').appendFileSync('dist/swarmlab.js','//built\\n')";
    writeFileSync(
      join(root, 'package.json'),
      JSON.stringify({ name: 'bundle-root', scripts: { build: `node -e "${build}"` } }),
    );
    const built = await ensureBundle({ rootDir: root });
    expect(built).toBe(join(root, 'dist', 'swarmlab.js'));
    expect(await ensureBundle({ rootDir: root })).toBe(built);
    expect(readFileSync(built, 'utf8')).toBe('//built\n');

    const broken = join(tempDir, 'broken-root');
    mkdirSync(broken);
    writeFileSync(join(broken, 'package.json'), JSON.stringify({ name: 'broken-root', scripts: { build: 'exit 3' } }));
    await expect(ensureBundle({ rootDir: broken })).rejects.toMatchObject({ code: 'ERR_BUNDLE_BUILD' });
  });

  it('lists the host node binary libraries with ldd', () => {
    const libraries = sharedLibraries(process.execPath);
    // Empty only for a static node; otherwise libc and the loader are among them.
    if (libraries.length > 0) {
      expect(libraries.some((path) => /\/libc\.so/.test(path))).toBe(true);
      expect(libraries.some((path) => /\/ld-linux|\/ld-musl/.test(path))).toBe(true);
    }
  });

  it('provides a Node base image, and reuses it on a second call', async () => {
    const again = await ensureNodeBaseImage(docker);
    expect(again).toBe(images.base);
    // Naming the image explicitly uses it as it is.
    expect(await ensureNodeBaseImage(docker, { nodeImage: images.base })).toBe(images.base);
  });

  it('builds the offline base from the host runtime with node, busybox tools and a node user', async () => {
    const ref = await ensureLocalNodeBaseImage(docker);
    expect(ref).toBe(localBaseImageRef(process.versions.node));
    const info = await docker.getImage(ref).inspect();
    expect(info.Config.Labels?.[LABEL_NODE_VERSION]).toBe(process.versions.node);
    const firstId = info.Id;
    expect(await ensureLocalNodeBaseImage(docker)).toBe(ref);
    expect((await docker.getImage(ref).inspect()).Id).toBe(firstId);

    expect((await run0(ref, ['node', '-p', 'process.versions.node'])).trim()).toBe(process.versions.node);
    const script = [
      'set -e',
      'for tool in sh mkdir chown cat ls env sha256sum wget nc sleep kill ps id rm cp mv head tail grep du df ip; do',
      // Busybox sh finds its applets even without links, so look for the files themselves.
      '  found=; for dir in /bin /sbin /usr/bin /usr/sbin; do [ -x "$dir/$tool" ] && found=1; done',
      '  [ -n "$found" ] || { echo "missing $tool"; exit 1; }',
      'done',
      'test -x /usr/bin/env',
      'stat -c %a /tmp',
      'id -u node; id -g node',
      'stat -c %u:%g /home/node',
      "node -e \"require('node:crypto').createHash('sha256'); require('node:dns'); process.stdout.write('ok\\n')\"",
    ].join('\n');
    expect((await run0(ref, ['sh', '-c', script])).trim().split('\n')).toEqual([
      '1777',
      '1000',
      '1000',
      '1000:1000',
      'ok',
    ]);
    expect((await run0(ref, ['id', '-un'], 'node')).trim()).toBe('node');
  });

  it('builds tracker and peer images labelled with the bundle hash, and a second call changes nothing', async () => {
    const bundleSha256 = createHash('sha256').update(readFileSync(bundlePath)).digest('hex');
    const before = await Promise.all([images.tracker, images.peer].map(async (tag) => docker.getImage(tag).inspect()));
    for (const info of before) expect(info.Config.Labels?.[LABEL_BUNDLE_SHA256]).toBe(bundleSha256);

    await ensureImages(docker);
    const after = await Promise.all([images.tracker, images.peer].map(async (tag) => docker.getImage(tag).inspect()));
    expect(after.map((info) => info.Id)).toEqual(before.map((info) => info.Id));

    const sizes = await getImageSizes(docker, [images.tracker, images.peer, 'swarmlab-test/absent:none']);
    expect(sizes[images.tracker]).toBeGreaterThan(0);
    expect(sizes[images.peer]).toBeGreaterThan(0);
    expect(sizes['swarmlab-test/absent:none']).toBeNull();
  });

  it('runs the peer image as node, with its directories, env, healthcheck and command', async () => {
    const info = await docker.getImage(images.peer).inspect();
    expect(info.Config.User).toBe('node');
    expect(info.Config.Cmd).toEqual(['swarmlab', 'peer', '--daemon']);
    expect(info.Config.Env).toEqual(
      expect.arrayContaining(['LOG_FORMAT=json', 'SWARMLAB_DIR=/data', 'SWARMLAB_CONTROL=/run/swarmlab/peer.sock']),
    );
    // A shell builtin: a check starts no Node process.
    expect(info.Config.Healthcheck?.Test).toEqual(['CMD-SHELL', 'test -S "$SWARMLAB_CONTROL" || exit 1']);

    const script = 'id -un; stat -c %U /data /run/swarmlab; stat -c %a /usr/local/bin/swarmlab; ls /app';
    expect((await run0(images.peer, ['sh', '-c', script])).trim().split('\n')).toEqual([
      'node',
      'node',
      'node',
      '755',
      'swarmlab.js',
    ]);
    // The wrapper runs the bundle: pinging a closed port fails as the CLI reports it, not for a missing file.
    const usage = await runInImage(docker, images.peer, ['swarmlab', 'ping', '127.0.0.1:1'], { labels });
    expect(usage.exitCode).not.toBe(0);
    expect(`${usage.stdout}${usage.stderr}`).not.toMatch(/Cannot find module|No such file|exec format error/);
  });

  it('runs the tracker image as node with its healthcheck and command', async () => {
    const info = await docker.getImage(images.tracker).inspect();
    expect(info.Config.User).toBe('node');
    expect(info.Config.Cmd).toEqual(['swarmlab', 'tracker', '--host', '0.0.0.0', '--port', '7070']);
    // grep in the kernel's socket table for a listener on 7070: a check starts no Node process.
    expect(info.Config.Healthcheck?.Test).toEqual([
      'CMD-SHELL',
      "grep -qs ':1B9E [0-9A-F]*:0000 0A ' /proc/net/tcp /proc/net/tcp6 || exit 1",
    ]);
    expect(info.Config.ExposedPorts).toHaveProperty(['7070/tcp']);
  });

  it('rebuilds an image when the bundle changes (under test tags)', async () => {
    const changed = join(tempDir, 'swarmlab.js');
    copyFileSync(bundlePath, changed);
    const first = await ensureImages(docker, { bundlePath: changed, tags: testTags });
    const firstId = (await docker.getImage(first.peer).inspect()).Id;
    expect(await ensureImages(docker, { bundlePath: changed, tags: testTags })).toEqual(first);
    expect((await docker.getImage(first.peer).inspect()).Id).toBe(firstId);

    writeFileSync(changed, `${readFileSync(bundlePath, 'utf8')}\n// changed by images.test.ts ${run}\n`);
    await ensureImages(docker, { bundlePath: changed, tags: testTags });
    const rebuilt = await docker.getImage(testTags.peer).inspect();
    expect(rebuilt.Id).not.toBe(firstId);
    const sha256 = createHash('sha256').update(readFileSync(changed)).digest('hex');
    expect(rebuilt.Config.Labels?.[LABEL_BUNDLE_SHA256]).toBe(sha256);
    // Regression: the test tag first shared the id of swarmlab/peer:latest; replacing it must not delete that image.
    expect(await imageExists(docker, images.peer)).toBe(true);
    expect(await imageExists(docker, images.tracker)).toBe(true);
    expect((await run0(testTags.peer, ['tail', '-n', '1', '/app/swarmlab.js'])).trim()).toBe(
      `// changed by images.test.ts ${run}`,
    );
  });
});
