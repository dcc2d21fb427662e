import { useEffect, useState } from "preact/hooks";
import { getCurrentWebview } from "@tauri-apps/api/webview";
import { ErrorBoundary } from "./ErrorBoundary";
import { ModelContext } from "./model";
import { savedTheme, applyTheme } from "./theme";
import { Benchmark } from "./views/Benchmark";
import { Gateways } from "./views/Gateways";
import { Models } from "./views/Models";
import { Profile } from "./views/Profile";
import { Releases } from "./views/Releases";
import { Runs } from "./views/Runs";
import { Settings } from "./views/Settings";

const VIEWS = {
  models: ["Models", Models],
  benchmark: ["Benchmark", Benchmark],
  profile: ["Profile", Profile],
  runs: ["Runs", Runs],
  releases: ["Releases", Releases],
  gateways: ["Gateways", Gateways],
  settings: ["Settings", Settings],
} as const;
type View = keyof typeof VIEWS;
const ORDER = Object.keys(VIEWS) as View[];

/** The console window: a navigation rail and the current view; Ctrl+1…7 switch views. */
export function App() {
  const [view, setView] = useState<View>("models");
  const [model, setModel] = useState<string | null>(null);
  const [dropped, setDropped] = useState<string | null>(null);

  useEffect(() => applyTheme(savedTheme()), []);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if ((e.ctrlKey || e.metaKey) && e.key >= "1" && e.key <= String(ORDER.length)) {
        e.preventDefault();
        setView(ORDER[Number(e.key) - 1]);
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, []);

  // A model file dropped anywhere on the window opens in Models.
  useEffect(() => {
    let unlisten: (() => void) | undefined;
    try {
      getCurrentWebview()
        .onDragDropEvent((e) => {
          if (e.payload.type !== "drop") return;
          const file = e.payload.paths.find((p) => p.endsWith(".onnx")) ?? e.payload.paths[0];
          if (file) {
            setDropped(file);
            setView("models");
          }
        })
        .then((u) => (unlisten = u), () => {});
    } catch {
      // Not inside Tauri (unit tests): no drag and drop.
    }
    return () => unlisten?.();
  }, []);

  const Current = VIEWS[view][1];
  return (
    <ModelContext.Provider value={{ path: model, setPath: setModel }}>
      <div class="shell">
        <nav aria-label="Views">
          <strong class="brand">Assay</strong>
          {ORDER.map((v, i) => (
            <button
              type="button"
              key={v}
              aria-current={view === v ? "page" : undefined}
              aria-keyshortcuts={`Control+${i + 1}`}
              title={`Ctrl+${i + 1}`}
              onClick={() => setView(v)}
            >
              {VIEWS[v][0]}
            </button>
          ))}
          {model && <p class="current-model mono" title={model}>{model.split("/").pop()}</p>}
        </nav>
        <main>
          <ErrorBoundary key={view}>{view === "models" ? <Models dropped={dropped} /> : <Current />}</ErrorBoundary>
        </main>
      </div>
    </ModelContext.Provider>
  );
}
