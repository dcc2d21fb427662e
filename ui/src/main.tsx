import { render } from "preact";
import { App } from "./App";
import { startStallMonitor } from "./perf";
import "./style.css";

startStallMonitor();
render(<App />, document.getElementById("app")!);
// The first meaningful paint: the frame after the first render.
requestAnimationFrame(() => {
  window.assayPerf.firstPaintMs = performance.now();
});
