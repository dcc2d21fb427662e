// The help panel (F1 or ?): the views and their shortcuts, and About with the versions.
import { useEffect, useRef, useState } from "preact/hooks";
import { api } from "./api";

const VIEWS: [string, string][] = [
  ["Models", "open a model (file dialog, drop, path, sample or recent) and inspect it"],
  ["Benchmark", "latency and throughput with intervals, one field per dynamic dimension"],
  ["Profile", "flame graph, operator table and one inference on a timeline"],
  ["Accuracy", "a reference against candidates: errors per output, noise floor, first diverging node"],
  ["Runs", "the history shared with the assay CLI; compare two runs"],
  ["Releases", "a model plus evidence, signed and verified; signing keys"],
  ["Gateways", "push, activate, canary, promote, roll back; live traffic"],
  ["Fleet", "every gateway of a fleet file; roll a release out wave by wave"],
  ["Settings", "runtimes, providers, data locations, theme"],
];

export function Help({ open, onClose }: { open: boolean; onClose: () => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  const [versions, setVersions] = useState<{ app: string; ort: string }>({ app: "…", ort: "…" });
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (open && !d.open) {
      // showModal is missing in some test DOMs; an open attribute is enough there.
      try {
        d.showModal();
      } catch {
        d.setAttribute("open", "");
      }
    } else if (!open && d.open) d.close?.();
  }, [open]);
  useEffect(() => {
    if (!open) return;
    import("@tauri-apps/api/app")
      .then((m) => m.getVersion())
      .then((app) => setVersions((v) => ({ ...v, app })), () => setVersions((v) => ({ ...v, app: "unknown" })));
    api.systemInfo().then(
      (s) => setVersions((v) => ({ ...v, ort: "version" in s.active ? s.active.version : s.active.error })),
      () => setVersions((v) => ({ ...v, ort: "unknown" })),
    );
  }, [open]);
  return (
    <dialog ref={ref} class="help" aria-labelledby="help-title" onClose={onClose} onCancel={onClose}>
      <h2 id="help-title">Help</h2>
      <table>
        <tbody>
          {VIEWS.map(([name, what], i) => (
            <tr key={name}>
              <td><kbd>Ctrl+{i + 1}</kbd></td><td><strong>{name}</strong></td><td>{what}</td>
            </tr>
          ))}
          <tr><td><kbd>F1</kbd> or <kbd>?</kbd></td><td colSpan={2}>this panel; <kbd>Esc</kbd> closes it</td></tr>
          <tr><td><kbd>Tab</kbd></td><td colSpan={2}>every control, in order</td></tr>
        </tbody>
      </table>
      <h3>About</h3>
      <p data-testid="about">
        Assay console {versions.app} · ONNX Runtime {versions.ort}. The same engine runs headless as <code>assay</code>; see
        <code> assay --help</code>.
      </p>
      <form method="dialog">
        <button type="submit" onClick={onClose}>Close</button>
      </form>
    </dialog>
  );
}
