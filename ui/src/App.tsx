import { useState } from "preact/hooks";
import { Models } from "./views/Models";
import { Settings } from "./views/Settings";

const VIEWS = { models: "Models", settings: "Settings" } as const;
type View = keyof typeof VIEWS;

/** The console window: a navigation rail and the current view. */
export function App() {
  const [view, setView] = useState<View>("models");
  return (
    <div class="shell">
      <nav aria-label="Views">
        <strong class="brand">Assay</strong>
        {(Object.keys(VIEWS) as View[]).map((v) => (
          <button
            type="button"
            key={v}
            aria-current={view === v ? "page" : undefined}
            onClick={() => setView(v)}
          >
            {VIEWS[v]}
          </button>
        ))}
      </nav>
      <main>{view === "models" ? <Models /> : <Settings />}</main>
    </div>
  );
}
