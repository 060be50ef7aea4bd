/** Renders zod issues as one readable line: `path: message; path: message`. */
import type * as z from 'zod';

/** `items[0].name`, or `(root)` for an issue about the value itself. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (typeof segment === 'symbol') out += `[${segment.toString()}]`;
    else out += out === '' ? segment : `.${segment}`;
  }
  return out === '' ? '(root)' : out;
}

/** `path: message; ...`, cut to `maxLength` characters (the last one an ellipsis) when longer. */
export function formatIssues(issues: readonly z.core.$ZodIssue[], maxLength = Number.POSITIVE_INFINITY): string {
  const text = issues.map((issue) => `${formatPath(issue.path)}: ${issue.message}`).join('; ');
  return truncate(text, maxLength);
}

export function truncate(text: string, maxLength: number): string {
  if (text.length <= maxLength) return text;
  return `${text.slice(0, Math.max(0, maxLength - 1))}…`;
}
