import { useEffect, useState } from "preact/hooks";
import { api, asUiError, type PercentileChange, type RunComparison, type RunSummary, type StoredRun, type UiError } from "../api";
import { ConfirmButton } from "../Confirm";
import { ErrorNotice } from "../ErrorNotice";
import { useOnShown } from "../visible";
import { ms } from "../format";
import { Results } from "./Benchmark";
import { OperatorTable } from "./Profile";
import { ViewerButton } from "../ViewerButton";

const verdictText: Record<string, string> = {
  faster: "faster",
  slower: "slower",
  no_significant_difference: "no significant difference",
};

/** Runs: the recorded history, filtered; one run's detail; two runs side by side. */
export function Runs() {
  const [filter, setFilter] = useState({ model: "", kind: "" });
  const [runs, setRuns] = useState<RunSummary[]>([]);
  const [picked, setPicked] = useState<string[]>([]);
  const [shown, setShown] = useState<StoredRun | null>(null);
  const [cmp, setCmp] = useState<RunComparison | null>(null);
  const [error, setError] = useState<UiError | null>(null);

  async function load() {
    setError(null);
    try {
      setRuns(await api.listRuns(filter.model || undefined, filter.kind || undefined, 500));
    } catch (e) {
      setError(asUiError(e));
    }
  }
  useEffect(() => {
    load();
  }, [filter.kind]);
  useOnShown(load);

  const toggle = (id: string) =>
    setPicked((p) => (p.includes(id) ? p.filter((x) => x !== id) : [...p.slice(-1), id]));

  async function compare() {
    setError(null);
    setShown(null);
    try {
      // The older run is the baseline (A).
      const [a, b] = [...picked].sort((x, y) => (runs.find((r) => r.id === x)?.created_at ?? 0) - (runs.find((r) => r.id === y)?.created_at ?? 0));
      setCmp(await api.compareRuns(a, b));
    } catch (e) {
      setError(asUiError(e));
    }
  }

  async function show(id: string) {
    setCmp(null);
    try {
      setShown(await api.getRun(id));
    } catch (e) {
      setError(asUiError(e));
    }
  }

  async function remove(id: string) {
    try {
      await api.deleteRun(id);
      setPicked((p) => p.filter((x) => x !== id));
      if (shown?.id === id) setShown(null);
      await load();
    } catch (e) {
      setError(asUiError(e));
    }
  }

  return (
    <section aria-labelledby="runs-title">
      <h1 id="runs-title">Runs</h1>
      <form class="row" onSubmit={(e) => (e.preventDefault(), load())}>
        <label for="runs-model">Model</label>
        <input id="runs-model" value={filter.model} placeholder="name, path or sha256 prefix" onInput={(e) => setFilter({ ...filter, model: e.currentTarget.value })} />
        <label for="runs-kind">Kind</label>
        <select id="runs-kind" value={filter.kind} onChange={(e) => setFilter({ ...filter, kind: e.currentTarget.value })}>
          <option value="">all</option>
          <option value="bench">benchmarks</option>
          <option value="profile">profiles</option>
        </select>
        <button type="submit">Filter</button>
        <button type="button" disabled={picked.length !== 2} onClick={compare}>Compare the two selected</button>
      </form>
      {error && <ErrorNotice error={error} />}
      {runs.length === 0 && !error && <p>No runs yet. Benchmark or profile a model and it appears here.</p>}
      {runs.length > 0 && (
        <table data-testid="runs-table">
          <thead>
            <tr><th>Pick</th><th>Run</th><th>When</th><th>Kind</th><th>Model</th><th class="num">Rows</th><th class="num">p50 (first row)</th><th>Providers</th><th /></tr>
          </thead>
          <tbody>
            {runs.map((r) => (
              <tr key={r.id}>
                <td><input type="checkbox" aria-label={`select run ${r.id}`} checked={picked.includes(r.id)} onChange={() => toggle(r.id)} /></td>
                <td><button type="button" class="link mono" onClick={() => show(r.id)}>{r.id}</button></td>
                <td>{new Date(r.created_at * 1000).toLocaleString()}</td>
                <td>{r.kind}</td>
                <td class="mono" title={`${r.model_path}\nsha256 ${r.model_sha256}`}>{r.model_path.split("/").pop()}</td>
                <td class="num">{r.rows}</td>
                <td class="num">{r.p50_ms === null ? "—" : ms(r.p50_ms)}</td>
                <td>{r.providers.join(", ")}</td>
                <td>
                  <ConfirmButton class="link" aria-label={`delete run ${r.id}`} question={`Delete run ${r.id} and its samples?`} confirm="Yes, delete" onConfirm={() => remove(r.id)}>
                    Delete
                  </ConfirmButton>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {shown && (
        <div data-testid="run-detail">
          <Results report={{ ...shown.report, run_id: shown.id }} />
          {shown.profile && (
            <>
              <p><ViewerButton model={shown.report.model.path} profile={shown.id} /></p>
              <OperatorTable nodes={shown.profile.operators.nodes ?? []} />
            </>
          )}
        </div>
      )}
      {cmp && <Comparison data={cmp} />}
    </section>
  );
}

function change(c: PercentileChange) {
  return (
    <>
      {ms(c.a_ms)} → {ms(c.b_ms)}{" "}
      <span class={c.delta_pct > 0 ? "worse" : "better"}>
        ({c.delta_pct > 0 ? "+" : ""}{c.delta_pct.toFixed(1)}% [{c.ci95_pct[0].toFixed(1)}, {c.ci95_pct[1].toFixed(1)}])
      </span>
    </>
  );
}

function Comparison({ data }: { data: RunComparison }) {
  const c = data.comparison;
  return (
    <div data-testid="comparison">
      <h2>Run {c.a.id} (A) against run {c.b.id} (B)</h2>
      {c.a.model_sha256 !== c.b.model_sha256 && <p class="warning">⚠ The runs are of different model files.</p>}
      <table>
        <thead><tr><th>Provider</th><th class="num">Batch</th><th class="num">Streams</th><th>p50 A → B [95% CI]</th><th>p99 A → B [95% CI]</th><th>Verdict</th></tr></thead>
        <tbody>
          {c.rows.map((r, i) => (
            <tr key={i}>
              <td>{r.provider}</td><td class="num">{r.batch}</td><td class="num">{r.concurrency}</td>
              <td>{change(r.p50)}</td><td>{change(r.p99)}</td>
              <td><strong class={`verdict ${r.verdict}`}>{verdictText[r.verdict] ?? r.verdict}</strong></td>
            </tr>
          ))}
        </tbody>
      </table>
      {c.unmatched.length > 0 && <p class="muted">Rows without a partner: {c.unmatched.join(", ")}</p>}
      {c.warnings.map((w: string, i: number) => <p class="warning" key={i}>⚠ {w}</p>)}
      {data.diff_flamegraph_svg && (
        <>
          <h3>Differential flame graph</h3>
          <img class="diff-flame" alt="Differential flame graph: red where B spends more time, blue where it spends less" src={`data:image/svg+xml;charset=utf-8,${encodeURIComponent(data.diff_flamegraph_svg)}`} />
        </>
      )}
    </div>
  );
}
