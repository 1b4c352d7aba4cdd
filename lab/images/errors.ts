/** Errors of the image layer. Callers branch on `code`, never on the message. */
import { ERROR_CODES } from '../errors';

export class BaseImageError extends Error {
  readonly code = ERROR_CODES.BASE_IMAGE;
  constructor(message = 'could not provide a Node base image', options?: ErrorOptions) {
    super(message, options);
    this.name = 'BaseImageError';
  }
}

export class ImageBuildError extends Error {
  readonly code = ERROR_CODES.IMAGE_BUILD;
  constructor(message = 'image build failed', options?: ErrorOptions) {
    super(message, options);
    this.name = 'ImageBuildError';
  }
}

export class BundleBuildError extends Error {
  readonly code = ERROR_CODES.BUNDLE_BUILD;
  constructor(message = 'npm run build failed', options?: ErrorOptions) {
    super(message, options);
    this.name = 'BundleBuildError';
  }
}
