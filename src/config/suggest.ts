// The closest of a set of names to a mistyped one, for "did you mean ...?" (ASCII names).

/** Levenshtein distance between `a` and `b`, ignoring case. */
export function editDistance(a: string, b: string): number {
  const left = a.toLowerCase();
  const right = b.toLowerCase();
  let previous: number[] = [];
  for (let j = 0; j <= right.length; j++) {
    previous.push(j);
  }
  for (let i = 1; i <= left.length; i++) {
    const current: number[] = [i];
    for (let j = 1; j <= right.length; j++) {
      const substitution = previous[j - 1] + (left.charCodeAt(i - 1) === right.charCodeAt(j - 1) ? 0 : 1);
      current.push(Math.min(previous[j] + 1, current[j - 1] + 1, substitution));
    }
    previous = current;
  }
  return previous[right.length];
}

/**
 * How far `candidate` is from `name`: a name that contains the other (a word left out or added,
 * PUSHGATE_WORKER for PUSHGATE_WORKERS) comes before any other, nearest length first; then the
 * edit distance decides.
 */
function remoteness(name: string, candidate: string): number {
  const a = name.toLowerCase();
  const b = candidate.toLowerCase();
  if (a.includes(b) || b.includes(a)) {
    return Math.abs(a.length - b.length) - 1000;
  }
  return editDistance(a, b);
}

/** The name in `names` closest to `name` (the first of equals); undefined when `names` is empty. */
export function closest(name: string, names: string[]): string | undefined {
  let best: string | undefined;
  let bestScore = 0;
  for (const candidate of names) {
    const score = remoteness(name, candidate);
    if (best === undefined || score < bestScore) {
      best = candidate;
      bestScore = score;
    }
  }
  return best;
}
