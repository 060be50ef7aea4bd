/**
 * Packages that only one feature needs are optional peer dependencies of the package (package.json
 * `peerDependenciesMeta`): they are loaded when the feature is first used, and when one is not installed the error
 * names it, the feature, and the command that adds it.
 */
import { createRequire } from 'node:module';
import { TributaryError } from './errors.js';

const require = createRequire(import.meta.url);

function isMissing(error: unknown, packageName: string): boolean {
  return (
    error instanceof Error &&
    (error as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND' &&
    error.message.includes(`'${packageName}'`)
  );
}

/**
 * Loads a CommonJS package synchronously (for hooks that cannot wait, such as kafkajs' compression codecs).
 *
 * @param packageName the package, e.g. `'kafkajs-snappy'`
 * @param feature what needs it, for the error message, e.g. `'snappy compression (kafkajs client)'`
 * @param load how to load it (tests); default: `require` from this package
 * @returns the package's exports
 * @throws TributaryError `TRIBUTARY_ERR_CONFIG` when the package is not installed; any other error as it is
 */
export function requireOptional<T>(packageName: string, feature: string, load: (name: string) => unknown = require): T {
  try {
    return load(packageName) as T;
  } catch (error) {
    if (!isMissing(error, packageName)) throw error;
    throw new TributaryError(
      'TRIBUTARY_ERR_CONFIG',
      `${feature} needs the package ${packageName}, which is not installed: npm install ${packageName}`,
      { cause: error },
    );
  }
}
