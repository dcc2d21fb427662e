// Small display helpers shared by the views.

export function bytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(1)} ${units[i]}`;
}

export function shape(s: (number | string | null)[] | null): string {
  if (s === null) return "rank unknown";
  return `[${s.map((d) => (d === null ? "?" : String(d))).join(", ")}]`;
}

export function count(n: number): string {
  return n.toLocaleString("en-US");
}

/** Milliseconds with sensible precision: 0.0123 ms, 1.23 ms, 123 ms. */
export function ms(v: number): string {
  if (!Number.isFinite(v)) return "—";
  if (v < 0.1) return `${v.toFixed(4)} ms`;
  if (v < 10) return `${v.toFixed(3)} ms`;
  return `${v.toFixed(1)} ms`;
}

/** Microseconds as µs or ms. */
export function us(v: number): string {
  return v >= 1000 ? `${(v / 1000).toFixed(2)} ms` : `${v.toFixed(1)} µs`;
}

/** A measured difference: 4 significant digits in the usual range, else scientific. */
export function sig(v: number): string {
  return v === 0 ? "0" : Math.abs(v) >= 1e-3 && Math.abs(v) < 1e4 ? v.toPrecision(4) : v.toExponential(2);
}
