// The distribution of one output's absolute errors: a column per decade of error,
// the exact matches as their own column, and the tolerance as a line, so "how many elements
// are how far off" reads at a glance.
import type { ErrorBin } from "../api";

export interface ErrorHistogramProps {
  bins: ErrorBin[];
  /** Elements with no error at all (not in any bin: a log scale has no zero). */
  exact: number;
  /** The absolute tolerance, drawn as a line where it falls among the bins. */
  atol: number;
  label: string;
}

const W = 560, H = 150, PAD = 24;

/** The engine sends only the decades that hold errors; the axis needs every decade between
 * the first and the last of them, empty ones included. */
export function decades(bins: ErrorBin[]): ErrorBin[] {
  if (bins.length === 0) return [];
  const lo = Math.round(Math.log10(bins[0].from));
  const hi = Math.round(Math.log10(bins[bins.length - 1].from));
  const out: ErrorBin[] = [];
  for (let k = lo; k <= hi; k++) {
    const found = bins.find((b) => Math.round(Math.log10(b.from)) === k);
    out.push(found ?? { from: 10 ** k, to: 10 ** (k + 1), count: 0 });
  }
  return out;
}

/** An axis label: a power of ten. */
function decade(v: number): string {
  return v === 0 ? "0" : v.toExponential(0);
}

export function ErrorHistogram({ bins, exact, atol, label }: ErrorHistogramProps) {
  const cols = [{ from: 0, to: 0, count: exact }, ...decades(bins)];
  const max = Math.max(1, ...cols.map((c) => c.count));
  const w = (W - 2 * PAD) / cols.length;
  // The tolerance line sits where atol falls on the log axis: inside the column of its
  // decade, a fraction log10(atol / from) of the way across.
  const at = cols.findIndex((c, i) => i > 0 && c.from <= atol && atol < c.to);
  const cut = at > 0 ? at + Math.log10(atol / cols[at].from) : cols.findIndex((c, i) => i > 0 && c.from >= atol);
  return (
    <figure class="error-histogram" data-testid="error-histogram">
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={`${label}: absolute error distribution`}>
        {cols.map((c, i) => {
          const h = ((H - 2 * PAD) * c.count) / max;
          // A column wholly above atol is outside it (for the elementwise absolute part).
          const outside = i > 0 && c.from >= atol;
          return (
            <rect
              key={i}
              x={PAD + i * w + 1}
              y={H - PAD - h}
              width={Math.max(1, w - 2)}
              height={h}
              class={i === 0 ? "exact" : outside ? "outside" : "inside"}
            >
              <title>{i === 0 ? `${c.count} exact` : `${c.count} with error in [${decade(c.from)}, ${decade(c.to)})`}</title>
            </rect>
          );
        })}
        {cut > 0 && <line x1={PAD + cut * w} x2={PAD + cut * w} y1={PAD / 2} y2={H - PAD} class="tolerance" />}
        {cols.map((c, i) => (
          <text key={i} x={PAD + (i + 0.5) * w} y={H - 8} text-anchor="middle">
            {i === 0 ? "exact" : cols.length <= 14 || i % 2 === 1 ? `≥${decade(c.from)}` : ""}
          </text>
        ))}
        {cut > 0 && <text x={PAD + cut * w + 3} y={PAD} class="tolerance">atol {decade(atol)}</text>}
      </svg>
      <figcaption class="muted">{label}: elements by absolute error (one column per decade); red columns lie wholly beyond the absolute tolerance (the verdict also weighs rtol)</figcaption>
    </figure>
  );
}
