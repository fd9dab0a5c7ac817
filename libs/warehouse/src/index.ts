export { folderLockFile } from './embedded';
export * from './hourly-row';
export * from './migrations';
export * from './schema';
export * from './warehouse';
export * from './warehouse-error';
export * from './warehouse-url';
