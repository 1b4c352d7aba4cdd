/** Errors of the image layer. Callers branch on `code`, never on the message. */

export class BaseImageError extends Error {
  readonly code = 'ERR_BASE_IMAGE';
  constructor(message = 'could not provide a Node base image', options?: ErrorOptions) {
    super(message, options);
    this.name = 'BaseImageError';
  }
}

export class ImageBuildError extends Error {
  readonly code = 'ERR_IMAGE_BUILD';
  constructor(message = 'image build failed', options?: ErrorOptions) {
    super(message, options);
    this.name = 'ImageBuildError';
  }
}

export class BundleBuildError extends Error {
  readonly code = 'ERR_BUNDLE_BUILD';
  constructor(message = 'npm run build failed', options?: ErrorOptions) {
    super(message, options);
    this.name = 'BundleBuildError';
  }
}
