import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { save } from "@tauri-apps/plugin-dialog";
import { api, asUiError, type BenchEvent, type NodeStats, type ProfileEvent, type ProfileReport, type Timeline, type UiError } from "../api";
import { ErrorNotice } from "../ErrorNotice";
import { ReportButton } from "../ReportButton";
import { ViewerButton } from "../ViewerButton";
import { FlameGraph } from "../charts/FlameGraph";
import { ms, us } from "../format";
import { inFieldWords, useInputs } from "../InputFields";
import { useModel } from "../model";
import { useNav } from "../nav";
import { useJob } from "../useJob";


/** Profile: one configuration down to the operator, as a flame graph, a table and a timeline. */
export function Profile() {
  const { path } = useModel();
  const [batch, setBatch] = useState("1");
  const [iterations, setIterations] = useState("200");
  const [unoptimized, setUnoptimized] = useState(false);
  const inputs = useInputs("profile");
  const [formError, setFormError] = useState<UiError | null>(null);
  const [timeline, setTimeline] = useState<Timeline | null>(null);
  const [error, setError] = useState<UiError | null>(null);
  const [phase, setPhase] = useState("");
  // A node another view sent here (the accuracy comparison's first diverging node): node
  // names are the original graph's only with optimizations off, so those are turned off.
  const { node: request } = useNav();
  const focus = request?.name ?? null;
  useEffect(() => {
    if (request) setUnoptimized(true);
  }, [request]);
  const job = useJob<BenchEvent | ProfileEvent>((e) => {
    if (e.event === "phase") setPhase(e.phase);
    if (e.event === "progress") setPhase(`${e.phase}: ${e.done} inferences`);
  });
  const done = job.result && "profile" in job.result ? job.result : null;
  const profile: ProfileReport | null = done?.profile ?? null;
  const runId: string | null = done?.run_id ?? null;

  useEffect(() => {
    setTimeline(null);
    if (profile) api.profileTimeline(profile.out_dir).then(setTimeline, (e) => setError(asUiError(e)));
  }, [profile]);

  async function exportFile(file: string, label: string) {
    if (!profile) return;
    try {
      const to = await save({ title: `Save the ${label}`, defaultPath: file });
      if (!to) return;
      await api.exportFile(`${profile.out_dir}/${file}`, to);
    } catch (e) {
      setError(asUiError(e));
    }
  }

  return (
    <section aria-labelledby="profile-title">
      <h1 id="profile-title">Profile</h1>
      {!path && <p>Open a model in <strong>Models</strong> first.</p>}
      {path && <p class="mono">{path}</p>}
      <form
        class="grid-form"
        onSubmit={(e) => {
          e.preventDefault();
          if (!path) return;
          setFormError(null);
          let given;
          try {
            if (!/^\d+$/.test(batch.trim()) || Number(batch) < 1) throw { kind: "usage", message: `Batch must be a whole number of at least 1 (got “${batch}”)` };
            if (!/^\d+$/.test(iterations.trim()) || Number(iterations) < 1) throw { kind: "usage", message: `Profiled inferences must be a whole number of at least 1 (got “${iterations}”)` };
            given = inputs.settings();
          } catch (err) {
            setFormError(asUiError(err));
            return;
          }
          job.start({
            kind: "profile",
            model: path,
            run: { batch, duration: "1s", iterations: 10, ...given },
            profile_iterations: Number(iterations),
            no_optimize: unoptimized,
          });
        }}
      >
        <label for="profile-batch">Batch</label>
        <input id="profile-batch" class="short" value={batch} onInput={(e) => setBatch(e.currentTarget.value)} />
        <label for="profile-iterations">Profiled inferences</label>
        <input id="profile-iterations" class="short" value={iterations} onInput={(e) => setIterations(e.currentTarget.value)} />
        {inputs.fields}
        <span />
        <label>
          <input type="checkbox" checked={unoptimized} onChange={(e) => setUnoptimized(e.currentTarget.checked)} /> Graph optimizations off
        </label>
        <div class="actions">
          <button type="submit" disabled={!path || job.running}>Profile</button>
          {job.running && <button type="button" onClick={job.cancel}>Cancel</button>}
        </div>
      </form>
      {focus && (
        <p data-testid="profile-focus">
          Node <strong class="mono">{focus}</strong>, from the accuracy comparison:{" "}
          {!profile
            ? "profile the model (graph optimizations off, so nodes keep their names) to see what it costs."
            : profile.nodes.some((n) => n.name === focus)
              ? "picked out in the operator table below."
              : `not in this profile${profile.mode === "optimized" ? " (an optimized graph renames and fuses nodes: profile with graph optimizations off)" : ""}.`}
        </p>
      )}
      {job.running && <p aria-live="polite"><progress aria-label="Profiling" /> {phase}</p>}
      {job.cancelled && <p role="status">The profile was cancelled.</p>}
      {formError && <ErrorNotice error={formError} />}
      {inputs.error && <ErrorNotice error={inputs.error} />}
      {job.error && <ErrorNotice error={inFieldWords(job.error)} />}
      {error && <ErrorNotice error={error} />}
      {profile && (
        <div data-testid="profile-results">
          <p>
            {profile.provider} · batch {profile.batch} · {profile.mode} graph · {profile.inferences} profiled inferences ·{" "}
            {ms(profile.kernel_ms_per_inference)} kernel time per inference · profiler overhead ×{profile.overhead.ratio.toFixed(2)}
            {runId && <> · run {runId}</>}
          </p>
          <div class="row">
            Export: <button type="button" onClick={() => exportFile("flamegraph.svg", "flame graph")}>SVG</button>
            <button type="button" onClick={() => exportFile("speedscope.json", "speedscope profile")}>speedscope</button>
            <button type="button" onClick={() => exportFile("trace.json", "Chrome trace")}>Chrome trace</button>
            <ReportButton runId={runId} />
            <ViewerButton model={path} profile={runId} />
            <ViewerButton
              model={`${profile.out_dir}/trace.json`}
              label="Open the trace in the native viewer"
              title="ONNX Runtime's trace of this profile as a timeline by thread and a flame graph, at any size"
            />
          </div>
          <h2>Flame graph</h2>
          <FlameGraph key={profile.out_dir} nodes={profile.nodes} />
          <h2>Operators</h2>
          <OperatorTable nodes={profile.nodes} focus={focus} />
          {timeline && <TimelineView timeline={timeline} />}
        </div>
      )}
    </section>
  );
}

type Key = "name" | "op_type" | "provider" | "calls" | "per_inference_us" | "p50_us" | "share_pct";

export function OperatorTable({ nodes, focus }: { nodes: NodeStats[]; focus?: string | null }) {
  const [sort, setSort] = useState<{ key: Key; desc: boolean }>({ key: "per_inference_us", desc: true });
  const rows = useMemo(() => {
    const r = [...nodes];
    r.sort((a, b) => {
      const x = a[sort.key], y = b[sort.key];
      const c = typeof x === "number" ? (x as number) - (y as number) : String(x).localeCompare(String(y));
      return sort.desc ? -c : c;
    });
    // The picked-out node is shown even when it is not among the first 500.
    const top = r.slice(0, 500);
    const picked = r.find((n) => n.name === focus);
    if (picked && !top.includes(picked)) top.push(picked);
    return top;
  }, [nodes, sort, focus]);
  const pickedRow = useRef<HTMLTableRowElement>(null);
  useEffect(() => pickedRow.current?.scrollIntoView?.({ block: "center" }), [focus, nodes]);
  const th = (key: Key, label: string, num = false) => (
    <th class={num ? "num" : undefined} aria-sort={sort.key === key ? (sort.desc ? "descending" : "ascending") : "none"}>
      <button type="button" class="sort" onClick={() => setSort({ key, desc: sort.key === key ? !sort.desc : num })}>
        {label}{sort.key === key ? (sort.desc ? " ▾" : " ▴") : ""}
      </button>
    </th>
  );
  return (
    <table data-testid="operator-table">
      <thead>
        <tr>
          {th("name", "Node")}{th("op_type", "Op")}{th("provider", "Provider")}{th("calls", "Calls", true)}
          {th("per_inference_us", "Per inference", true)}{th("p50_us", "p50 per call", true)}{th("share_pct", "Share", true)}
          <th>Input shapes</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((n) => (
          <tr
            key={n.name}
            ref={n.name === focus ? pickedRow : undefined}
            class={n.name === focus ? "picked" : undefined}
            aria-selected={n.name === focus ? true : undefined}
          >
            <td class="mono">{n.name}</td><td>{n.op_type}</td><td>{n.provider.replace("ExecutionProvider", "")}</td>
            <td class="num">{n.calls}</td><td class="num">{us(n.per_inference_us)}</td><td class="num">{us(n.p50_us)}</td>
            <td class="num">{n.share_pct.toFixed(1)}%</td><td class="mono">{n.input_shapes}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** The last profiled inference, kernel by kernel; overlapping kernels go on separate lanes. */
function TimelineView({ timeline }: { timeline: Timeline }) {
  const lanes: number[] = [];
  const placed = timeline.spans.map((s) => {
    let lane = lanes.findIndex((end) => end <= s.start_us);
    if (lane < 0) lane = lanes.push(0) - 1;
    lanes[lane] = s.start_us + s.dur_us;
    return { s, lane };
  });
  const total = Math.max(timeline.inference_us, 1e-9);
  return (
    <>
      <h2>One inference in time</h2>
      <p class="muted">{us(timeline.inference_us)} end to end · {timeline.spans.length} kernels · gaps are scheduling and memory work outside kernels</p>
      <div class="timeline" style={{ height: `${lanes.length * 20}px` }} data-testid="timeline">
        {placed.map(({ s, lane }, i) => (
          <div
            key={i}
            class="span"
            title={`${s.node} (${s.op_type}) at ${us(s.start_us)} for ${us(s.dur_us)}`}
            style={{ left: `${(100 * s.start_us) / total}%`, width: `max(1px, ${(100 * s.dur_us) / total}%)`, top: `${lane * 20}px` }}
          />
        ))}
      </div>
    </>
  );
}
