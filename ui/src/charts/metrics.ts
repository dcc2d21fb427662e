// Turns two scrapes of a gateway's /metrics into rates and latency quantiles per version.
import type { MetricSample } from "../api";

export interface VersionPoint {
  /** Requests per second (successes and failures). */
  rate: number;
  errorsPerS: number;
  p50Ms: number | null;
  p99Ms: number | null;
}

const key = (s: MetricSample) => `${s.labels.model ?? ""}@${s.labels.version ?? ""}`;

function sums(samples: MetricSample[], name: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const s of samples) if (s.name === name) m.set(key(s), (m.get(key(s)) ?? 0) + s.value);
  return m;
}

function buckets(samples: MetricSample[]): Map<string, Map<number, number>> {
  const m = new Map<string, Map<number, number>>();
  for (const s of samples) {
    if (s.name !== "assay_request_duration_seconds_bucket") continue;
    const le = s.labels.le === "+Inf" ? Infinity : Number(s.labels.le);
    const b = m.get(key(s)) ?? new Map<number, number>();
    b.set(le, (b.get(le) ?? 0) + s.value);
    m.set(key(s), b);
  }
  return m;
}

/** The quantile q of a cumulative histogram, interpolated within its bucket (as PromQL does). */
export function quantile(cumulative: [number, number][], q: number): number | null {
  const sorted = [...cumulative].sort((a, b) => a[0] - b[0]);
  const total = sorted.length ? sorted[sorted.length - 1][1] : 0;
  if (total <= 0) return null;
  const rank = q * total;
  let prevLe = 0;
  let prevCount = 0;
  for (const [le, count] of sorted) {
    if (count >= rank) {
      if (!Number.isFinite(le)) return prevLe;
      const inBucket = count - prevCount;
      return inBucket > 0 ? prevLe + ((le - prevLe) * (rank - prevCount)) / inBucket : le;
    }
    prevLe = le;
    prevCount = count;
  }
  return prevLe;
}

/** Per `model@version`: what happened between scrape `a` and scrape `b`, `dt` seconds apart. */
export function between(a: MetricSample[], b: MetricSample[], dt: number): Map<string, VersionPoint> {
  const out = new Map<string, VersionPoint>();
  const [okA, okB] = [sums(a, "assay_request_success_total"), sums(b, "assay_request_success_total")];
  const [badA, badB] = [sums(a, "assay_request_failure_total"), sums(b, "assay_request_failure_total")];
  const [hA, hB] = [buckets(a), buckets(b)];
  const versions = new Set([...okB.keys(), ...badB.keys()]);
  for (const v of versions) {
    // A counter that went down means the gateway restarted: count from zero.
    const d = (x: Map<string, number>, y: Map<string, number>) => {
      const diff = (y.get(v) ?? 0) - (x.get(v) ?? 0);
      return diff < 0 ? (y.get(v) ?? 0) : diff;
    };
    const ok = d(okA, okB);
    const bad = d(badA, badB);
    const hb = hB.get(v) ?? new Map();
    const ha = hA.get(v) ?? new Map();
    const delta: [number, number][] = [...hb.entries()].map(([le, c]) => [le, Math.max(0, c - (ha.get(le) ?? 0))]);
    const p50 = quantile(delta, 0.5);
    const p99 = quantile(delta, 0.99);
    out.set(v, {
      rate: (ok + bad) / dt,
      errorsPerS: bad / dt,
      p50Ms: p50 === null ? null : p50 * 1000,
      p99Ms: p99 === null ? null : p99 * 1000,
    });
  }
  return out;
}
