/**
 * Writes the option tables of docs/operators.md from the operators' zod schemas, so each option is described once —
 * in its schema (`.describe()`, or `.meta({ description, tsType })` for what zod cannot type) — and the reference
 * cannot drift from the runtime check. A table sits between
 *
 *   <!-- options: retryWithBackoff -->
 *   <!-- /options -->
 *
 * and is replaced wholesale. `npm run docs:operators` rewrites the file; `-- --check` only reports whether it is up to
 * date (exit 1 when not). test/unit/docs/operatorTables.test.ts fails when the committed file is out of date.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as z from 'zod';
import { awaitRetryDueOptionsSchema } from '../../operators/awaitRetryDue.js';
import { branchToDeadLetterOptionsSchema } from '../../operators/branchToDeadLetter.js';
import { dedupeOptionsSchema } from '../../operators/dedupe.js';
import { filterValueOptionsSchema } from '../../operators/filterValue.js';
import { TS_TYPE } from '../../operators/internal/options.js';
import { mapValueOptionsSchema } from '../../operators/mapValue.js';
import { memoryDedupeStoreOptionsSchema } from '../../operators/memoryDedupeStore.js';
import { parseOptionsSchema } from '../../operators/parse.js';
import { parseJsonOptionsSchema } from '../../operators/parseJson.js';
import { publishOptionsSchema } from '../../operators/publish.js';
import { redisDedupeStoreOptionsSchema } from '../../operators/redisDedupeStore.js';
import { retryTopicPipelinesOptionsSchema } from '../../operators/retryTopics/retryTopicPipelines.js';
import { retryViaTopicsOptionsSchema } from '../../operators/retryViaTopics.js';
import { retryWithBackoffOptionsSchema } from '../../operators/retryWithBackoff.js';
import { routeOptionsSchema } from '../../operators/route.js';
import { sinkOptionsSchema } from '../../operators/sink.js';
import { sinkBatchOptionsSchema } from '../../operators/sinkBatch.js';
import { tapValueOptionsSchema } from '../../operators/tapValue.js';
import { validateOptionsSchema } from '../../operators/validate.js';

/** Every documented options schema, by the name of the function it configures (its default stage name too). */
export const OPTION_SCHEMAS: Readonly<Record<string, z.ZodObject>> = {
  parseJson: parseJsonOptionsSchema,
  parse: parseOptionsSchema,
  validate: validateOptionsSchema,
  retryWithBackoff: retryWithBackoffOptionsSchema,
  sink: sinkOptionsSchema,
  sinkBatch: sinkBatchOptionsSchema,
  mapValue: mapValueOptionsSchema,
  filterValue: filterValueOptionsSchema,
  tapValue: tapValueOptionsSchema,
  publish: publishOptionsSchema,
  dedupe: dedupeOptionsSchema,
  memoryDedupeStore: memoryDedupeStoreOptionsSchema,
  redisDedupeStore: redisDedupeStoreOptionsSchema,
  branchToDeadLetter: branchToDeadLetterOptionsSchema,
  route: routeOptionsSchema,
  retryViaTopics: retryViaTopicsOptionsSchema,
  retryTopicPipelines: retryTopicPipelinesOptionsSchema,
  awaitRetryDue: awaitRetryDueOptionsSchema,
};

/** The piece of a JSON Schema this script reads. */
interface JsonSchema {
  type?: string | string[];
  enum?: unknown[];
  const?: unknown;
  anyOf?: JsonSchema[];
  items?: JsonSchema;
  minimum?: number;
  exclusiveMinimum?: number;
  description?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  [TS_TYPE]?: string;
}

const code = (text: string) => `\`${text}\``;

/** A field's type in TypeScript terms, with its lower bound when it has one (`integer ≥ 1`, `number > 0`). */
function typeText(schema: JsonSchema): string {
  const declared = schema[TS_TYPE];
  if (declared !== undefined) return declared;
  if (schema.anyOf) return schema.anyOf.map(typeText).join(' | ');
  // z.literal(Infinity): JSON has no Infinity, so zod writes the number's const as null
  if (schema.type === 'number' && schema.const === null) return 'Infinity';
  if (schema.enum) return schema.enum.map((value) => JSON.stringify(value).replaceAll('"', "'")).join(' | ');
  if (schema.type === 'array') {
    const item = schema.items === undefined ? 'unknown' : typeText(schema.items);
    return item.includes(' ') ? `(${item})[]` : `${item}[]`;
  }
  if (Array.isArray(schema.type)) return schema.type.join(' | ');
  const type = schema.type ?? 'unknown';
  if (schema.exclusiveMinimum !== undefined) return `${type} > ${schema.exclusiveMinimum}`;
  if (schema.minimum !== undefined) return `${type} ≥ ${schema.minimum}`;
  return type;
}

/** A Markdown table cell: one line, pipes escaped. */
const cell = (text: string) => text.replaceAll('|', '\\|').replaceAll('\n', ' ');

/** The option table of one schema. `name` rows say their default: the function's own name. */
export function optionTable(operator: string, schema: z.ZodObject): string {
  const json = z.toJSONSchema(schema, { unrepresentable: 'any', io: 'input' }) as JsonSchema;
  const required = new Set(json.required ?? []);
  const rows = Object.entries(json.properties ?? {}).map(([option, field]) => {
    let description = field.description ?? '';
    if (option === 'name') description += ` Default ${code(operator)}.`;
    if (required.has(option)) description = description.replace(/ Required\.$/, '');
    const label = required.has(option) ? `${code(option)} (required)` : code(option);
    return `| ${label} | ${cell(code(typeText(field)))} | ${cell(description)} |`;
  });
  return ['| option | type | description |', '| --- | --- | --- |', ...rows].join('\n');
}

const SECTION = /(<!-- options: ([A-Za-z]+) -->\n)[\s\S]*?(<!-- \/options -->)/g;

/** The names of the option tables `markdown` asks for, in order. */
export function tablesIn(markdown: string): string[] {
  return [...markdown.matchAll(SECTION)].map((match) => match[2] as string);
}

/** `markdown` with every option table rewritten from its schema. Throws on a table no schema answers for. */
export function renderOptionTables(markdown: string): string {
  return markdown.replace(SECTION, (_all, open: string, operator: string, close: string) => {
    const schema = OPTION_SCHEMAS[operator];
    if (schema === undefined) throw new Error(`docs: no options schema for "${operator}"`);
    return `${open}${optionTable(operator, schema)}\n${close}`;
  });
}

export const OPERATORS_DOC = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'docs', 'operators.md');

function main(argv: readonly string[]): number {
  const current = readFileSync(OPERATORS_DOC, 'utf8');
  const next = renderOptionTables(current);
  if (argv.includes('--check')) {
    if (next === current) return 0;
    process.stderr.write('docs/operators.md is out of date with the options schemas: run npm run docs:operators\n');
    return 1;
  }
  if (next !== current) writeFileSync(OPERATORS_DOC, next);
  process.stdout.write(
    `docs/operators.md: ${tablesIn(next).length} option tables ${next === current ? 'up to date' : 'written'}\n`,
  );
  return 0;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = main(process.argv.slice(2));
}
