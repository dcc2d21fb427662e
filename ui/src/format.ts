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
