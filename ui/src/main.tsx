import "./locale";
import { render } from "preact";
import { invoke } from "@tauri-apps/api/core";
import { App } from "./App";
import { isBenign } from "./errors";
import { chartBenchmark, startStallMonitor } from "./perf";
import "./style.css";

// Never a blank window: an error that escapes every view is shown as a sentence, in one
// banner that can be dismissed.
function fatal(message: string, detail: string) {
  let box = document.querySelector<HTMLDivElement>(".fatal");
  if (!box) {
    box = document.createElement("div");
    box.className = "error fatal";
    box.setAttribute("role", "alert");
    box.innerHTML = "<p></p><pre></pre><button type=button>Dismiss</button>";
    box.querySelector("button")!.addEventListener("click", () => box!.remove());
    document.body.prepend(box);
  }
  box.querySelector("p")!.textContent = `The console hit an unexpected error: ${message}`;
  box.querySelector("pre")!.textContent = detail;
}
window.addEventListener("error", (e) => {
  if (isBenign(String(e.message))) {
    e.preventDefault();
    return;
  }
  fatal(e.message, String(e.error?.stack ?? ""));
});
window.addEventListener("unhandledrejection", (e) => fatal(String(e.reason?.message ?? e.reason), String(e.reason?.stack ?? "")));

startStallMonitor();
render(<App />, document.getElementById("app")!);
// The first meaningful paint: the frame after the first render.
requestAnimationFrame(() => {
  window.assayPerf.firstPaintMs = performance.now();
  invoke<boolean>("first_paint", { sinceNavigationMs: window.assayPerf.firstPaintMs }).then(async (probing) => {
    if (!probing) return;
    // `make bench-console`: time the 100,000-sample chart in this (release) build, then exit.
    // A 100-point chart first: the cost every first chart pays (canvas, fonts, cold code),
    // apart from the cost of 100,000 points.
    const first_chart_100_points_ms = await chartBenchmark(100);
    const chart = [];
    for (let i = 0; i < 7; i++) chart.push(await chartBenchmark(100_000));
    await invoke("probe_done", { figures: { chart_100k_ms: chart, first_chart_100_points_ms } });
  }, () => {});
});
