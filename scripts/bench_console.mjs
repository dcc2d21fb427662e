// `make bench-console`: the console's start-up, from launching the release build to its
// first meaningful paint, and its 100,000-sample latency chart, measured in the real
// webview (the front end reports both through the start-up probe; see commands/probe.rs).
//
// usage: node scripts/bench_console.mjs [runs]   (needs a display; the Makefile uses Xvfb)
import { spawn } from "node:child_process";
import { resolve } from "node:path";
import { cpus } from "node:os";

const root = resolve(import.meta.dirname, "..");
const APP = process.env.APP ?? resolve(root, "target/release/assay-console");
const runs = Number(process.argv[2] ?? 7);

function once() {
  return new Promise((ok, fail) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(APP, [], { env: { ...process.env, ASSAY_CONSOLE_STARTUP_PROBE: "1" }, stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    let paint = null;
    const timer = setTimeout(() => (child.kill(), fail(new Error("no first paint within 30 s"))), 30000);
    child.stdout.on("data", (d) => {
      out += d;
      if (paint === null && out.includes("first paint")) paint = Number(process.hrtime.bigint() - t0) / 1e6;
    });
    child.on("exit", () => {
      clearTimeout(timer);
      const m = out.match(/probe (\{.*\})/);
      if (paint === null || !m) return fail(new Error(`the probe did not report: ${out}`));
      ok({ paint, chart: JSON.parse(m[1]).chart_100k_ms });
    });
  });
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
// The first launch fills the page cache; it is reported, not counted.
const cold = await once();
const results = [];
for (let i = 0; i < runs; i++) results.push(await once());
const paints = results.map((r) => r.paint);
const charts = results.flatMap((r) => r.chart);
console.log(`machine: ${cpus()[0]?.model ?? "?"}, ${cpus().length} logical CPUs; ${APP}`);
console.log(`start-up to first paint: median ${median(paints).toFixed(0)} ms, max ${Math.max(...paints).toFixed(0)} ms over ${runs} launches (first launch ${cold.paint.toFixed(0)} ms)  [target < 1500 ms]`);
console.log(`100,000-sample latency chart: median ${median(charts).toFixed(1)} ms, max ${Math.max(...charts).toFixed(1)} ms over ${charts.length} renders  [target < 100 ms]`);
