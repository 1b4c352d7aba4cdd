/**
 * The interactive peer console: c, q, u, f, d NAME (and long forms), status, rate, help, exit.
 * `d` alone asks for the name on the next line, as the original course console does.
 * On a terminal it is a prompt with live progress bars; with stdin from a pipe it reads one command
 * per line, runs downloads in the background, and at the end of its input waits for them and exits.
 * Every error is one line; the console keeps running.
 */
import { createInterface } from 'node:readline';
import { clearLine, cursorTo } from 'node:readline';
import { errorMessage } from '../shared/errors';
import type { PeerNode } from '../peer/peer-node';
import { formatBytes, formatDuration, formatRate, parseSize, progressLine, table } from './format';
import { out } from './output';

/** What `d` without a name prints (as the prompt on a terminal) while it waits for the name. */
export const DOWNLOAD_NAME_PROMPT = 'file to download (name or id): ';

const HELP = `commands:
  c, connect [HOST:PORT]   connect to the tracker
  q, disconnect            disconnect from the tracker
  u, upload                publish every file in the peer's directory
  f, files                 list the files on the network
  d, download NAME         download a file by name (or by file id); d alone asks for it
  s, status                what this peer holds
  rate UP DOWN             set upload/download limits (e.g. 1M, or "off")
  help                     this text
  exit                     leave (waits for running downloads first)`;

export async function runConsole(node: PeerNode): Promise<void> {
  const interactive = process.stdin.isTTY === true;
  const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: interactive, prompt: `${node.name}> ` });
  let exiting = false;
  /** Downloads this console started; at the end of input it waits for every one of them. */
  const started = new Set<Promise<void>>();

  const say = (line: string): void => {
    if (interactive) {
      clearLine(process.stdout, 0);
      cursorTo(process.stdout, 0);
    }
    out(line);
    if (interactive && !exiting) rl.prompt(true);
  };

  const startDownload = (target: string): void => {
    let lastReportedTenth = -1;
    const startedAtMs = Date.now();
    const query = /^[0-9a-f]{64}$/.test(target) ? { fileId: target } : { name: target };
    say(`downloading ${target}...`);
    const running = node
      .download(query, {
        onProgress: (progress) => {
          if (interactive) {
            clearLine(process.stdout, 0);
            cursorTo(process.stdout, 0);
            process.stdout.write(progressLine(target, progress.bytes, progress.size, progress.rateBps));
            return;
          }
          const tenth = Math.floor((progress.have / Math.max(1, progress.chunks)) * 10);
          if (tenth > lastReportedTenth) {
            lastReportedTenth = tenth;
            out(progressLine(target, progress.bytes, progress.size, progress.rateBps));
          }
        },
      })
      .then(
        (result) => {
          const sources = Object.entries(result.chunksBySource).map(([name, count]) => `${name}: ${count}`).join(', ');
          say(`downloaded ${result.file} (${formatBytes(result.bytes)}) in ${formatDuration(Date.now() - startedAtMs)} -> ${result.path}`);
          say(`  sha256 ${result.sha256}, verified ${result.verified ? 'yes' : 'no'}; chunks from ${sources || 'none (already held)'}${result.keptChunks ? `; ${result.keptChunks} kept from before` : ''}`);
        },
        (error: unknown) => say(`download of ${target} failed: ${errorMessage(error)}`),
      );
    started.add(running);
    void running.finally(() => started.delete(running));
  };

  /** `d` came without a name: the next line is the name. */
  let awaitingName = false;
  const promptForName = (): void => {
    awaitingName = true;
    if (interactive) rl.setPrompt(DOWNLOAD_NAME_PROMPT);
    else out(DOWNLOAD_NAME_PROMPT.trimEnd());
  };

  const execute = async (line: string): Promise<boolean> => {
    if (awaitingName) {
      awaitingName = false;
      if (interactive) rl.setPrompt(`${node.name}> `);
      const target = line.trim();
      if (target) startDownload(target);
      else say('no name given; nothing downloaded');
      return true;
    }
    const [command = '', ...rest] = line.trim().split(/\s+/);
    const argument = rest.join(' ');
    try {
      switch (command.toLowerCase()) {
        case '':
          return true;
        case 'c':
        case 'connect': {
          const result = await node.connect(argument || undefined);
          say(`connected to ${result.tracker} as ${result.peerId}`);
          return true;
        }
        case 'q':
        case 'disconnect':
          await node.disconnect();
          say('disconnected');
          return true;
        case 'u':
        case 'upload': {
          const { published } = await node.upload();
          for (const file of published) say(`published ${file.name} (${formatBytes(file.size)}, ${file.chunks} chunks) ${file.fileId.slice(0, 12)}`);
          return true;
        }
        case 'f':
        case 'files': {
          const { files } = await node.files();
          if (files.length === 0) say('no files on the network');
          else say(table(['NAME', 'SIZE', 'CHUNKS', 'PEERS', 'SEEDERS', 'ID'], files.map((f) => [f.name, formatBytes(f.size), f.chunks, f.holders, f.seeders, f.fileId.slice(0, 12)])));
          return true;
        }
        case 'd':
        case 'download':
          if (argument) startDownload(argument);
          else promptForName();
          return true;
        case 's':
        case 'status': {
          const status = await node.status();
          say(JSON.stringify(status, null, 2));
          return true;
        }
        case 'rate': {
          const [up, down] = rest;
          const parse = (value: string | undefined): number | null | undefined => (value === undefined ? undefined : value === 'off' ? null : parseSize(value));
          const rates = node.setRates({ upload: parse(up), download: parse(down) });
          say(`upload ${rates.upload === null ? 'unlimited' : formatRate(rates.upload)}, download ${rates.download === null ? 'unlimited' : formatRate(rates.download)}`);
          return true;
        }
        case 'h':
        case 'help':
        case '?':
          say(HELP);
          return true;
        case 'exit':
        case 'quit':
          return false;
        default:
          say(`unknown command "${command}" (type help)`);
          return true;
      }
    } catch (error) {
      say(`error: ${errorMessage(error)}`);
      return true;
    }
  };

  if (interactive) {
    out(`swarmlab peer ${node.name} (data port ${node.dataPort}); type help`);
    for (const resumable of node.resumable) out(`partial download of ${resumable.name} found (${resumable.kept} chunks kept); d ${resumable.name} resumes it`);
    rl.prompt();
  }
  // Commands run one at a time, in order; downloads run in the background.
  for await (const line of rl) {
    const keepGoing = await execute(line);
    if (!keepGoing) break;
    if (interactive) rl.prompt();
  }
  exiting = true;
  rl.close();
  await Promise.allSettled([...started]);
  await node.settle();
}
