/**
 * A line diff for the config editor ("what would change"): the common
 * beginning and end are set aside, the middle is matched by longest common
 * subsequence. Config edits are small, so the middle is too; a middle
 * larger than {@link MAX_MIDDLE_CELLS} is shown as removed and added whole
 * rather than spending the browser's time on it.
 */

/** One line of a diff. */
export interface DiffLine {
  kind: "same" | "add" | "del";
  text: string;
  /** 1-based line in the old text (null for an added line). */
  oldLine: number | null;
  /** 1-based line in the new text (null for a removed line). */
  newLine: number | null;
}

/** A run of changes with the unchanged lines around it. */
export interface DiffHunk {
  lines: DiffLine[];
}

/** Largest LCS table (old middle lines × new middle lines). */
export const MAX_MIDDLE_CELLS = 4_000_000;

/** Every line of both texts, in order, marked same, removed or added. */
export function diffLines(before: string, after: string): DiffLine[] {
  const a = before.split("\n");
  const b = after.split("\n");
  let start = 0;
  while (start < a.length && start < b.length && a[start] === b[start]) start++;
  let endA = a.length;
  let endB = b.length;
  while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) {
    endA--;
    endB--;
  }
  const out: DiffLine[] = [];
  for (let i = 0; i < start; i++) out.push({ kind: "same", text: a[i], oldLine: i + 1, newLine: i + 1 });
  out.push(...middle(a, b, start, endA, endB));
  for (let i = endA, j = endB; i < a.length; i++, j++) out.push({ kind: "same", text: a[i], oldLine: i + 1, newLine: j + 1 });
  return out;
}

/** The changed middle: LCS when small enough, else all removed then all added. */
function middle(a: string[], b: string[], start: number, endA: number, endB: number): DiffLine[] {
  const n = endA - start;
  const m = endB - start;
  const out: DiffLine[] = [];
  const del = (i: number) => out.push({ kind: "del", text: a[i], oldLine: i + 1, newLine: null });
  const add = (j: number) => out.push({ kind: "add", text: b[j], oldLine: null, newLine: j + 1 });
  if (n * m > MAX_MIDDLE_CELLS) {
    for (let i = start; i < endA; i++) del(i);
    for (let j = start; j < endB; j++) add(j);
    return out;
  }
  // lengths[i][j]: LCS length of a[start+i..endA) and b[start+j..endB), in one flat array.
  const width = m + 1;
  const lengths = new Uint32Array((n + 1) * width);
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lengths[i * width + j] = a[start + i] === b[start + j]
        ? lengths[(i + 1) * width + j + 1] + 1
        : Math.max(lengths[(i + 1) * width + j], lengths[i * width + j + 1]);
    }
  }
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[start + i] === b[start + j]) {
      out.push({ kind: "same", text: a[start + i], oldLine: start + i + 1, newLine: start + j + 1 });
      i++;
      j++;
    } else if (i < n && (j === m || lengths[(i + 1) * width + j] >= lengths[i * width + j + 1])) {
      del(start + i++);
    } else {
      add(start + j++);
    }
  }
  return out;
}

/** The changes with `context` unchanged lines around each (hunks that would touch are joined); empty when the texts are equal. */
export function diffHunks(before: string, after: string, context = 3): DiffHunk[] {
  const lines = diffLines(before, after);
  const hunks: DiffHunk[] = [];
  let from = -1;
  let to = -1;
  lines.forEach((line, index) => {
    if (line.kind === "same") return;
    const start = Math.max(0, index - context);
    if (from < 0 || start > to) {
      if (from >= 0) hunks.push({ lines: lines.slice(from, to) });
      from = start;
    }
    to = Math.min(lines.length, index + context + 1);
  });
  if (from >= 0) hunks.push({ lines: lines.slice(from, to) });
  return hunks;
}
