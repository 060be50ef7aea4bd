/**
 * Fuzzed record values for a parseJson → validate(fuzzSchema) → branchToDeadLetter → publish chain, each labelled valid or
 * invalid by construction (not by running a decoder), from a seeded PRNG: random bytes, empty values, tombstones,
 * invalid UTF-8, nesting up to 100,000 levels, strings of hundreds of KB, values over parseJson's 1 MiB limit,
 * `__proto__` / `constructor` keys, malformed and wrongly typed JSON. Every record carries its index in the
 * `fuzz-id` header (the dead-letter record keeps the original headers); some carry random binary headers and keys.
 */
import * as z from 'zod';
import type { Random } from './seededRandom.js';

/** A valid value is `{ id: 'f<index>', seq: <index> }`, with `tags` optional; unknown keys are stripped. */
export const fuzzSchema = z.object({
  id: z.string().regex(/^f\d+$/),
  seq: z.number().int(),
  tags: z.array(z.string()).optional(),
});

export interface FuzzPayload {
  readonly index: number;
  readonly kind: string;
  /** Passes parseJson and fuzzSchema: must be published; every other one must be dead-lettered. */
  readonly valid: boolean;
  readonly key: Buffer | string | null;
  readonly value: Buffer | null;
  readonly headers: Record<string, Buffer | string>;
}

/** Records of this depth are rare (parsing one takes ~0.3 s): a fixed handful, the rest nest up to 20,000 deep. */
export const MAX_DEPTH = 100_000;
const DEEP_EVERY = 1000;
const MIB = 1024 * 1024;

const text = (s: string) => Buffer.from(s, 'utf8');
const json = (value: unknown) => text(JSON.stringify(value));
const depth = (i: number, rng: Random) => (i % DEEP_EVERY === 7 ? MAX_DEPTH : 1000 + rng.int(19_000));
const nested = (d: number) => `${'['.repeat(d)}${']'.repeat(d)}`;
const bigString = (rng: Random, min: number, max: number) => 'x'.repeat(min + rng.int(max - min));

/** Unicode beyond ASCII, zero-width and right-to-left marks, emoji, and escaped lone surrogates and NULs. */
function unicodeNote(rng: Random): string {
  const pieces = ['é', '漢字', '🦀', '\u200b', '\u202e', 'Ω', '\\ud800', '\\udfff', '\\u0000', '\\n', '"', '\\\\'];
  let note = '';
  for (let k = rng.int(40); k > 0; k--) note += rng.pick(pieces).replace(/^"$/, '\\"');
  return note;
}

const BAD_UTF8 = [[0xff], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80], [0xe2, 0x82], [0x80]];

interface Maker {
  kind: string;
  valid: boolean;
  weight: number;
  make(i: number, rng: Random): Buffer | null;
}

const MAKERS: Maker[] = [
  { kind: 'valid-plain', valid: true, weight: 10, make: (i) => json({ id: `f${i}`, seq: i }) },
  {
    kind: 'valid-unicode',
    valid: true,
    weight: 6,
    make: (i, rng) => text(`{"id":"f${i}","seq":${i},"note":"${unicodeNote(rng)}","tags":["${unicodeNote(rng)}"]}`),
  },
  {
    kind: 'valid-proto-keys',
    valid: true,
    weight: 6,
    make: (i) =>
      text(
        `{"__proto__":{"polluted":"yes","id":"x"},"id":"f${i}","seq":${i},` +
          `"constructor":{"prototype":{"polluted":"yes"}}}`,
      ),
  },
  {
    kind: 'valid-deep-extra',
    valid: true,
    weight: 2,
    make: (i, rng) => text(`{"id":"f${i}","seq":${i},"deep":${nested(depth(i, rng))}}`),
  },
  {
    kind: 'valid-huge-extra',
    valid: true,
    weight: 1,
    make: (i, rng) => text(`{"id":"f${i}","seq":${i},"note":"${bigString(rng, 100_000, 400_000)}"}`),
  },
  {
    kind: 'valid-odd-forms',
    valid: true,
    weight: 5,
    make: (i, rng) =>
      text(
        rng.pick([
          `\n\t {"id" : "f${i}" ,\r\n "seq": ${i}.0 }  `,
          `{"id":"wrong","seq":-1,"id":"f${i}","seq":${i}e0}`,
          `{"seq":${i}E+0,"id":"\\u0066${i}","tags":[]}`,
        ]),
      ),
  },
  { kind: 'random-bytes', valid: false, weight: 12, make: (_i, rng) => rng.bytes(rng.int(300)) },
  { kind: 'empty', valid: false, weight: 3, make: () => Buffer.alloc(0) },
  { kind: 'tombstone', valid: false, weight: 3, make: () => null },
  {
    kind: 'invalid-utf8',
    valid: false,
    weight: 8,
    make: (i, rng) =>
      Buffer.concat([text(`{"id":"f${i}","seq":${i},"note":"a`), Buffer.from(rng.pick(BAD_UTF8)), text('b"}')]),
  },
  { kind: 'deep-top', valid: false, weight: 2, make: (i, rng) => text(nested(depth(i, rng))) },
  { kind: 'deep-unclosed', valid: false, weight: 2, make: (i, rng) => text('['.repeat(depth(i, rng))) },
  {
    kind: 'deep-object',
    valid: false,
    weight: 2,
    make: (i, rng) => {
      const d = depth(i, rng);
      return text(`${'{"a":'.repeat(d)}1${'}'.repeat(d)}`);
    },
  },
  {
    kind: 'deep-in-checked-field',
    valid: false,
    weight: 2,
    make: (i, rng) => text(`{"id":"f${i}","seq":${i},"tags":${nested(depth(i, rng))}}`),
  },
  {
    kind: 'proto-carrier',
    valid: false,
    weight: 5,
    make: (i) => text(`{"__proto__":{"id":"f${i}","seq":${i}}}`),
  },
  {
    kind: 'wrong-types',
    valid: false,
    weight: 8,
    make: (i, rng) =>
      text(
        rng.pick([
          `{"id":${i},"seq":${i}}`,
          `{"id":"f${i}","seq":"${i}"}`,
          `{"id":"f${i}"}`,
          `{"id":"f${i}","seq":${i}.5}`,
          `{"id":"g${i}","seq":${i}}`,
          `{"id":"f${i}","seq":${i},"tags":[1]}`,
          'null',
          '[]',
          `"f${i}"`,
          `${i}`,
          'true',
          '{}',
          `{"id":"f${i}","seq":1e400}`,
        ]),
      ),
  },
  {
    kind: 'huge-invalid-id',
    valid: false,
    weight: 1,
    make: (i, rng) => text(`{"id":"${bigString(rng, 100_000, 400_000)}","seq":${i}}`),
  },
  {
    kind: 'malformed',
    valid: false,
    weight: 10,
    make: (i, rng) =>
      text(
        rng.pick([
          `{"id":"f${i}","seq":${i}`,
          `{"id":"f${i}","seq":${i},}`,
          `{"id":"f${i}","seq":NaN}`,
          `{'id':'f${i}','seq':${i}}`,
          `{"id":"f${i}",/* c */"seq":${i}}`,
          `{"id":"f${i}","seq":${i}}garbage`,
          `{"id":"f${i}","seq":${i}}{"id":"f${i}","seq":${i}}`,
          `{"id":"f${i}\u0001","seq":${i}}`,
          `\u00a0{"id":"f${i}","seq":${i}}`,
        ]),
      ),
  },
  {
    kind: 'over-1-mib',
    valid: false,
    weight: 0.05,
    make: (i) => text(`{"id":"f${i}","seq":${i},"note":"${'y'.repeat(MIB + 1000)}"}`),
  },
];

const TOTAL_WEIGHT = MAKERS.reduce((sum, m) => sum + m.weight, 0);

function pickMaker(rng: Random): Maker {
  let roll = rng.next() * TOTAL_WEIGHT;
  for (const maker of MAKERS) {
    roll -= maker.weight;
    if (roll < 0) return maker;
  }
  return MAKERS[0] as Maker;
}

function key(i: number, rng: Random): Buffer | string | null {
  const roll = rng.int(10);
  if (roll < 3) return null;
  if (roll < 6) return rng.bytes(rng.int(64));
  return `k${i % 50}`;
}

/** Random headers beside `fuzz-id`: binary (often not UTF-8) or empty values, never a name the engine writes. */
function headers(i: number, rng: Random): Record<string, Buffer | string> {
  const result: Record<string, Buffer | string> = { 'fuzz-id': String(i) };
  if (rng.chance(0.2)) {
    for (let k = rng.int(4); k >= 0; k--) result[`fuzz-h${k}`] = rng.chance(0.3) ? '' : rng.bytes(rng.int(50));
  }
  return result;
}

export function fuzzPayloads(count: number, rng: Random): FuzzPayload[] {
  return Array.from({ length: count }, (_, index) => {
    const maker = pickMaker(rng);
    return {
      index,
      kind: maker.kind,
      valid: maker.valid,
      value: maker.make(index, rng),
      key: key(index, rng),
      headers: headers(index, rng),
    };
  });
}
