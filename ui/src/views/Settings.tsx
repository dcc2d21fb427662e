import { useEffect, useState } from "preact/hooks";
import { api, asUiError, type RuntimesView, type UiError } from "../api";
import { ErrorNotice } from "../ErrorNotice";

/** Settings: the ONNX Runtimes Assay found, and where they live. */
export function Settings() {
  const [view, setView] = useState<RuntimesView | null>(null);
  const [error, setError] = useState<UiError | null>(null);
  useEffect(() => {
    api.runtimes().then(setView, (e) => setError(asUiError(e)));
  }, []);
  return (
    <section aria-labelledby="settings-title">
      <h1 id="settings-title">Settings</h1>
      <h2>ONNX Runtime</h2>
      {error && <ErrorNotice error={error} />}
      {view && view.installed.length === 0 && (
        <p>
          No ONNX Runtime is installed in <code>{view.root}</code>. Install one with{" "}
          <code>assay runtime install</code>.
        </p>
      )}
      {view && view.installed.length > 0 && (
        <table>
          <thead><tr><th>Version</th><th>Build</th><th>Folder</th></tr></thead>
          <tbody>
            {view.installed.map((r) => (
              <tr key={r.dir}><td>{r.version}</td><td>{r.flavor}</td><td class="mono">{r.dir}</td></tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
