export * from './constants';
export * from './errors';
export * from './messages';
export * from './frame-encoder';
export * from './frame-decoder';
export * from './manifest';
export * from './bitfield';
export { compileSchemas, validateBody, validateManifest, FILE_NAME_PATTERN } from './schemas';
