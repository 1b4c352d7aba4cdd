/**
 * `peerDefaults`: peer settings (docs/strategies.md) a scenario applies to every peer, as the
 * SWARMLAB_* variables the peer reads. A peer's own `env` wins over them, so one peer can differ.
 * A leaf module: the scenario schema embeds PEER_DEFAULTS_SCHEMA, scenario loading applies the env.
 */
import { MAX_CHUNK_BYTES } from '../../src/protocol';

export interface PeerDefaults {
  /** Piece selection: rarest, random, sequential, or the path of a picker module inside the peer's container. */
  picker?: string;
  /** Endgame duplicate requests. */
  endgame?: 'on' | 'off';
  /** Super-seeding: while the upload is rate-limited (auto), always (on), never (off). */
  superSeed?: 'auto' | 'on' | 'off';
  /** Requests outstanding per source. */
  maxInflight?: number;
  /** Chunk size of the files peers publish, in bytes. */
  chunkSize?: number;
}

/** The variable each setting becomes; the names `swarmlab peer` reads (src/cli/peer-config.ts). */
export const PEER_SETTING_ENV: Record<keyof PeerDefaults, string> = {
  picker: 'SWARMLAB_PICKER',
  endgame: 'SWARMLAB_ENDGAME',
  superSeed: 'SWARMLAB_SUPER_SEED',
  maxInflight: 'SWARMLAB_MAX_INFLIGHT',
  chunkSize: 'SWARMLAB_CHUNK_SIZE',
};

/** The same bounds as the peer's own validation, so a scenario fails before any container starts. */
export const PEER_DEFAULTS_SCHEMA = {
  type: 'object',
  properties: {
    picker: { type: 'string', minLength: 1, maxLength: 4096 },
    endgame: { enum: ['on', 'off'] },
    superSeed: { enum: ['auto', 'on', 'off'] },
    maxInflight: { type: 'integer', minimum: 1, maximum: 256 },
    chunkSize: { type: 'integer', minimum: 1024, maximum: MAX_CHUNK_BYTES },
  },
  additionalProperties: false,
} as const;

/** The environment `defaults` give a peer, under its own `env` (which wins). */
export function peerDefaultsEnv(defaults: PeerDefaults | undefined, own: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const key of Object.keys(PEER_SETTING_ENV) as Array<keyof PeerDefaults>) {
    const value = defaults?.[key];
    if (value !== undefined) env[PEER_SETTING_ENV[key]] = String(value);
  }
  return { ...env, ...own };
}
