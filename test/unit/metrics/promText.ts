/** Reads values back out of Prometheus text exposition, for assertions. */

export interface Series {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

export function parseSeries(text: string): Series[] {
  const series: Series[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = LINE.exec(line);
    if (!match) throw new Error(`unexpected exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? '').matchAll(LABEL)) labels[key!] = value!;
    series.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return series;
}

/** The value of the one series named `name` whose labels include `labels`; throws unless exactly one matches. */
export function sampleValue(text: string, name: string, labels: Record<string, string> = {}): number {
  const matches = parseSeries(text).filter(
    (s) => s.name === name && Object.entries(labels).every(([key, value]) => s.labels[key] === value),
  );
  if (matches.length !== 1) throw new Error(`${matches.length} series match ${name} ${JSON.stringify(labels)}`);
  return matches[0]!.value;
}

/** Every series named `name`. */
export function seriesOf(text: string, name: string): Series[] {
  return parseSeries(text).filter((s) => s.name === name);
}
