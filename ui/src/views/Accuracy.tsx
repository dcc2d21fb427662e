import { useState } from "preact/hooks";
import { open } from "@tauri-apps/plugin-dialog";
import {
  asUiError,
  type AccuracyEvent,
  type AccuracyReport,
  type CandidateReport,
  type TensorError,
  type UiError,
  type Verdict,
} from "../api";
import { ErrorHistogram } from "../charts/ErrorHistogram";
import { ErrorNotice } from "../ErrorNotice";
import { ReportButton } from "../ReportButton";
import { ViewerButton } from "../ViewerButton";
import { ms, sig } from "../format";
import { inFieldWords, useInputs } from "../InputFields";
import { useModel } from "../model";
import { useNav } from "../nav";
import { useJob } from "../useJob";

const VERDICT_WORDS: Record<Verdict, string> = {
  pass: "pass",
  noise: "noise",
  fail: "FAIL",
};

/** One line per candidate: a provider (`cuda`), settings (`cpu:opt=disable`) or a model file. */
export function candidateList(text: string): string[] {
  return text.split("\n").map((s) => s.trim()).filter(Boolean);
}

/** Accuracy: is the candidate still right? A reference against candidates, in the worker. */
export function Accuracy() {
  const { path } = useModel();
  const nav = useNav();
  const [reference, setReference] = useState("cpu");
  const [candidates, setCandidates] = useState("");
  const [sets, setSets] = useState("8");
  const [atol, setAtol] = useState("");
  const [rtol, setRtol] = useState("");
  const inputs = useInputs("accuracy");
  const [formError, setFormError] = useState<UiError | null>(null);
  const [progress, setProgress] = useState("");
  const job = useJob<AccuracyEvent>((e) => {
    if (e.event === "started") setProgress(`comparing ${e.candidates.length} candidate(s) on ${e.sets} input sets`);
    if (e.event === "set_done") setProgress(`input set ${e.index + 1} of ${e.sets}`);
    if (e.event === "locating") setProgress(`finding the first diverging node of ${e.candidate}: round ${e.round}, nodes ${e.from}–${e.to} of ${e.nodes}`);
  });
  const report: AccuracyReport | null = job.result?.report ?? null;

  async function addFile() {
    try {
      const f = await open({ title: "A candidate model file", filters: [{ name: "ONNX model", extensions: ["onnx"] }] });
      if (typeof f === "string") setCandidates((c) => (c.trim() ? `${c.trim()}\n${f}` : f));
    } catch (e) {
      setFormError(asUiError(e));
    }
  }

  function start() {
    if (!path) return;
    setFormError(null);
    setProgress("");
    let given;
    try {
      if (candidateList(candidates).length === 0) throw { kind: "usage", message: "Add a candidate: a provider such as cuda, settings such as cpu:opt=disable, or another model file" };
      if (!/^\d+$/.test(sets.trim()) || Number(sets) < 1) throw { kind: "usage", message: `Input sets must be a whole number of at least 1 (got “${sets}”)` };
      given = inputs.settings();
    } catch (e) {
      setFormError(asUiError(e));
      return;
    }
    job.start({
      kind: "accuracy",
      model: path,
      reference: reference.trim() || undefined,
      candidates: candidateList(candidates),
      sets: Number(sets),
      atol: atol.trim() || undefined,
      rtol: rtol.trim() || undefined,
      inputs: given,
    });
  }

  return (
    <section aria-labelledby="accuracy-title">
      <h1 id="accuracy-title">Accuracy</h1>
      {!path && <p>Open a model in <strong>Models</strong> first.</p>}
      {path && <p class="mono">{path}</p>}
      <form
        class="grid-form"
        onSubmit={(e) => {
          e.preventDefault();
          start();
        }}
      >
        <label for="accuracy-reference">Reference</label>
        <input
          id="accuracy-reference"
          value={reference}
          onInput={(e) => setReference(e.currentTarget.value)}
          title="cpu (the model on CPU at FP32), another provider, or FILE.onnx[@provider], with :opt=LEVEL and :threads=N"
        />
        <label for="accuracy-candidates">Candidates, one per line</label>
        <div>
          <textarea
            id="accuracy-candidates"
            rows={3}
            value={candidates}
            placeholder={"cuda\ntensorrt\ncpu:opt=disable\nmodel-fp16.onnx"}
            onInput={(e) => setCandidates(e.currentTarget.value)}
          />
          <div class="row">
            <button type="button" onClick={() => setCandidates((c) => `${c.trim() ? `${c.trim()}\n` : ""}cuda`)}>+ CUDA</button>
            <button type="button" onClick={() => setCandidates((c) => `${c.trim() ? `${c.trim()}\n` : ""}tensorrt`)}>+ TensorRT</button>
            <button type="button" onClick={addFile}>+ Model file…</button>
          </div>
        </div>
        <label for="accuracy-sets">Input sets</label>
        <input id="accuracy-sets" class="short" inputMode="numeric" value={sets} onInput={(e) => setSets(e.currentTarget.value)} />
        <label for="accuracy-atol">Absolute tolerance</label>
        <input id="accuracy-atol" value={atol} placeholder="1e-5, or logits=1e-3" onInput={(e) => setAtol(e.currentTarget.value)} />
        <label for="accuracy-rtol">Relative tolerance</label>
        <input id="accuracy-rtol" value={rtol} placeholder="1e-5" onInput={(e) => setRtol(e.currentTarget.value)} />
        {inputs.fields}
        <div class="actions">
          <button type="submit" disabled={!path || job.running}>Compare</button>
          {job.running && <button type="button" onClick={job.cancel}>Cancel</button>}
        </div>
      </form>
      {job.running && <p aria-live="polite"><progress aria-label="Comparing" /> {progress}</p>}
      {job.cancelled && <p role="status">The comparison was cancelled.</p>}
      {formError && <ErrorNotice error={formError} />}
      {inputs.error && <ErrorNotice error={inputs.error} />}
      {job.error && <ErrorNotice error={inFieldWords(job.error)} />}
      {report && (
        <div data-testid="accuracy-results">
          <p>
            Reference <strong>{report.reference.label}</strong> ({ms(report.reference.mean_ms)} per inference) · {report.inputs.sets} input sets
            ({report.inputs.source}, seed {report.inputs.seed}) ·{" "}
            <span data-testid="noise-floor">
              {report.noise.sets === 0
                ? "noise floor not measured"
                : report.noise.deterministic
                  ? `deterministic: bit-identical when run twice on ${report.noise.sets} sets`
                  : `not deterministic: run twice on ${report.noise.sets} sets, it differs from itself by up to ${sig(Math.max(...Object.values(report.noise.max_abs)))}`}
            </span>
            {report.run_id && <> · run {report.run_id}</>}
          </p>
          <p role="status" class={report.passed ? "good" : "worse"} data-testid="accuracy-verdict">
            {report.passed ? "Every candidate is within tolerance or the reference's own noise." : "A candidate is outside tolerance and above the reference's noise floor."}
          </p>
          <div class="row">
            <ReportButton runId={report.run_id ?? null} />
            <ViewerButton model={path} accuracy={report.run_id ?? null} />
          </div>
          {report.warnings.map((w) => <p class="warning" key={w}>{w}</p>)}
          {report.candidates.map((c, i) => (
            <Candidate key={i} candidate={c} onShowNode={nav.showNode} />
          ))}
        </div>
      )}
    </section>
  );
}

function Candidate({ candidate: c, onShowNode }: { candidate: CandidateReport; onShowNode: (node: string) => void }) {
  return (
    <section class="candidate" data-testid="accuracy-candidate" aria-label={c.subject.label}>
      <h2>
        {c.subject.label} <span class={`verdict ${c.verdict}`}>{VERDICT_WORDS[c.verdict]}</span>
      </h2>
      <p class="muted">
        {ms(c.subject.mean_ms)} per inference{c.subject.fallback && <> · <strong>fell back to CPU:</strong> {c.subject.fallback}</>}
      </p>
      <div class="scroll-x">
      <table data-testid="accuracy-outputs">
        <thead>
          <tr>
            <th>Output</th><th>Verdict</th><th class="num">Max abs</th><th class="num">Mean abs</th><th class="num">Max rel</th>
            <th class="num">p99 abs</th><th class="num">Cosine</th><th class="num">Outside tolerance</th><th class="num">Top-1</th>
            <th>Tolerance</th><th class="num">Noise floor</th>
          </tr>
        </thead>
        <tbody>
          {c.outputs.map((o) => (
            <tr key={o.name}>
              <td class="mono">{o.name}</td>
              <td><span class={`verdict ${o.verdict}`}>{VERDICT_WORDS[o.verdict]}</span></td>
              <td class="num">{sig(o.stats.max_abs)}</td>
              <td class="num">{sig(o.stats.mean_abs)}</td>
              <td class="num">{sig(o.stats.max_rel)}</td>
              <td class="num">{sig(o.stats.abs_percentiles.p99)}</td>
              <td class="num">{o.stats.cosine.toFixed(6)}</td>
              <td class="num">{o.stats.outside_tolerance} / {o.stats.elements}</td>
              <td class="num">{o.stats.top ? `${(100 * o.stats.top.top1).toFixed(1)}%` : "–"}</td>
              <td class="mono nowrap" title="absolute / relative tolerance (what is checked)">
                {sig(o.tolerance.atol)} / {sig(o.tolerance.rtol)}{o.tolerance.check !== "elementwise" && ` (${o.tolerance.check})`}
              </td>
              <td class="num">{sig(o.noise_max_abs)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      </div>
      {c.outputs.some((o) => o.stats.nonfinite.one_sided > 0) && (
        <p class="warning">NaN or Inf on one side only: {c.outputs.filter((o) => o.stats.nonfinite.one_sided > 0).map((o) => `${o.name} (${o.stats.nonfinite.one_sided})`).join(", ")}</p>
      )}
      <h3>Error distribution</h3>
      {c.outputs.map((o) => (
        <ErrorHistogram key={o.name} label={o.name} bins={o.stats.histogram} exact={o.stats.exact} atol={o.tolerance.atol} />
      ))}
      {c.divergence && (
        <div data-testid="divergence">
          <h3>First diverging node</h3>
          <p>
            <strong class="mono" data-testid="divergence-node">{c.divergence.node}</strong> ({c.divergence.op_type})
            {c.divergence.scope && <> in <span class="mono">{c.divergence.scope}</span></>} · node {c.divergence.index + 1} of {c.divergence.nodes} in
            topological order · input set {c.divergence.set} · found in {c.divergence.rounds} rounds with at most {c.divergence.max_exposed} tensors exposed
          </p>
          <div class="row">
            <button type="button" onClick={() => onShowNode(c.divergence!.node)}>Show in the profile</button>
          </div>
          <TensorTable title="Its inputs" tensors={c.divergence.inputs} />
          <TensorTable title="Its outputs" tensors={c.divergence.outputs} />
        </div>
      )}
    </section>
  );
}

const SOURCE_WORDS: Record<TensorError["source"], string> = {
  graph_input: "model input",
  initializer: "weight",
  activation: "activation",
};

function TensorTable({ title, tensors }: { title: string; tensors: TensorError[] }) {
  return (
    <table>
      <caption>{title}</caption>
      <thead>
        <tr><th>Tensor</th><th>Source</th><th class="num">Max abs</th><th class="num">Mean abs</th><th class="num">Outside tolerance</th></tr>
      </thead>
      <tbody>
        {tensors.map((t) => (
          <tr key={t.name}>
            <td class="mono">{t.name}</td>
            <td>{SOURCE_WORDS[t.source]}</td>
            {t.compared ? (
              <>
                <td class="num">{sig(t.max_abs)}</td><td class="num">{sig(t.mean_abs)}</td><td class="num">{t.outside_tolerance} / {t.elements}</td>
              </>
            ) : (
              <td colSpan={3}>not on the candidate's side (renamed or removed)</td>
            )}
          </tr>
        ))}
      </tbody>
    </table>
  );
}
