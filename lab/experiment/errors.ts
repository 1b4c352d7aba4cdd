/**
 * Errors of `lab compare`: a `--vary` the lab cannot turn into variants, or an image a variant names
 * that this Docker host does not have. Codes are registered in lab/errors.ts.
 */
import { ERROR_CODES, LabError } from '../errors';

/** `--vary KEY=...` with a KEY that is no peer setting, `image`, or `PEER.SETTING` of a known peer. */
export class VaryKeyError extends LabError {
  constructor(message: string) {
    super(ERROR_CODES.VARY_UNKNOWN_KEY, message);
    this.name = 'VaryKeyError';
  }
}

/** `--vary` values the setting does not accept, a malformed `--vary`, or too many combinations. */
export class VaryValueError extends LabError {
  constructor(message: string) {
    super(ERROR_CODES.VARY_BAD_VALUE, message);
    this.name = 'VaryValueError';
  }
}

/** A variant's `image` tag is not on this Docker host (compare never pulls: a build is the point). */
export class ImageNotFoundError extends LabError {
  constructor(image: string) {
    super(ERROR_CODES.IMAGE_NOT_FOUND, `image "${image}" is not on this Docker host (build or tag it first)`);
    this.name = 'ImageNotFoundError';
  }
}
