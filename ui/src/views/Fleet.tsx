import { useEffect, useState } from "preact/hooks";
import { api, asUiError, type FleetEvent, type FleetStatus, type GatewayStep, type RolloutState, type UiError } from "../api";
import { ErrorNotice } from "../ErrorNotice";
import { useOnShown } from "../visible";
import { useJob } from "../useJob";

const KEY = "assay.fleet";

/** The fleet file, model and reference last used, so the view opens where it was left. */
function saved(): { file: string; model: string; reference: string } {
  try {
    return { file: "", model: "", reference: "", ...JSON.parse(localStorage.getItem(KEY) ?? "{}") };
  } catch {
    return { file: "", model: "", reference: "" };
  }
}

const STEP_CLASS: Record<GatewayStep, string> = {
  pending: "",
  pulling: "warn",
  canary: "warn",
  promoted: "ok",
  failed: "bad",
  rolled_back: "bad",
  undo_failed: "bad",
};

/** Fleet: every gateway of a fleet file with its versions and health, and rollouts wave by wave. */
export function Fleet() {
  const [form, setForm] = useState(saved);
  const [status, setStatus] = useState<FleetStatus | null>(null);
  const [error, setError] = useState<UiError | null>(null);
  const [live, setLive] = useState<{ state: RolloutState; log: string[] } | null>(null);
  const job = useJob<FleetEvent>((e) => {
    if (e.event === "rollout") {
      setLive((l) => ({ state: e.state, log: [...(l?.log ?? []), e.message].slice(-200) }));
    }
  });

  async function refresh() {
    if (!form.file.trim()) return;
    try {
      setStatus(await api.fleetStatus(form.file.trim(), form.model.trim() || undefined));
      setError(null);
    } catch (e) {
      setStatus(null);
      setError(asUiError(e));
    }
  }
  useEffect(() => {
    localStorage.setItem(KEY, JSON.stringify(form));
  }, [form]);
  useEffect(() => {
    refresh();
  }, []);
  useOnShown(refresh);
  // The gateways' own view of the rollout as it goes, and once more when it ends.
  useEffect(() => {
    if (!job.running) {
      refresh();
      return;
    }
    const t = setInterval(refresh, 2000);
    return () => clearInterval(t);
  }, [job.running]);

  function rollOut() {
    setLive(null);
    job.start({ kind: "fleet_rollout", fleet: form.file.trim(), model: form.model.trim(), reference: form.reference.trim() });
  }

  const rollout = live?.state ?? status?.rollout ?? null;
  const model = form.model.trim();
  return (
    <section aria-labelledby="fleet-title">
      <h1 id="fleet-title">Fleet</h1>
      <form class="grid-form" onSubmit={(e) => (e.preventDefault(), refresh())}>
        <label for="fleet-file">Fleet file</label>
        <input
          id="fleet-file"
          value={form.file}
          placeholder="/path/to/fleet.toml"
          onInput={(e) => setForm({ ...form, file: e.currentTarget.value })}
        />
        <label for="fleet-model">Model</label>
        <input
          id="fleet-model"
          value={form.model}
          placeholder="sentiment"
          onInput={(e) => setForm({ ...form, model: e.currentTarget.value })}
        />
        <div class="actions">
          <button type="submit" disabled={!form.file.trim()}>Refresh</button>
        </div>
      </form>
      {error && <ErrorNotice error={error} />}
      {status && (
        <div class="table-wrap">
          <table data-testid="fleet-gateways">
            <thead>
              <tr>
                <th>Gateway</th>
                <th>URL</th>
                <th>Health</th>
                <th>Stable</th>
                <th>Canary</th>
                <th>Labels</th>
              </tr>
            </thead>
            <tbody>
              {status.gateways.map((g) => {
                const m = model ? g.status?.models[model] : undefined;
                return (
                  <tr key={g.name} data-gateway={g.name}>
                    <td>{g.name}</td>
                    <td>{g.url}</td>
                    <td>
                      {g.status ? (
                        <span class={`badge ${g.status.ready ? "ok" : "bad"}`}>{g.status.ready ? "ready" : "not ready"}</span>
                      ) : (
                        <span class="badge bad" title={g.error ?? ""}>unreachable</span>
                      )}
                    </td>
                    <td>{m?.stable ?? "–"}</td>
                    <td>{m?.canary ? `${m.canary.version} at ${m.canary.percent}%` : "–"}</td>
                    <td>{Object.entries(g.labels).map(([k, v]) => `${k}=${v}`).join(" ")}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      <h2>Roll out</h2>
      <form class="grid-form" onSubmit={(e) => (e.preventDefault(), rollOut())}>
        <label for="fleet-reference">Release in the registry</label>
        <input
          id="fleet-reference"
          value={form.reference}
          placeholder="oci://registry:5000/models/sentiment:1.4.0"
          onInput={(e) => setForm({ ...form, reference: e.currentTarget.value })}
        />
        <div class="actions">
          <button type="submit" disabled={job.running || !form.file.trim() || !model || !form.reference.trim().startsWith("oci://")}>
            Roll out
          </button>
          {job.running && (
            <button type="button" onClick={job.cancel}>
              Stop watching
            </button>
          )}
        </div>
      </form>
      {job.error && <ErrorNotice error={job.error} />}
      {rollout && <Rollout state={rollout} />}
      {live && live.log.length > 0 && (
        <details>
          <summary>Log</summary>
          <pre data-testid="fleet-log">{live.log.join("\n")}</pre>
        </details>
      )}
    </section>
  );
}

function Rollout({ state }: { state: RolloutState }) {
  const s = state.seconds;
  return (
    <div data-testid="fleet-rollout" data-status={state.status}>
      <p>
        <strong>
          {state.model} {state.version ?? ""}
        </strong>{" "}
        from {state.reference}:{" "}
        <span class={`badge ${state.status === "done" ? "ok" : state.status === "running" ? "" : "bad"}`} data-testid="rollout-status">
          {state.status.replace("_", " ")}
        </span>
      </p>
      {state.error && <p class="bad-text" data-testid="rollout-error">{state.error}</p>}
      <ol class="waves">
        {state.waves.map((w, i) => (
          <li key={i} data-testid="fleet-wave" data-done={w.done}>
            <span>
              Wave {i + 1} {w.done ? "✓" : ""}
            </span>
            <ul>
              {w.gateways.map((g) => {
                const p = state.gateways[g];
                return (
                  <li key={g}>
                    {g}: <span class={`badge ${STEP_CLASS[p?.step ?? "pending"]}`}>{(p?.step ?? "pending").replace("_", " ")}</span> {p?.detail}
                    {p && p.candidate_requests > 0 ? ` (${p.candidate_requests} canary requests)` : ""}
                  </li>
                );
              })}
            </ul>
          </li>
        ))}
      </ol>
      <p class="muted">
        Time: pulling {s.pulling.toFixed(1)} s, warming {s.warming.toFixed(1)} s, analysis {s.analysis.toFixed(1)} s
      </p>
    </div>
  );
}
