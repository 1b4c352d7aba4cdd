/**
 * What this machine can do with no protocol at all: raw TCP between two processes on 127.0.0.1 with
 * 1 MiB writes, and SHA-256 on one core over chunk-sized buffers. A verified download can go no faster
 * than the slower of the two, so every transfer ratio in the bench is against `limitMBps`. Beside it,
 * the CPU floor (cpu-floor.ts): what those steps, and the file's writes and reads, cost on all cores.
 */
import { spawn } from 'node:child_process';
import { createHash, randomFillSync } from 'node:crypto';
import { createServer } from 'node:net';
import { availableParallelism } from 'node:os';
import type { AddressInfo } from 'node:net';
import { DEFAULT_CHUNK_BYTES } from '../protocol';
import { SwarmlabError } from '../shared/errors';
import { cpuFloor, measureFileCpuSPerGB } from './cpu-floor';
import { cpuUsageSeconds, procCpuSeconds } from './footprint';
import { BYTES_PER_GB, BYTES_PER_MB, MIB } from './types';
import type { CeilingResult } from './types';
import { BenchErrorCode } from './errors';

const TCP_WRITE_BYTES = MIB;
const TCP_TIMEOUT_MS = 120_000;
/** The peer verifies one chunk at a time; hash the same way (a fresh digest per default-size chunk). */
const SHA_CHUNK_BYTES = DEFAULT_CHUNK_BYTES;

/** The sender: connects to the port in argv[1] and writes argv[2] bytes in 1 MiB writes, honouring backpressure. */
const SENDER_SCRIPT = `
const net = require('node:net');
const [port, total] = process.argv.slice(1).map(Number);
const block = Buffer.alloc(${TCP_WRITE_BYTES}, 0x5a);
let sent = 0;
const socket = net.connect(port, '127.0.0.1', () => {
  const pump = () => {
    while (sent < total) {
      const n = Math.min(block.length, total - sent);
      sent += n;
      if (!socket.write(n === block.length ? block : block.subarray(0, n))) return void socket.once('drain', pump);
    }
    socket.end();
    // Stay up until killed: the bench reads this process's CPU time after the last byte arrives.
    setInterval(() => undefined, 60000);
  };
  pump();
});
socket.on('error', (e) => { process.stderr.write(e.message + '\\n'); process.exit(1); });
`;

export interface TcpMeasurement {
  MBps: number;
  /** CPU seconds per GB of both ends together (sender and receiver), from the connection to the last byte; null off Linux. */
  cpuSPerGB: number | null;
}

/** Receives `totalBytes` from a child process over loopback: MB/s from the first byte to the last, and the CPU it took. */
export async function measureTcpMBps(totalBytes: number): Promise<TcpMeasurement> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const child = spawn(process.execPath, ['-e', SENDER_SCRIPT, String(port), String(totalBytes)], { stdio: 'ignore' });
  try {
    return await new Promise<TcpMeasurement>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new SwarmlabError(
              BenchErrorCode.Timeout,
              `raw TCP did not move ${totalBytes} bytes in ${TCP_TIMEOUT_MS} ms`,
            ),
          ),
        TCP_TIMEOUT_MS,
      );
      child.once('exit', (code) => {
        if (code !== 0) reject(new SwarmlabError(BenchErrorCode.Sender, `the TCP sender exited with code ${code}`));
      });
      server.once('connection', (socket) => {
        let received = 0;
        let startNs = 0n;
        // The sender has booted by now: its CPU from here on is the sending alone.
        const receiverCpu = process.cpuUsage();
        const senderCpu = procCpuSeconds(child.pid);
        socket.on('data', (data: Buffer) => {
          if (startNs === 0n) startNs = process.hrtime.bigint();
          received += data.length;
          if (received < totalBytes) return;
          const seconds = Number(process.hrtime.bigint() - startNs) / 1e9;
          const receiverS = cpuUsageSeconds(process.cpuUsage(receiverCpu));
          socket.pause();
          clearTimeout(timer);
          void Promise.all([senderCpu, procCpuSeconds(child.pid)]).then(([before, after]) =>
            resolve({
              MBps: totalBytes / BYTES_PER_MB / seconds,
              cpuSPerGB:
                before === null || after === null ? null : ((after - before + receiverS) * BYTES_PER_GB) / totalBytes,
            }),
          );
        });
      });
    });
  } finally {
    child.kill();
    server.close();
  }
}

/** SHA-256 on this thread (one core) over `totalBytes` of random data, one digest per 256 KiB chunk. */
export function measureSha256MBps(totalBytes: number): number {
  const block = randomFillSync(Buffer.allocUnsafe(4 * SHA_CHUNK_BYTES));
  const chunks = Array.from({ length: 4 }, (_, i) => block.subarray(i * SHA_CHUNK_BYTES, (i + 1) * SHA_CHUNK_BYTES));
  // One untimed pass so the first timed digest does not pay for warming up.
  createHash('sha256').update(block).digest();
  const count = Math.max(1, Math.floor(totalBytes / SHA_CHUNK_BYTES));
  const startNs = process.hrtime.bigint();
  for (let i = 0; i < count; i++)
    createHash('sha256')
      .update(chunks[i % 4]!)
      .digest();
  const seconds = Number(process.hrtime.bigint() - startNs) / 1e9;
  return (count * SHA_CHUNK_BYTES) / BYTES_PER_MB / seconds;
}

export async function measureCeiling(init: {
  tcpBytes: number;
  sha256Bytes: number;
  fileBytes: number;
}): Promise<CeilingResult> {
  const tcp = await measureTcpMBps(init.tcpBytes);
  const sha256MBps = measureSha256MBps(init.sha256Bytes);
  const file = measureFileCpuSPerGB(init.fileBytes);
  return {
    tcpMBps: tcp.MBps,
    sha256MBps,
    limitMBps: Math.min(tcp.MBps, sha256MBps),
    tcpBytes: init.tcpBytes,
    sha256Bytes: init.sha256Bytes,
    // SHA-256 runs on one thread with nothing to wait for: its CPU per GB is its time per GB.
    cpuFloor:
      tcp.cpuSPerGB === null
        ? null
        : cpuFloor(
            {
              tcp: tcp.cpuSPerGB,
              sha256: BYTES_PER_GB / BYTES_PER_MB / sha256MBps,
              fileWrite: file.write,
              fileRead: file.read,
            },
            availableParallelism(),
          ),
  };
}
