// A load test of one gateway model from the console: `assay load` in the worker, charted live.
import { useRef, useState } from "preact/hooks";
import { asUiError, type BenchEvent, type BenchReport, type UiError } from "../api";
import { ErrorNotice } from "../ErrorNotice";
import { LineChart } from "../charts/LineChart";
import { ms } from "../format";
import type { EventOf } from "../useJob";
import { useJob } from "../useJob";

interface Live {
  x: number[];
  /** Requests answered per second in each progress window. */
  rate: (number | null)[];
  /** Their mean round trip. */
  mean: (number | null)[];
  label: string;
  fraction: number;
}

const emptyLive: Live = { x: [], rate: [], mean: [], label: "", fraction: 0 };

/** `1,16,64` or `200,400` as a list of positive numbers; throws a sentence otherwise. */
export function levels(label: string, text: string, whole: boolean): string | undefined {
  const parts = text.split(",").map((s) => s.trim()).filter(Boolean);
  if (parts.length === 0) return undefined;
  for (const p of parts) {
    const v = Number(p);
    if (!(v > 0) || (whole && !Number.isInteger(v))) {
      throw { kind: "usage", message: `${label}: “${p}” is not a ${whole ? "whole number" : "number"} above 0` };
    }
  }
  return parts.join(",");
}

/** Load a gateway's model with `assay load` and watch it: throughput and latency as it runs. */
export function LoadTest({ gateway, model }: { gateway: string; model: string }) {
  const [form, setForm] = useState({ mode: "closed", concurrency: "1,8", rate: "200", duration: "5s", binary: false });
  const [live, setLive] = useState<Live>(emptyLive);
  const [formError, setFormError] = useState<UiError | null>(null);
  const progress = useRef({ configs: 1, t0: 0, live: emptyLive, pending: false });

  function onEvent(e: EventOf<BenchEvent>) {
    const p = progress.current;
    if (e.event === "started") {
      p.configs = Math.max(1, e.configs);
      p.t0 = performance.now();
      p.live = { ...emptyLive };
    } else if (e.event === "config_started") {
      // A gap between levels, so one level's line does not run into the next.
      const gap = p.live.x.length ? { x: [...p.live.x, (performance.now() - p.t0) / 1000], rate: [...p.live.rate, null], mean: [...p.live.mean, null] } : {};
      p.live = { ...p.live, ...gap, label: e.concurrency > 0 ? `${e.concurrency} in flight` : "open loop" };
    } else if (e.event === "progress") {
      const seconds_ = (performance.now() - p.t0) / 1000;
      const prev = p.live.x.length ? p.live.x[p.live.x.length - 1] : 0;
      const window = Math.max(0.05, seconds_ - prev);
      p.live = {
        ...p.live,
        x: [...p.live.x, seconds_],
        rate: [...p.live.rate, e.window_count / window],
        mean: [...p.live.mean, e.window_mean_ms ?? null],
        fraction: (e.index + (e.phase === "measure" ? Math.min(1, e.elapsed_ms / Math.max(1, e.target_ms)) : 0)) / p.configs,
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

  async function start() {
    setFormError(null);
    let concurrency: string | undefined, rate: string | undefined;
    try {
      if (form.mode === "closed") concurrency = levels("Concurrency", form.concurrency, true);
      else rate = levels("Requests per second", form.rate, false);
      if (!/^\s*[\d.]+\s*(ms|s|m)?\s*$/.test(form.duration)) throw { kind: "usage", message: `Duration must be like 5s or 500ms (got “${form.duration}”)` };
    } catch (e) {
      setFormError(asUiError(e));
      return;
    }
    await job.start({ kind: "load", gateway, model, concurrency, rate, duration: form.duration, binary: form.binary });
  }

  const id = (k: string) => `load-${model}-${k}`;
  return (
    <section data-testid="load-test" data-model={model}>
      <h4>Load test</h4>
      <form
        class="row"
        onSubmit={(e) => {
          e.preventDefault();
          start();
        }}
      >
        <label for={id("mode")}>Load</label>
        <select id={id("mode")} value={form.mode} onChange={(e) => setForm({ ...form, mode: e.currentTarget.value })}>
          <option value="closed">requests in flight (closed loop)</option>
          <option value="open">requests per second (open loop)</option>
        </select>
        {form.mode === "closed" ? (
          <input class="compact" id={id("concurrency")} aria-label="Concurrency levels" style={{ width: "7em" }} value={form.concurrency} onInput={(e) => setForm({ ...form, concurrency: e.currentTarget.value })} />
        ) : (
          <input class="compact" id={id("rate")} aria-label="Requests per second" style={{ width: "7em" }} value={form.rate} onInput={(e) => setForm({ ...form, rate: e.currentTarget.value })} />
        )}
        <label for={id("duration")}>for</label>
        <input class="compact" id={id("duration")} style={{ width: "4em" }} value={form.duration} onInput={(e) => setForm({ ...form, duration: e.currentTarget.value })} />
        <label>
          <input type="checkbox" checked={form.binary} onChange={(e) => setForm({ ...form, binary: e.currentTarget.checked })} /> binary tensors
        </label>
        <button type="submit" disabled={job.running}>Run load test</button>
        {job.running && <button type="button" onClick={job.cancel}>Cancel</button>}
      </form>
      {job.running && (
        <div aria-live="polite">
          <progress value={live.fraction} max={1} aria-label="Load test progress" /> {live.label}
        </div>
      )}
      {job.cancelled && <p role="status">The load test was cancelled; nothing was recorded.</p>}
      {formError && <ErrorNotice error={formError} />}
      {job.error && <ErrorNotice error={job.error} />}
      {live.x.length > 0 && (
        <>
          <LineChart title="Requests answered per second while it runs" xLabel="seconds" yLabel="req/s" x={live.x} series={[{ label: "req/s", values: live.rate }]} height={180} />
          <LineChart title="Mean round trip of each 250 ms window" xLabel="seconds" yLabel="ms" x={live.x} series={[{ label: "mean (ms)", values: live.mean }]} height={180} />
        </>
      )}
      {report && <LoadResults report={report} />}
    </section>
  );
}

/** A load run's rows: latency percentiles (corrected for coordinated omission), throughput, errors, the client's cost. */
export function LoadResults({ report }: { report: BenchReport }) {
  return (
    <div data-testid="load-results">
      <p>
        {report.served?.server} · {report.served?.protocol}
        {report.run_id && <span class="muted"> · saved as run {report.run_id}</span>}
      </p>
      <div class="table-wrap">
        <table>
          <thead>
            <tr>
              <th>Load</th><th class="num">Requests</th><th class="num">Errors</th><th class="num">p50 [95% CI]</th><th class="num">p99 [95% CI]</th>
              <th class="num">Throughput</th><th class="num" title="the load generator's own CPU time per request">Client CPU</th>
            </tr>
          </thead>
          <tbody>
            {report.results.map((r, i) => (
              <tr key={i} data-testid="load-row">
                <td>{r.load?.offered_per_s != null ? `${r.load.offered_per_s}/s offered` : `${r.concurrency} in flight`}</td>
                <td class="num">{r.samples.toLocaleString("en-US")}</td>
                <td class="num">{r.load?.errors ?? 0}</td>
                <td class="num">{ms(r.latency_ms.p50)}<span class="ci"> [{ms(r.ci95_ms.p50[0])}–{ms(r.ci95_ms.p50[1])}]</span></td>
                <td class="num">{ms(r.latency_ms.p99)}<span class="ci"> [{ms(r.ci95_ms.p99[0])}–{ms(r.ci95_ms.p99[1])}]</span></td>
                <td class="num">{r.throughput.inferences_per_s.toFixed(0)} req/s</td>
                <td class="num">{r.load ? `${r.load.client_cpu_us_per_request.toFixed(0)} µs/req` : "—"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {[...report.warnings, ...report.results.flatMap((r) => r.warnings)].map((w, i) => (
        <p class="warning" key={i}>⚠ {w}</p>
      ))}
    </div>
  );
}
