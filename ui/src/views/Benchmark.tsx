import { useRef, useState } from "preact/hooks";
import { api, asUiError, type BenchEvent, type BenchReport, type BenchResult, type UiError } from "../api";
import type { EventOf } from "../useJob";
import { ErrorNotice } from "../ErrorNotice";
import { LineChart } from "../charts/LineChart";
import { bytes, ms } from "../format";
import { inFieldWords, useInputs } from "../InputFields";
import { useModel } from "../model";
import { useJob } from "../useJob";

interface Live {
  x: number[];
  mean: (number | null)[];
  label: string;
  fraction: number;
  /** Seconds left in the current configuration, from its targets and its pace so far. */
  left_s: number | null;
}

const emptyLive: Live = { x: [], mean: [], label: "", fraction: 0, left_s: null };

const FORM_KEY = "assay.bench-form";
const DEFAULT_FORM = {
  provider: "cpu", threads: "", batch: "1", concurrency: "1", warmup: "10", duration: "2s", iterations: "10", check: "",
};
type Form = typeof DEFAULT_FORM;

/** The last form the user ran, so settings survive a relaunch. */
function savedForm(): Form {
  try {
    return { ...DEFAULT_FORM, ...JSON.parse(localStorage.getItem(FORM_KEY) ?? "{}") };
  } catch {
    return DEFAULT_FORM;
  }
}

/** Seconds a duration like `2s`, `500ms` or `1m` stands for (NaN when it is not one). */
export function seconds(d: string): number {
  const m = /^\s*([\d.]+)\s*(ms|s|m)?\s*$/.exec(d);
  if (!m) return NaN;
  const v = Number(m[1]);
  return m[2] === "ms" ? v / 1000 : m[2] === "m" ? v * 60 : v;
}

/** The shortest a run can take: per configuration, ≥ 1 s of warmup and the duration. */
export function estimate(form: Form): string {
  const n = (list: string) => Math.max(1, list.split(",").filter((s) => s.trim()).length);
  const configs = n(form.provider) * n(form.batch) * n(form.concurrency);
  const each = 1 + (seconds(form.duration) || 0);
  const its = Number(form.iterations) || 1;
  return `${configs} configuration${configs > 1 ? "s" : ""} × (≥ 1 s warmup + ${form.duration}) ≈ ${Math.ceil(configs * each)} s; longer only if ${its} inference${its > 1 ? "s take" : " takes"} more than ${form.duration}`;
}

/** Benchmark: a sweep of providers × batch × concurrency in the worker, charted live. */
export function Benchmark() {
  const { path } = useModel();
  const [form, setForm] = useState<Form>(savedForm);
  const inputs = useInputs("bench");
  const [live, setLive] = useState<Live>(emptyLive);
  const [samples, setSamples] = useState<{ label: string; ns: number[] } | null>(null);
  const [sampleError, setSampleError] = useState<UiError | null>(null);
  const progress = useRef({ configs: 1, t0: 0, live: emptyLive, pending: false });

  // Progress arrives ~10 times a second per stream; coalesce redraws to one per frame.
  function onEvent(e: EventOf<BenchEvent>) {
    const p = progress.current;
    if (e.event === "started") {
      p.configs = Math.max(1, e.configs);
      p.t0 = performance.now();
      p.live = { ...emptyLive };
    } else if (e.event === "config_started") {
      const gap = p.live.x.length ? { x: [...p.live.x, (performance.now() - p.t0) / 1000], mean: [...p.live.mean, null] } : {};
      p.live = { ...p.live, ...gap, label: `${e.provider} · batch ${e.batch} · ${e.concurrency} stream(s)` };
    } else if (e.event === "progress" && e.phase === "measure") {
      // A configuration ends when both its iteration and its time targets are met.
      const done = Math.min(e.done / Math.max(1, e.target_iterations), e.elapsed_ms / Math.max(1, e.target_ms));
      const pace = e.done > 0 ? e.elapsed_ms / e.done : null;
      const left = Math.max(e.target_ms - e.elapsed_ms, pace === null ? 0 : (e.target_iterations - e.done) * pace, 0) / 1000;
      // A window in which no inference finished adds no point: a slow model draws one
      // point per inference instead of a few spikes between empty windows.
      const point = e.window_mean_ms != null && e.window_count > 0;
      p.live = {
        ...p.live,
        x: point ? [...p.live.x, (performance.now() - p.t0) / 1000] : p.live.x,
        mean: point ? [...p.live.mean, e.window_mean_ms] : p.live.mean,
        fraction: (e.index + Math.min(1, done)) / p.configs,
        left_s: left,
      };
    } else if (e.event === "config_finished") {
      p.live = { ...p.live, fraction: (e.index + 1) / p.configs };
    } else return;
    if (!p.pending) {
      p.pending = true;
      requestAnimationFrame(() => {
        p.pending = false;
        setLive(p.live);
      });
    }
  }

  const job = useJob<BenchEvent>(onEvent);
  const report: BenchReport | null = job.result?.report ?? null;

  const [formError, setFormError] = useState<UiError | null>(null);

  async function start() {
    if (!path) return;
    setSamples(null);
    setSampleError(null);
    setFormError(null);
    const count = (label: string, v: string) => {
      if (v.trim() === "") return undefined;
      if (!/^\d+$/.test(v.trim()) || Number(v) < 1) throw { kind: "usage", message: `${label} must be a whole number of at least 1 (got “${v}”)` };
      return Number(v);
    };
    let threads: number | undefined, warmup: number | undefined, iterations: number | undefined;
    let given;
    try {
      threads = count("Intra-op threads", form.threads);
      warmup = count("Warmup runs", form.warmup);
      iterations = count("Minimum iterations", form.iterations);
      if (Number.isNaN(seconds(form.duration))) throw { kind: "usage", message: `Duration must be like 2s, 500ms or 1m (got “${form.duration}”)` };
      given = inputs.settings();
    } catch (e) {
      setFormError(asUiError(e));
      return;
    }
    localStorage.setItem(FORM_KEY, JSON.stringify(form));
    await job.start({
      kind: "bench",
      model: path,
      concurrency: form.concurrency,
      check_against: form.check || undefined,
      run: {
        provider: form.provider,
        batch: form.batch,
        intra_threads: threads,
        warmup,
        duration: form.duration,
        iterations,
        ...given,
      },
    });
  }

  async function showSamples(runId: string, row: number) {
    try {
      const run = await api.getRun(runId);
      const r = run.report.results[row];
      setSamples(r ? { label: `${r.provider} · batch ${r.batch} · ${r.concurrency} stream(s)`, ns: run.samples_ns[row] ?? [] } : null);
    } catch (e) {
      setSampleError(asUiError(e));
    }
  }

  const field = (key: keyof Form) => ({
    id: `bench-${key}`,
    value: form[key],
    onInput: (e: Event) => setForm({ ...form, [key]: (e.currentTarget as HTMLInputElement).value }),
  });

  return (
    <section aria-labelledby="bench-title">
      <h1 id="bench-title">Benchmark</h1>
      {!path && <p>Open a model in <strong>Models</strong> first (the sample model is one click away).</p>}
      {path && <p class="mono">{path}</p>}
      <form
        class="grid-form"
        onSubmit={(e) => {
          e.preventDefault();
          start();
        }}
      >
        <label for="bench-provider">Provider</label>
        <select {...field("provider")}>
          <option value="cpu">CPU</option>
          <option value="cuda">CUDA</option>
          <option value="tensorrt">TensorRT</option>
          <option value="cuda,cpu">CUDA and CPU (compare)</option>
        </select>
        <label for="bench-threads">Intra-op threads</label>
        <input {...field("threads")} inputMode="numeric" placeholder="ONNX Runtime's choice" />
        <label for="bench-batch">Batch sizes</label>
        <input {...field("batch")} placeholder="1,8,32" />
        <label for="bench-concurrency">Concurrency</label>
        <input {...field("concurrency")} placeholder="1,4" />
        <label for="bench-warmup">Warmup runs</label>
        <input {...field("warmup")} inputMode="numeric" />
        <label for="bench-duration">Duration per configuration</label>
        <input {...field("duration")} placeholder="2s" />
        <label for="bench-iterations">Minimum iterations</label>
        <input {...field("iterations")} inputMode="numeric" title="A configuration also runs at least this many inferences" />
        <label for="bench-check">Check outputs against</label>
        <select {...field("check")} title="Compare each row's outputs with the reference's, next to its speed">
          <option value="">no check</option>
          <option value="cpu">the model on CPU</option>
        </select>
        {inputs.fields}
        <p class="muted estimate" data-testid="bench-estimate">{estimate(form)}</p>
        <div class="actions">
          <button type="submit" disabled={!path || job.running}>Run benchmark</button>
          {job.running && <button type="button" onClick={job.cancel}>Cancel</button>}
        </div>
      </form>
      {job.running && (
        <div aria-live="polite">
          <progress value={live.fraction} max={1} aria-label="Benchmark progress" /> {live.label}
          {live.left_s !== null && <span class="muted"> · about {Math.ceil(live.left_s)} s left in this configuration</span>}
        </div>
      )}
      {job.cancelled && <p role="status">The benchmark was cancelled; nothing was recorded.</p>}
      {formError && <ErrorNotice error={formError} />}
      {inputs.error && <ErrorNotice error={inputs.error} />}
      {job.error && <ErrorNotice error={inFieldWords(job.error)} />}
      {live.x.length > 0 && (
        <LineChart
          title="Latency while it runs (mean of the inferences finished in each 100 ms window)"
          xLabel="seconds"
          yLabel="ms"
          x={live.x}
          series={[{ label: "mean latency (ms)", values: live.mean }]}
          points={live.x.length <= 300}
          pointSize={6}
        />
      )}
      {report && <Results report={report} onSamples={showSamples} />}
      {sampleError && <ErrorNotice error={sampleError} />}
      {samples && (
        <LineChart
          title={`Every measured inference of ${samples.label} (${samples.ns.length.toLocaleString("en-US")} samples)`}
          xLabel="inference"
          yLabel="ms"
          x={samples.ns.map((_, i) => i)}
          series={[{ label: "latency (ms)", values: samples.ns.map((n) => n / 1e6) }]}
          points={samples.ns.length <= 5000}
        />
      )}
    </section>
  );
}

function pct(r: BenchResult, name: "p50" | "p90" | "p95" | "p99" | "p999") {
  const v = r.latency_ms[name];
  // Intervals are computed for p50, p99 and p99.9 only (crates/assay-engine/src/stats.rs).
  const ci = name === "p50" || name === "p99" || name === "p999" ? r.ci95_ms[name] : null;
  const flagged = r.unsupported_percentiles.includes(name);
  return (
    <td class={flagged ? "num flagged" : "num"} title={flagged ? "too few samples beyond this percentile to trust it" : undefined}>
      {v === undefined ? "—" : ms(v)}
      {ci && <span class="ci"> [{ms(ci[0])}–{ms(ci[1])}]</span>}
      {flagged && <span aria-label="unsupported"> ⚠</span>}
    </td>
  );
}

/** The results table; with `onSamples`, each row can chart its every sample. */
export function Results({ report, onSamples }: { report: BenchReport; onSamples?: (id: string, row: number) => void }) {
  const checked = report.results.find((r) => r.accuracy)?.accuracy;
  return (
    <div data-testid="bench-results">
      <h2>Results {report.run_id && <span class="muted">· run {report.run_id}</span>}</h2>
      <div class="table-wrap">
      <table>
        <thead>
          <tr>
            <th>Provider</th><th class="num">Batch</th><th class="num" title="parallel streams">Conc.</th><th class="num">Samples</th>
            <th class="num">Mean</th><th class="num">p50 [95% CI]</th><th class="num">p90</th><th class="num">p99 [95% CI]</th>
            <th class="num" title="inferences per second (and samples per second when a batch holds several)">Throughput</th><th class="num">Peak RSS</th>
            {checked && (
              <>
                <th title={`outputs against ${checked.reference} on ${checked.sets} input sets`}>Accuracy</th>
                <th class="num">Max abs err</th>
              </>
            )}
            {onSamples && report.run_id && <th />}
          </tr>
        </thead>
        <tbody>
          {report.results.map((r, i) => (
            <tr key={i}>
              <td>{r.provider}{r.fallback && <span class="flagged" title={r.fallback}> (fell back)</span>}</td>
              <td class="num">{r.batch}</td>
              <td class="num">{r.concurrency}</td>
              <td class="num">{r.samples.toLocaleString("en-US")}</td>
              <td class="num">{ms(r.latency_ms.mean)}</td>
              {pct(r, "p50")}
              {pct(r, "p90")}
              {pct(r, "p99")}
              <td class="num">
                {r.throughput.inferences_per_s.toFixed(0)} inf/s
                {r.batch > 1 && <span class="ci">{r.throughput.samples_per_s.toFixed(0)} samples/s</span>}
              </td>
              <td class="num">{r.peak_rss_bytes ? bytes(r.peak_rss_bytes) : "—"}</td>
              {checked && (
                <>
                  <td>{r.accuracy ? <span class={`verdict ${r.accuracy.verdict}`}>{r.accuracy.verdict === "fail" ? "FAIL" : r.accuracy.verdict}</span> : "—"}</td>
                  <td class="num">{r.accuracy ? r.accuracy.max_abs.toExponential(2) : "—"}</td>
                </>
              )}
              {onSamples && report.run_id && (
                <td>
                  <button type="button" class="link" aria-label={`Chart samples of ${r.provider}, batch ${r.batch}, ${r.concurrency} stream(s)`} onClick={() => onSamples(report.run_id!, i)}>Chart</button>
                </td>
              )}
            </tr>
          ))}
        </tbody>
      </table>
      </div>
      {checked && (
        <p class="muted" data-testid="bench-check">
          Outputs checked against {checked.reference} on {checked.sets} input sets at each row's batch size; noise means outside
          tolerance but within the reference's own run-to-run difference.
        </p>
      )}
      {[...report.warnings, ...report.results.flatMap((r) => r.warnings)].map((w, i) => (
        <p class="warning" key={i}>⚠ {w}</p>
      ))}

    </div>
  );
}
