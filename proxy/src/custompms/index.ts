/**
 * The Custompms adapter: typed client, retry policy, webhook verification and wire types.
 * Import from here; the files behind it are an implementation detail.
 */
export * from './client';
export * from './errors';
export * from './retry';
export * from './semaphore';
export * from './types';
export * from './webhook-signature';
