/** Codes of the CLI's local swarm (local-swarm.ts), also used by the bench that drives one. */
export const CliErrorCode = {
  StartTimeout: 'ERR_START_TIMEOUT',
  StartFailed: 'ERR_START_FAILED',
  NoPeer: 'ERR_NO_PEER',
} as const;
export type CliErrorCode = (typeof CliErrorCode)[keyof typeof CliErrorCode];
