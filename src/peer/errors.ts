import { SwarmlabError } from '../shared/errors';

/** Errors a peer reports to its user or its control client; `code` is stable. */
export class PeerError extends SwarmlabError {
  constructor(code: string, message: string) {
    super(code, message);
    this.name = 'PeerError';
  }
}
