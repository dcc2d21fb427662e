import "./locale";
import { render } from "preact";
import { App } from "./App";
import { startStallMonitor } from "./perf";
import "./style.css";

// Never a blank window: an error that escapes every view is shown as a sentence.
function fatal(message: string, detail: string) {
  const box = document.createElement("div");
  box.className = "error fatal";
  box.setAttribute("role", "alert");
  box.innerHTML = "<p></p><pre></pre>";
  box.querySelector("p")!.textContent = `The console hit an unexpected error: ${message}`;
  box.querySelector("pre")!.textContent = detail;
  document.body.prepend(box);
}
window.addEventListener("error", (e) => fatal(e.message, String(e.error?.stack ?? "")));
window.addEventListener("unhandledrejection", (e) => fatal(String(e.reason?.message ?? e.reason), String(e.reason?.stack ?? "")));

startStallMonitor();
render(<App />, document.getElementById("app")!);
// The first meaningful paint: the frame after the first render.
requestAnimationFrame(() => {
  window.assayPerf.firstPaintMs = performance.now();
});
