import { describe, expect, it } from 'vitest';
import { TributaryError } from '../../src/errors.js';
import { requireOptional } from '../../src/optionalDependency.js';

function thrownBy(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

describe('requireOptional', () => {
  it('loads an installed package', () => {
    const createCodec = requireOptional<() => { decompress: unknown }>('kafkajs-snappy', 'snappy compression');
    expect(typeof createCodec().decompress).toBe('function');
  });

  it('names the missing package, the feature that needs it and the command that adds it', () => {
    const error = thrownBy(() => requireOptional('tributary-no-such-package', 'snappy compression (kafkajs client)'));
    expect(error).toBeInstanceOf(TributaryError);
    expect((error as TributaryError).code).toBe('TRIBUTARY_ERR_CONFIG');
    expect((error as TributaryError).message).toBe(
      'snappy compression (kafkajs client) needs the package tributary-no-such-package, which is not installed: ' +
        'npm install tributary-no-such-package',
    );
  });

  it("passes on any other error, such as a missing dependency of the package's own", () => {
    const missingInside = Object.assign(new Error("Cannot find module 'snappyjs'"), { code: 'MODULE_NOT_FOUND' });
    const error = thrownBy(() =>
      requireOptional('kafkajs-snappy', 'snappy compression', () => {
        throw missingInside;
      }),
    );
    expect(error).toBe(missingInside);
  });
});
