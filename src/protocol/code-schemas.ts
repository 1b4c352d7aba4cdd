/**
 * The Ajv instances for the schemas written in this code base (protocol bodies, control requests, a
 * peer's configuration), as opposed to schemas a user supplies.
 *
 * Ajv checks every schema against JSON Schema's meta-schema before compiling it, and compiles that
 * meta-schema first, once per instance: about a fifth of a peer's start-up CPU, paid a hundred times
 * when a lab starts a hundred peers. These schemas are constants, compiled with the check wherever the
 * tests run them, so a production process (NODE_ENV=production, as the images set it) skips it.
 */
import Ajv from 'ajv';
import type { Options } from 'ajv';

export function codeSchemaAjv(options: Omit<Options, 'validateSchema'>): Ajv {
  return new Ajv({ ...options, validateSchema: process.env['NODE_ENV'] !== 'production' });
}
