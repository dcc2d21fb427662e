import { useEffect, useState } from "preact/hooks";
import { open as openDialog } from "@tauri-apps/plugin-dialog";
import { api, asUiError, type ModelReport, type UiError } from "../api";
import { ErrorNotice } from "../ErrorNotice";
import { bytes, count, shape } from "../format";
import { useModel } from "../model";
import { ViewerButton } from "../ViewerButton";

const RECENT_KEY = "assay.recent-models";

function recent(): string[] {
  try {
    return JSON.parse(localStorage.getItem(RECENT_KEY) ?? "[]");
  } catch {
    return [];
  }
}

function remember(path: string) {
  const list = [path, ...recent().filter((p) => p !== path)].slice(0, 8);
  localStorage.setItem(RECENT_KEY, JSON.stringify(list));
}

/** Models: open a model (dialog, drag and drop, path, sample or recent) and inspect it
 * without running it. The opened model is the one the other views work on. */
export function Models({ dropped }: { dropped?: { path: string } | null }) {
  const model = useModel();
  const [path, setPath] = useState(model.path ?? "");
  const [report, setReport] = useState<ModelReport | null>(null);
  const [error, setError] = useState<UiError | null>(null);
  const [busy, setBusy] = useState(false);

  async function open(p: string) {
    setBusy(true);
    setError(null);
    try {
      const r = await api.inspectModel(p);
      setReport(r);
      setPath(p);
      model.setPath(p, r);
      remember(p);
    } catch (e) {
      setReport(null);
      setError(asUiError(e));
    } finally {
      setBusy(false);
    }
  }

  useEffect(() => {
    if (dropped) open(dropped.path);
    else if (model.path && !report) open(model.path);
  }, [dropped]);

  async function browse() {
    try {
      const file = await openDialog({ title: "Open an ONNX model", filters: [{ name: "ONNX models", extensions: ["onnx"] }] });
      if (typeof file === "string") open(file);
    } catch (e) {
      setError(asUiError(e));
    }
  }

  async function openSample() {
    try {
      await open(await api.sampleModel());
    } catch (e) {
      setError(asUiError(e));
    }
  }

  const operators = report ? Object.entries(report.graph.operators).sort((a, b) => b[1] - a[1]) : [];
  const maxOp = operators.length ? operators[0][1] : 1;

  return (
    <section aria-labelledby="models-title">
      <h1 id="models-title">Models</h1>
      <form
        class="row"
        onSubmit={(e) => {
          e.preventDefault();
          if (path.trim()) open(path.trim());
        }}
      >
        <label for="model-path">Model file</label>
        <input id="model-path" value={path} placeholder="/path/to/model.onnx" onInput={(e) => setPath(e.currentTarget.value)} />
        <button type="submit" disabled={busy || !path.trim()}>Inspect</button>
        <button type="button" onClick={browse} disabled={busy}>Browse…</button>
        <button type="button" onClick={openSample} disabled={busy}>Open the sample model</button>
      </form>
      {recent().length > 0 && (
        <div class="recent">
          <span>Recent:</span>
          <ul>
            {recent().map((p) => {
              const cut = p.lastIndexOf("/");
              return (
                <li key={p}>
                  <button type="button" class="link" title={p} onClick={() => open(p)}>
                    <strong>{p.slice(cut + 1)}</strong> <span class="muted mono">{p.slice(0, cut + 1)}</span>
                  </button>
                </li>
              );
            })}
          </ul>
        </div>
      )}
      <p class="muted">Or drop a .onnx file anywhere on the window.</p>
      {busy && <p aria-live="polite">Reading the model…</p>}
      {error && <ErrorNotice error={error} />}
      {report && (
        <div class="report" data-testid="model-report">
          <h2>{report.file.path.split("/").pop()}</h2>
          <p><ViewerButton model={report.file.path} /></p>
          <dl class="facts">
            <dt>Size</dt><dd>{bytes(report.file.size_bytes)}</dd>
            <dt>SHA-256</dt><dd class="mono">{report.file.sha256}</dd>
            <dt>Producer</dt><dd>{`${report.model.producer_name} ${report.model.producer_version}`.trim() || "—"}</dd>
            <dt>Opsets</dt><dd>{report.model.opsets.map((o) => `${o.domain} ${o.version}`).join(", ")}</dd>
            <dt>Nodes</dt><dd>{count(report.graph.node_count)}</dd>
            <dt>Parameters</dt><dd>{count(report.graph.parameter_count)} ({bytes(report.graph.parameter_bytes)})</dd>
          </dl>
          {report.model.doc_string && <p>{report.model.doc_string}</p>}
          <h3>Inputs and outputs</h3>
          <table>
            <thead><tr><th>Direction</th><th>Name</th><th>Type</th><th>Shape</th></tr></thead>
            <tbody>
              {report.inputs.map((t) => (
                <tr key={`in-${t.name}`}><td>input</td><td>{t.name}</td><td>{t.element_type}</td><td class="mono">{shape(t.shape)}</td></tr>
              ))}
              {report.outputs.map((t) => (
                <tr key={`out-${t.name}`}><td>output</td><td>{t.name}</td><td>{t.element_type}</td><td class="mono">{shape(t.shape)}</td></tr>
              ))}
            </tbody>
          </table>
          <h3>Operators</h3>
          <table class="histogram">
            <tbody>
              {operators.map(([op, n]) => (
                <tr key={op}>
                  <td>{op}</td>
                  <td class="num">{n}</td>
                  <td class="bar-cell"><span class="bar" style={{ width: `${(100 * n) / maxOp}%` }} /></td>
                </tr>
              ))}
            </tbody>
          </table>
          {Object.keys(report.metadata).length > 0 && (
            <>
              <h3>Metadata</h3>
              <dl class="facts">
                {Object.entries(report.metadata).map(([k, v]) => (
                  <>
                    <dt>{k}</dt>
                    <dd>{v}</dd>
                  </>
                ))}
              </dl>
            </>
          )}
        </div>
      )}
    </section>
  );
}
