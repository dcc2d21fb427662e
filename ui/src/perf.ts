// Measurements the end-to-end run and the benchmarks read through WebDriver:
// - the longest main-thread stall, from a 10 ms heartbeat (WebKitGTK has no Long Tasks API);
// - the time to render a latency chart of N samples.
import uPlot from "uplot";
import { chartOptions } from "./charts/LineChart";

const stalls = { max: 0, count: 0, since: performance.now(), top: [] as { at: number; ms: number }[] };

export function startStallMonitor() {
  let last = performance.now();
  setInterval(() => {
    const now = performance.now();
    // The heartbeat is due every 10 ms; anything beyond that was a task blocking the thread.
    const stall = now - last - 10;
    if (stall > stalls.max) stalls.max = stall;
    if (stall > 50) stalls.count++;
    if (stall > 20) {
      stalls.top.push({ at: Math.round(now - stalls.since), ms: Math.round(stall) });
      stalls.top.sort((a, b) => b.ms - a.ms).splice(5);
    }
    last = now;
  }, 10);
}

export function resetStalls() {
  stalls.max = 0;
  stalls.count = 0;
  stalls.since = performance.now();
  stalls.top = [];
}

/** Renders a latency chart of `n` synthetic samples off screen: milliseconds from creating
 * the chart to the end of its first draw (uPlot draws in a microtask after creation). */
export async function chartBenchmark(n: number): Promise<number> {
  // Typed arrays, as the Benchmark view passes samples: uPlot scans them without boxing.
  const x = new Float64Array(n);
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    x[i] = i;
    y[i] = 1 + Math.abs(Math.sin(i * 0.37)) + (i % 97 === 0 ? 3 : 0);
  }
  const host = document.createElement("div");
  host.style.cssText = "position:absolute;left:-10000px;width:900px";
  document.body.appendChild(host);
  let drawn = 0;
  const opts = chartOptions({ title: "bench", xLabel: "inference", yLabel: "ms", x: [], series: [{ label: "latency", values: [] }] }, 900);
  opts.hooks = { draw: [() => (drawn = performance.now())] };
  const t = performance.now();
  const plot = new uPlot(opts, [x, y] as unknown as uPlot.AlignedData, host);
  while (!drawn) await new Promise((r) => setTimeout(r, 0));
  const elapsed = drawn - t;
  plot.destroy();
  host.remove();
  return elapsed;
}

declare global {
  interface Window {
    assayPerf: { stalls: typeof stalls; resetStalls: typeof resetStalls; chartBenchmark: typeof chartBenchmark; firstPaintMs?: number };
  }
}

window.assayPerf = { stalls, resetStalls, chartBenchmark };
