import { useEffect, useState } from "preact/hooks";
import { getCurrentWebview } from "@tauri-apps/api/webview";
import { ErrorBoundary } from "./ErrorBoundary";
import { Help } from "./Help";
import type { ModelReport } from "./api";
import { ModelContext } from "./model";
import { NavContext, type NodeRequest } from "./nav";
import { ShownContext } from "./visible";
import { savedTheme, applyTheme } from "./theme";
import { Accuracy } from "./views/Accuracy";
import { Benchmark } from "./views/Benchmark";
import { Fleet } from "./views/Fleet";
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
  accuracy: ["Accuracy", Accuracy],
  runs: ["Runs", Runs],
  releases: ["Releases", Releases],
  gateways: ["Gateways", Gateways],
  fleet: ["Fleet", Fleet],
  settings: ["Settings", Settings],
} as const;
type View = keyof typeof VIEWS;
const ORDER = Object.keys(VIEWS) as View[];

/** The console window: a navigation rail and the current view; Ctrl+1…9 switch views. */
export function App() {
  const [view, setView] = useState<View>("models");
  const [open, setOpen] = useState<{ path: string; report: ModelReport | null } | null>(null);
  const model = open?.path ?? null;
  // A fresh object per drop, so dropping the same file twice opens it twice.
  const [dropped, setDropped] = useState<{ path: string } | null>(null);
  // A node another view asked Profile to pick out.
  const [focusNode, setFocusNode] = useState<NodeRequest | null>(null);
  // A node of another model means nothing here.
  useEffect(() => setFocusNode(null), [model]);

  useEffect(() => applyTheme(savedTheme()), []);

  const [help, setHelp] = useState(false);
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if ((e.ctrlKey || e.metaKey) && e.key >= "1" && e.key <= String(ORDER.length)) {
        e.preventDefault();
        setView(ORDER[Number(e.key) - 1]);
      }
      // F1 anywhere; `?` when not typing into a field.
      const typing = e.target instanceof HTMLElement && /^(INPUT|TEXTAREA|SELECT)$/.test(e.target.tagName);
      if (e.key === "F1" || (e.key === "?" && !typing)) {
        e.preventDefault();
        setHelp(true);
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
            setDropped({ path: file });
            setView("models");
          }
        })
        .then((u) => (unlisten = u), () => {});
    } catch {
      // Not inside Tauri (unit tests): no drag and drop.
    }
    return () => unlisten?.();
  }, []);

  // Views stay mounted once visited, so a running job (and its live chart) survives a
  // visit to another view.
  const [visited, setVisited] = useState<Set<View>>(new Set(["models"]));
  const [shows, setShows] = useState<Record<string, number>>({ models: 1 });
  useEffect(() => {
    setVisited((v) => (v.has(view) ? v : new Set([...v, view])));
    setShows((s) => ({ ...s, [view]: (s[view] ?? 0) + 1 }));
  }, [view]);
  return (
    <ModelContext.Provider
      value={{ path: model, report: open?.report ?? null, setPath: (path, report) => setOpen({ path, report: report ?? null }) }}
    >
      <NavContext.Provider value={{ node: focusNode, showNode: (name) => (setFocusNode({ name }), setView("profile")) }}>
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
          <button type="button" class="help-button" aria-keyshortcuts="F1" title="F1 or ?" onClick={() => setHelp(true)}>
            Help and shortcuts
          </button>
        </nav>
        <Help open={help} onClose={() => setHelp(false)} />
        <main>
          {ORDER.filter((v) => visited.has(v) || v === view).map((v) => {
            const View = VIEWS[v][1];
            return (
              <div key={v} hidden={v !== view}>
                <ShownContext.Provider value={v === view ? (shows[v] ?? 1) : 0}>
                  <ErrorBoundary>{v === "models" ? <Models dropped={dropped} /> : <View />}</ErrorBoundary>
                </ShownContext.Provider>
              </div>
            );
          })}
        </main>
      </div>
      </NavContext.Provider>
    </ModelContext.Provider>
  );
}
