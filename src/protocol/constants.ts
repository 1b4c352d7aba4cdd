/**
 * Wire limits and sizes. Everything a remote controls is bounded here (docs/protocol.md, "Limits").
 */

/** u32 length prefix + u8 opcode + u32 request id. */
export const FRAME_HEADER_BYTES = 9;
/** Bytes the length prefix counts beyond the body: opcode + request id. */
export const FRAME_OVERHEAD_BYTES = 5;
/** Largest chunk a manifest may declare. */
export const MAX_CHUNK_BYTES = 4 * 1024 * 1024;
/** Largest frame (after the length prefix) a decoder accepts; checked before anything is buffered. */
export const MAX_FRAME_BYTES = 8 * 1024 * 1024;
/** Most chunks one manifest may list (16 GiB at the default chunk size). */
export const MAX_CHUNKS = 65_536;
/** Longest file name, in bytes of UTF-8. */
export const MAX_NAME_BYTES = 255;
/** Size of a file id (SHA-256) on the wire. */
export const FILE_ID_BYTES = 32;
/** Binary chunk-addressing header: file id + u32 chunk index. */
export const CHUNK_REF_BYTES = FILE_ID_BYTES + 4;
/** Bytes of a CHUNK frame before its data: the frame header and the chunk reference. */
export const CHUNK_HEADER_BYTES = FRAME_HEADER_BYTES + CHUNK_REF_BYTES;
/** Default chunk size for real files. */
export const DEFAULT_CHUNK_BYTES = 256 * 1024;
/** Protocol version carried in REGISTER and HELLO; a later change bumps it. */
export const PROTOCOL_VERSION = 1;
/** Most files one FILES answer lists (LIST `limit` is capped to it); the rest come in further pages. */
export const MAX_LIST_PAGE = 1000;
/** Holders a PEERS answer lists when LOCATE names no `numwant` (BitTorrent's numwant). */
export const DEFAULT_NUMWANT = 50;
/**
 * Most holders one PEERS answer lists: with the largest manifest (65,536 chunks, about 4.4 MB of JSON)
 * and each holder's bitfield (11 KB of base64 at most), the answer stays under MAX_FRAME_BYTES.
 */
export const MAX_NUMWANT = 200;
/**
 * REGISTERED `features`: this tracker answers LOCATE `{manifest: false}` with the holders only. A
 * download's refresh (every few hundred ms) needs no manifest, which for 1 GiB is ~270 KB of JSON.
 */
export const TRACKER_FEATURE_LOCATE_HOLDERS = 'locate-holders';
/**
 * HELLO feature: tell this downloader with ROOM when the upload that refused it with REJECT `busy`
 * has room again, so it waits for that instead of asking again and again (docs/protocol.md, ROOM).
 */
export const PEER_FEATURE_ROOM = 'room';
/** The HELLO features this peer understands, as a downloader and as a source. */
export const PEER_FEATURES: readonly string[] = [PEER_FEATURE_ROOM];
/** What REGISTERED, HELLO and BITFIELD may list: names of at most MAX_FEATURE_NAME_BYTES characters, at most MAX_FEATURES of them. */
export const MAX_FEATURES = 32;
export const MAX_FEATURE_NAME_BYTES = 64;
