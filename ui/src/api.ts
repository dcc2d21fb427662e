// The console's calls into Rust: one typed function per Tauri command.
import { invoke } from "@tauri-apps/api/core";

/** A command failure as the Rust side serializes it (src-tauri/src/error.rs). */
export interface UiError {
  kind: string;
  message: string;
  detail?: string | null;
}

export interface TensorSignature {
  name: string;
  element_type: string;
  /** null: rank unknown; a string is a symbolic dimension, null inside is unknown. */
  shape: (number | string | null)[] | null;
}

/** `assay.inspect/1`, as `assay inspect --json` prints it. */
export interface ModelReport {
  schema: string;
  file: { path: string; size_bytes: number; sha256: string };
  model: {
    producer_name: string;
    producer_version: string;
    ir_version: number;
    doc_string: string;
    opsets: { domain: string; version: number }[];
  };
  inputs: TensorSignature[];
  outputs: TensorSignature[];
  metadata: Record<string, string>;
  graph: {
    name: string;
    node_count: number;
    operators: Record<string, number>;
    parameter_count: number;
    parameter_bytes: number;
  };
}

export interface RuntimesView {
  root: string;
  installed: { version: string; flavor: string; dir: string }[];
}

/** Turns whatever a rejected invoke carries into a UiError. */
export function asUiError(e: unknown): UiError {
  if (e && typeof e === "object" && "message" in e) return e as UiError;
  return { kind: "internal", message: String(e) };
}

export const api = {
  inspectModel: (path: string) => invoke<ModelReport>("inspect_model", { path }),
  sampleModel: () => invoke<string>("sample_model"),
  runtimes: () => invoke<RuntimesView>("runtimes"),
};
