/**
 * Summarises a V8 CPU profile (`node --cpu-prof`): self time by area (engine, operators, rxjs, kafkajs, node, GC …)
 * and the hottest functions. `npx tsx bench/profileSummary.ts <file.cpuprofile> [top]`; `npm run bench -- --profile`
 * writes one profile per variant and prints these summaries.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

function frameName({ functionName, url, lineNumber }: CallFrame): string {
  return `${functionName || '(anonymous)'} ${url ? `${shortUrl(url)}:${lineNumber + 1}` : ''}`.trim();
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  totalMs: number;
  areas: { area: string; ms: number; share: number }[];
  functions: { name: string; area: string; ms: number; share: number }[];
  /** Tributary's own functions (src/, operators/) by inclusive time: themselves plus everything they call. */
  tributaryInclusive: { name: string; ms: number; share: number }[];
}

/** Which part of the stack a frame belongs to. */
export function areaOf(frame: CallFrame): string {
  const { url, functionName } = frame;
  if (url === '') {
    if (functionName === '(garbage collector)') return 'GC';
    if (functionName === '(idle)') return 'idle';
    if (functionName === '(program)') return 'program (native/V8)';
    return 'native';
  }
  if (url.includes('/node_modules/kafkajs/')) return 'kafkajs';
  if (url.includes('/node_modules/rxjs/')) return 'rxjs';
  if (url.includes('/node_modules/pino') || url.includes('/node_modules/sonic-boom')) return 'pino';
  if (url.includes('/node_modules/zod/')) return 'zod';
  if (url.includes('/node_modules/')) return 'other packages';
  if (url.startsWith('node:')) return 'node internals';
  if (url.includes('/src/')) return 'tributary src/';
  if (url.includes('/operators/')) return 'tributary operators/';
  if (url.includes('/bench/')) return 'bench';
  return 'other';
}

function shortUrl(url: string): string {
  const i = url.lastIndexOf('/node_modules/');
  if (i >= 0) return url.slice(i + '/node_modules/'.length);
  const parts = url.split('/');
  return parts.slice(-2).join('/');
}

export function summarize(file: string, top = 25): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => {
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  const areas = new Map<string, number>();
  const functions = new Map<string, { area: string; us: number }>();
  let totalUs = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node) continue;
    const area = areaOf(node.callFrame);
    if (area === 'idle') continue;
    totalUs += us;
    areas.set(area, (areas.get(area) ?? 0) + us);
    const name = frameName(node.callFrame);
    const entry = functions.get(name) ?? { area, us: 0 };
    entry.us += us;
    functions.set(name, entry);
  }
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const child of n.children ?? []) parent.set(child, n.id);
  const inclusive = new Map<string, number>();
  profile.samples.forEach((leaf, i) => {
    const delta = profile.timeDeltas[i] ?? 0;
    const leafNode = byId.get(leaf);
    if (!leafNode || areaOf(leafNode.callFrame) === 'idle') return;
    const seen = new Set<string>();
    for (let id: number | undefined = leaf; id !== undefined; id = parent.get(id)) {
      const frame = byId.get(id)?.callFrame;
      if (!frame) break;
      const area = areaOf(frame);
      if (area !== 'tributary src/' && area !== 'tributary operators/') continue;
      const name = frameName(frame);
      if (seen.has(name)) continue;
      seen.add(name);
      inclusive.set(name, (inclusive.get(name) ?? 0) + delta);
    }
  });
  const share = (us: number) => (totalUs === 0 ? 0 : us / totalUs);
  return {
    totalMs: totalUs / 1000,
    areas: [...areas].sort((a, b) => b[1] - a[1]).map(([area, us]) => ({ area, ms: us / 1000, share: share(us) })),
    functions: [...functions]
      .sort((a, b) => b[1].us - a[1].us)
      .slice(0, top)
      .map(([name, { area, us }]) => ({ name, area, ms: us / 1000, share: share(us) })),
    tributaryInclusive: [...inclusive]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, us]) => ({ name, ms: us / 1000, share: share(us) })),
  };
}

export function formatSummary(title: string, summary: ProfileSummary): string {
  const pct = (s: number) => `${(s * 100).toFixed(1)}%`;
  const lines = [`### ${title} — ${(summary.totalMs / 1000).toFixed(1)} s of CPU samples (idle excluded)`, ''];
  lines.push('| area | self ms | share |', '|---|---:|---:|');
  for (const a of summary.areas) lines.push(`| ${a.area} | ${a.ms.toFixed(0)} | ${pct(a.share)} |`);
  lines.push('', '| hottest functions (self time) | area | self ms | share |', '|---|---|---:|---:|');
  for (const f of summary.functions) lines.push(`| \`${f.name}\` | ${f.area} | ${f.ms.toFixed(0)} | ${pct(f.share)} |`);
  if (summary.tributaryInclusive.length > 0) {
    lines.push('', '| Tributary functions (inclusive time) | ms | share |', '|---|---:|---:|');
    for (const f of summary.tributaryInclusive) lines.push(`| \`${f.name}\` | ${f.ms.toFixed(0)} | ${pct(f.share)} |`);
  }
  return lines.join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const file = process.argv[2];
  if (!file) {
    console.error('usage: npx tsx bench/profileSummary.ts <file.cpuprofile> [top]');
    process.exit(2);
  }
  console.log(formatSummary(file, summarize(file, Number(process.argv[3] ?? 25))));
}
