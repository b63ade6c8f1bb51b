// A line diff (longest common subsequence) of two texts, for showing an
// edited configuration against the current one before it is applied.
// Returns [{op: ' '|'-'|'+', text, a, b}] with 1-based line numbers in the
// old (a) and new (b) text. Configuration files are small; beyond
// MAX_CELLS of table the middle is shown as a whole replacement.

const MAX_CELLS = 4_000_000;

export function diffLines(oldText, newText) {
  const a = oldText.split('\n');
  const b = newText.split('\n');
  // Common head and tail first: most edits touch a few lines.
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head++;
  let tail = 0;
  while (tail < a.length - head && tail < b.length - head && a[a.length - 1 - tail] === b[b.length - 1 - tail]) tail++;
  const am = a.slice(head, a.length - tail);
  const bm = b.slice(head, b.length - tail);
  const out = [];
  for (let i = 0; i < head; i++) out.push({ op: ' ', text: a[i], a: i + 1, b: i + 1 });
  if (am.length * bm.length > MAX_CELLS) {
    am.forEach((t, i) => out.push({ op: '-', text: t, a: head + i + 1 }));
    bm.forEach((t, i) => out.push({ op: '+', text: t, b: head + i + 1 }));
  } else {
    const n = am.length;
    const m = bm.length;
    const lcs = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
    for (let i = n - 1; i >= 0; i--) {
      for (let j = m - 1; j >= 0; j--) {
        lcs[i][j] = am[i] === bm[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
      }
    }
    let i = 0;
    let j = 0;
    while (i < n || j < m) {
      if (i < n && j < m && am[i] === bm[j]) {
        out.push({ op: ' ', text: am[i], a: head + i + 1, b: head + j + 1 });
        i++;
        j++;
      } else if (j < m && (i === n || lcs[i][j + 1] >= lcs[i + 1][j])) {
        out.push({ op: '+', text: bm[j], b: head + j + 1 });
        j++;
      } else {
        out.push({ op: '-', text: am[i], a: head + i + 1 });
        i++;
      }
    }
  }
  for (let k = 0; k < tail; k++) {
    out.push({ op: ' ', text: a[a.length - tail + k], a: a.length - tail + k + 1, b: b.length - tail + k + 1 });
  }
  return out;
}

// Only the changed lines with `context` unchanged lines around them; a gap
// becomes {op: '…'}.
export function withContext(lines, context = 3) {
  const keep = lines.map(() => false);
  lines.forEach((l, i) => {
    if (l.op === ' ') return;
    for (let k = Math.max(0, i - context); k <= Math.min(lines.length - 1, i + context); k++) keep[k] = true;
  });
  const out = [];
  lines.forEach((l, i) => {
    if (keep[i]) out.push(l);
    else if (out.length === 0 || out[out.length - 1].op !== '…') out.push({ op: '…', text: '' });
  });
  return out;
}
