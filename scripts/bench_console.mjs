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
      const f = JSON.parse(m[1]);
      ok({ paint, chart: f.chart_100k_ms, small: f.first_chart_100_points_ms });
    });
  });
}

const quantile = (xs, q) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))];
const median = (xs) => quantile(xs, 0.5);
// The first launch fills the page cache; it is reported, not counted.
const cold = await once();
const results = [];
for (let i = 0; i < runs; i++) results.push(await once());
const paints = results.map((r) => r.paint);
const charts = results.flatMap((r) => r.chart);
console.log(`machine: ${cpus()[0]?.model ?? "?"}, ${cpus().length} logical CPUs; ${APP}`);
console.log(`start-up to first paint: median ${median(paints).toFixed(0)} ms, max ${Math.max(...paints).toFixed(0)} ms over ${runs} launches (first launch ${cold.paint.toFixed(0)} ms)  [target < 1500 ms]`);
// Each launch first draws a 100-point chart (what any first chart costs: canvas, fonts, cold
// code), then the 100,000-sample chart seven times; the first of those runs still half-cold.
const firsts = results.map((r) => r.chart[0]);
const smalls = results.map((r) => r.small);
console.log(`100,000-sample latency chart: median ${median(charts).toFixed(1)} ms, p90 ${quantile(charts, 0.9).toFixed(1)} ms over ${charts.length} renders  [target < 100 ms]`);
console.log(`  the first 100,000-sample chart of a launch: median ${median(firsts).toFixed(1)} ms; the 100-point chart before it (first chart of the launch): median ${median(smalls).toFixed(1)} ms`);
