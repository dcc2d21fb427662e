// The model's inputs as form fields, shared by Benchmark and Profile: one field per dynamic
// dimension (pre-filled with the engine's suggestion and where it came from), plus whole
// shapes, constant fills and real input files: the console's `--dim`, `--shape`, `--fill`
// and `--input`.
import { useEffect, useState } from "preact/hooks";
import { api, asUiError, type FreeDim, type RunSettings, type UiError } from "./api";
import { useModel } from "./model";

export interface InputsState {
  dims: FreeDim[];
  values: Record<string, string>;
  shapes: string;
  fills: string;
  inputs: string;
}

const SOURCE_WORDS: Record<FreeDim["source"], string> = {
  user: "given",
  metadata: "from the model's metadata",
  remembered: "last used for this model",
  default: "default",
};

/** The inputs form state for the open model; the suggestions reload when the model changes. */
export function useInputs(prefix: string) {
  const { path, report } = useModel();
  const [state, setState] = useState<InputsState>({ dims: [], values: {}, shapes: "", fills: "", inputs: "" });
  const [error, setError] = useState<UiError | null>(null);
  useEffect(() => {
    setError(null);
    if (!path || !report) {
      setState((s) => ({ ...s, dims: [], values: {} }));
      return;
    }
    api.modelDims(path, report.file.sha256).then(
      (dims) => setState((s) => ({ ...s, dims, values: Object.fromEntries(dims.map((d) => [d.handle, String(d.value)])) })),
      (e) => setError(asUiError(e)),
    );
  }, [path, report?.file.sha256]);

  /** The run settings these fields stand for; throws a UiError naming the field at fault. */
  function settings(): Pick<RunSettings, "dims" | "shapes" | "fills" | "inputs"> {
    const dims: string[] = [];
    for (const d of state.dims.filter((d) => !d.batch)) {
      const v = (state.values[d.handle] ?? "").trim();
      if (v === "") continue;
      if (!/^\d+$/.test(v)) throw { kind: "usage", message: `Dimension “${d.handle}” must be a whole number (got “${v}”)` };
      dims.push(`${d.handle}=${v}`);
    }
    const list = (label: string, text: string, pattern: RegExp, example: string) =>
      text.split(/[,\n]/).map((s) => s.trim()).filter(Boolean).map((s) => {
        if (!pattern.test(s)) throw { kind: "usage", message: `${label}: “${s}” is not like ${example}` };
        return s;
      });
    return {
      dims,
      shapes: list("Whole shapes", state.shapes, /^[^=]+=\d+([x,]\d+)*$/, "images=1x3x640x640"),
      fills: list("Constant fills", state.fills, /^[^=]+=-?[\d.eE+-]+$/, "sr=16000"),
      inputs: list("Input files", state.inputs, /^([^=]+=.+\.npy|.+\.npz)$/, "images=cat.npy or inputs.npz"),
    };
  }

  const fields = (
    <>
      {state.dims.filter((d) => !d.batch).map((d) => (
        <>
          <label for={`${prefix}-dim-${d.handle}`} key={`l-${d.handle}`}>
            Dimension <span class="mono">{d.handle}</span>
          </label>
          <span class="field-with-hint" key={`f-${d.handle}`}>
            <input
              id={`${prefix}-dim-${d.handle}`}
              data-dim={d.handle}
              class="short"
              inputMode="numeric"
              value={state.values[d.handle] ?? ""}
              onInput={(e) => {
                const v = e.currentTarget.value;
                setState((s) => ({ ...s, values: { ...s.values, [d.handle]: v } }));
              }}
            />
            <span class="muted">
              {d.uses.map((u) => `${u.input}[${u.axis}]`).join(", ")} · suggested {d.value} ({SOURCE_WORDS[d.source]}: {d.reason})
            </span>
          </span>
        </>
      ))}
      <label for={`${prefix}-shapes`}>Whole shapes</label>
      <input id={`${prefix}-shapes`} value={state.shapes} placeholder="images=1x3x640x640 (optional)"
        onInput={(e) => { const v = e.currentTarget.value; setState((s) => ({ ...s, shapes: v })); }} />
      <label for={`${prefix}-fills`}>Constant fills</label>
      <input id={`${prefix}-fills`} value={state.fills} placeholder="sr=16000 (optional)"
        onInput={(e) => { const v = e.currentTarget.value; setState((s) => ({ ...s, fills: v })); }} />
      <label for={`${prefix}-inputs`}>Input files</label>
      <input id={`${prefix}-inputs`} value={state.inputs} placeholder="images=cat.npy or inputs.npz (optional; else seeded random data)"
        onInput={(e) => { const v = e.currentTarget.value; setState((s) => ({ ...s, inputs: v })); }} />
    </>
  );
  return { fields, settings, error, dims: state.dims };
}

/** Rewrites the CLI's flag words in an error into the names of the form's fields. */
export function inFieldWords(e: UiError): UiError {
  const words: [RegExp, string][] = [
    // clap's value names after a flag ('--batch <LIST>'): the field's label says it all.
    [/(--[a-z-]+) <[A-Z][A-Z_=.]*>/g, "$1"],
    [/--dim ([^\s=]+)=(\d+)/g, "“$1” = $2"],
    [/--dim\b/g, "the Dimension fields"],
    [/--shape INPUT=\.\.\./g, "Whole shapes"],
    [/--shape\b/g, "Whole shapes"],
    [/--fill\b/g, "Constant fills"],
    [/--input\b/g, "Input files"],
    [/--batch\b/g, "Batch sizes"],
    [/--iterations\b/g, "Minimum iterations"],
    [/--duration\b/g, "Duration"],
    [/--concurrency\b/g, "Concurrency"],
    [/--warmup\b/g, "Warmup runs"],
    [/--intra-threads\b/g, "Intra-op threads"],
    [/--provider\b/g, "Provider"],
  ];
  let message = e.message;
  for (const [re, to] of words) message = message.replace(re, to);
  return { ...e, message };
}
