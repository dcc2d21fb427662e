import { useEffect, useState } from "preact/hooks";
import { api, asUiError, type DataDirs, type InstallEvent, type RuntimeListing, type RuntimeSource, type UiError } from "../api";
import { ErrorNotice } from "../ErrorNotice";
import { useOnShown } from "../visible";
import { bytes } from "../format";
import { type Theme, useTheme } from "../theme";
import { useJob } from "../useJob";

/** How the worker found the runtime (the engine's `RuntimeSource`). */
const SOURCES: Record<RuntimeSource, string> = {
  flag: "from --runtime",
  assay_env: "from $ASSAY_ORT_DYLIB",
  ort_env: "from $ORT_DYLIB_PATH",
  installed: "installed by Assay",
};

/** Settings: runtimes (and installing them), providers and GPUs, data locations, theme. */
export function Settings() {
  const [info, setInfo] = useState<RuntimeListing | null>(null);
  const [dirs, setDirs] = useState<DataDirs | null>(null);
  const [error, setError] = useState<UiError | null>(null);
  const [download, setDownload] = useState<{ what: string; done: number; total: number | null } | null>(null);
  const [step, setStep] = useState("");
  const [theme, setTheme] = useTheme();

  const load = () => {
    api.systemInfo().then(setInfo, (e) => setError(asUiError(e)));
    api.dataLocations().then(setDirs, (e) => setError(asUiError(e)));
  };
  useEffect(load, []);
  useOnShown(load);

  const install = useJob<InstallEvent>((e) => {
    if (e.event === "step") setStep(e.message);
    if (e.event === "progress") setDownload({ what: e.what, done: e.done, total: e.total });
    if (e.event === "exit") load();
  });

  const loaded = info && "version" in info.active ? info.active : null;
  const failed = info && "error" in info.active ? info.active.error : null;

  return (
    <section aria-labelledby="settings-title">
      <h1 id="settings-title">Settings</h1>
      {error && <ErrorNotice error={error} />}
      <h2>ONNX Runtime</h2>
      {info && info.installed.length === 0 && (
        <p>No ONNX Runtime is installed in <code>{info.root}</code> yet.</p>
      )}
      {info && info.installed.length > 0 && (
        <table data-testid="runtimes">
          <thead><tr><th>Version</th><th>Build</th><th>Library</th></tr></thead>
          <tbody>
            {info.installed.map((r) => (
              <tr key={r.dir}>
                <td>{r.version}</td><td>{r.flavor}</td>
                <td class="mono">{r.library}{loaded?.library === r.library && <strong> (active)</strong>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {failed && <p class="warning">⚠ {failed}</p>}
      {loaded && (
        <p>
          Active: ONNX Runtime {loaded.version} ({SOURCES[loaded.source]}) · execution providers:{" "}
          <strong>{loaded.providers.join(", ")}</strong>
        </p>
      )}
      <div class="row">
        <button type="button" disabled={install.running} onClick={() => install.start({ kind: "install_runtime", gpu: false })}>Install the CPU runtime</button>
        <button type="button" disabled={install.running} onClick={() => install.start({ kind: "install_runtime", gpu: true })}>Install the GPU runtime (CUDA 13)</button>
        {install.running && <button type="button" onClick={install.cancel}>Cancel</button>}
      </div>
      {install.running && (
        <p aria-live="polite">
          {step}{" "}
          {download && (
            <>
              {download.total ? (
                <progress value={download.done} max={download.total} aria-label="Download progress" />
              ) : (
                <progress aria-label="Download progress" />
              )}{" "}
              {download.what}:{" "}
              {bytes(download.done)}{download.total ? ` of ${bytes(download.total)}` : ""}
            </>
          )}
        </p>
      )}
      {install.error && <ErrorNotice error={install.error} />}
      {install.result && <p role="status" class="good">Installed ONNX Runtime {install.result.install.version}.</p>}
      <h2>Hardware</h2>
      {info?.environment ? (
        <dl class="facts">
          <dt>CPU</dt><dd>{info.environment.cpu_model} ({info.environment.logical_cores} threads)</dd>
          <dt>Memory</dt><dd>{bytes(info.environment.memory_bytes)}</dd>
          <dt>OS</dt><dd>{info.environment.os}</dd>
          <dt>GPUs</dt>
          <dd>
            {info.environment.gpus.length === 0
              ? "none found (GPU providers fall back to CPU, with a notice)"
              : info.environment.gpus.map((g) => `${g.name} (${bytes(g.memory_bytes)}, driver ${g.driver_version})`).join("; ")}
          </dd>
        </dl>
      ) : (
        <p class="muted">Shown once a runtime loads.</p>
      )}
      <h2>Data</h2>
      {dirs && (
        <dl class="facts" data-testid="data-locations">
          <dt>Run history</dt><dd class="mono">{dirs.db}</dd>
          <dt>Profiles</dt><dd class="mono">{dirs.profiles}</dd>
          <dt>Releases</dt><dd class="mono">{dirs.releases}</dd>
          <dt>Gateways</dt><dd class="mono">{dirs.gateways}</dd>
          <dt>Signing keys</dt><dd class="mono">{dirs.keys ?? "—"}</dd>
        </dl>
      )}
      <h2>Appearance</h2>
      <fieldset class="row">
        <legend>Theme</legend>
        {(["system", "light", "dark"] as Theme[]).map((t) => (
          <label key={t}>
            <input type="radio" name="theme" value={t} checked={theme === t} onChange={() => setTheme(t)} />{" "}
            {t === "system" ? "Follow the OS" : t[0].toUpperCase() + t.slice(1)}
          </label>
        ))}
      </fieldset>
    </section>
  );
}
