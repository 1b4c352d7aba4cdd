import { SwarmlabError } from '../shared/errors';

/** Errors a peer reports to its user or its control client; `code` is stable. */
export class PeerError extends SwarmlabError {
  constructor(code: string, message: string) {
    super(code, message);
    this.name = 'PeerError';
  }
}

/** Another running peer holds the directory's lock; `holder` says which one (when it answered). */
export class DirInUseError extends PeerError {
  constructor(
    readonly dir: string,
    readonly holder: { pid: number; control?: string } | undefined,
  ) {
    const who = holder ? `pid ${holder.pid}${holder.control ? `, control ${holder.control}` : ''}` : 'it did not say who it is';
    super('ERR_DIR_IN_USE', `another peer already runs on ${dir} (${who}): stop it, or give this peer its own --dir`);
    this.name = 'DirInUseError';
  }
}
