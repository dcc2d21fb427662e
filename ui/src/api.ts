// The console's calls into Rust: one typed function per Tauri command.
import { Channel, invoke } from "@tauri-apps/api/core";

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
  free_dims: FreeDim[];
  graph: {
    name: string;
    node_count: number;
    operators: Record<string, number>;
    parameter_count: number;
    parameter_bytes: number;
  };
}

/** A dynamic input dimension with the value the forms pre-fill (crates/assay-engine/src/model/dims.rs). */
export interface FreeDim {
  /** The dim_param, or `input.axis` for an unnamed dimension. */
  handle: string;
  named: boolean;
  uses: { input: string; axis: number }[];
  batch: boolean;
  value: number;
  source: "user" | "metadata" | "remembered" | "default";
  reason: string;
}

/** `assay runtime list --json`, plus the machine's fingerprint when a runtime loads. */
export interface SystemInfo {
  root: string;
  installed: { version: string; flavor: string; dir: string; library: string }[];
  active: { version?: string; library?: string; providers?: string[]; source?: string; error?: string };
  environment: {
    cpu_model: string;
    logical_cores: number;
    memory_bytes: number;
    os: string;
    gpus: { name: string; driver_version: string; memory_bytes: number }[];
  } | null;
}

export interface DataDirs {
  root: string;
  db: string;
  profiles: string;
  releases: string;
  gateways: string;
  keys: string | null;
}

export interface LatencyStats {
  mean: number; stddev: number; min: number; max: number;
  p50: number; p90: number; p95: number; p99: number; p999?: number;
}

/** One row of `assay.bench/1`. */
export interface BenchResult {
  provider: string;
  fallback: string | null;
  batch: number;
  concurrency: number;
  samples: number;
  latency_ms: LatencyStats;
  ci95_ms: Record<string, [number, number] | null>;
  unsupported_percentiles: string[];
  throughput: { inferences_per_s: number; samples_per_s: number };
  peak_rss_bytes: number | null;
  warnings: string[];
  samples_ns?: number[];
}

export interface BenchReport {
  schema: string;
  run_id: string | null;
  model: { path: string; sha256: string };
  results: BenchResult[];
  warnings: string[];
  total_s: number;
}

export interface NodeStats {
  name: string; op_type: string; provider: string; calls: number; total_ms: number;
  mean_us: number; p50_us: number; share_pct: number; per_inference_us: number;
  input_shapes: string; output_shapes: string;
  /** Flame-graph stack (frames joined by ";"); empty in old profiles. */
  stack: string;
}

export interface ProfileReport {
  schema: string;
  provider: string;
  batch: number;
  mode: string;
  inferences: number;
  overhead: { unprofiled_p50_ms: number; profiled_p50_ms: number; ratio: number };
  kernel_ms_per_inference: number;
  nodes: NodeStats[];
  op_types: { op_type: string; nodes: number; calls: number; total_ms: number; share_pct: number; per_inference_us: number; providers: string[] }[];
  files: string[];
  out_dir: string;
}

export interface RunSummary {
  id: string;
  kind: "bench" | "profile";
  created_at: number;
  model_path: string;
  model_sha256: string;
  rows: number;
  p50_ms: number | null;
  providers: string[];
}

export interface StoredRun {
  id: string;
  kind: "bench" | "profile";
  created_at: number;
  report: BenchReport;
  profile: { optimized: boolean; operators: { nodes: NodeStats[] }; folded: string; trace_path: string | null } | null;
  /** Every latency sample of each row, in row order. */
  samples_ns: number[][];
}

export interface KeyInfo { name: string; hint: string; has_private: boolean; storage: string; public_path: string }
export interface ReleaseView { dir: string; name: string; version: string; signature: string | null; metadata: Record<string, unknown> }
export interface SavedGateway { name: string; url: string; ca_cert: string | null; token_storage: string }
export interface MetricSample { name: string; labels: Record<string, string>; value: number }

/** A worker event (docs/EVENTS.md) or one of the console's terminal events. */
export type JobEvent = { event: string; [k: string]: any };

export type JobSpec =
  | { kind: "bench"; model: string; run: RunSettings; concurrency?: string }
  | { kind: "profile"; model: string; run: RunSettings; profile_iterations?: number; no_optimize?: boolean }
  | { kind: "create_release"; model: string; name: string; version: string; notes?: string; evidence?: string; dims?: string[] }
  | { kind: "sign"; dir: string; key: string; passphrase: string }
  | { kind: "push"; dir: string; signature: string; gateway: string; no_activate?: boolean }
  | { kind: "install_runtime"; gpu: boolean }
  | { kind: "report"; run: string; out: string };

export interface RunSettings {
  provider?: string; batch?: string; intra_threads?: number; warmup?: number;
  duration?: string; iterations?: number; dims?: string[];
  shapes?: string[]; fills?: string[]; inputs?: string[];
}

export type Control =
  | { action: "activate"; version: string; dims?: Record<string, number> }
  | { action: "canary"; version: string; percent: number }
  | { action: "promote" }
  | { action: "rollback" };

/** Turns whatever a rejected invoke carries into a UiError. */
export function asUiError(e: unknown): UiError {
  if (e && typeof e === "object" && "message" in e) return e as UiError;
  return { kind: "internal", message: String(e) };
}

export const api = {
  inspectModel: (path: string) => invoke<ModelReport>("inspect_model", { path }),
  modelDims: (path: string, sha256: string) => invoke<FreeDim[]>("model_dims", { path, sha256 }),
  sampleModel: () => invoke<string>("sample_model"),
  systemInfo: () => invoke<SystemInfo>("system_info"),
  dataLocations: () => invoke<DataDirs>("data_locations"),
  startJob: (spec: JobSpec, onEvent: (e: JobEvent) => void) => {
    const channel = new Channel<JobEvent>();
    channel.onmessage = onEvent;
    return invoke<{ id: number; output: string | null }>("start_job", { spec, onEvent: channel });
  },
  cancelJob: (id: number) => invoke<boolean>("cancel_job", { id }),
  listRuns: (model?: string, kind?: string, limit?: number) => invoke<RunSummary[]>("list_runs", { model, kind, limit }),
  getRun: (id: string) => invoke<StoredRun>("get_run", { id }),
  compareRuns: (a: string, b: string) => invoke<{ comparison: any; diff_flamegraph_svg: string | null }>("compare_runs", { a, b }),
  deleteRun: (id: string) => invoke<string>("delete_run", { id }),
  listKeys: () => invoke<{ dir: string; keys: KeyInfo[] }>("list_keys"),
  generateKey: (name: string, passphrase: string) => invoke<KeyInfo>("generate_key", { name, passphrase }),
  importKey: (name: string, path: string, passphrase?: string) => invoke<KeyInfo>("import_key", { name, path, passphrase }),
  exportPublicKey: (name: string) => invoke<string>("export_public_key", { name }),
  removeKey: (name: string) => invoke<void>("remove_key", { name }),
  listReleases: () => invoke<ReleaseView[]>("list_releases"),
  verifyRelease: (dir: string, signature: string, key: string) =>
    invoke<{ key_hint: string; files: number; bytes: number; root_digest: string }>("verify_release", { dir, signature, key }),
  listGateways: () => invoke<SavedGateway[]>("list_gateways"),
  addGateway: (name: string, url: string, token: string, caCert?: string) =>
    invoke<SavedGateway>("add_gateway", { name, url, token, caCert }),
  removeGateway: (name: string) => invoke<void>("remove_gateway", { name }),
  gatewayOverview: (name: string) => invoke<{ status: any; models: any[] }>("gateway_overview", { name }),
  gatewayControl: (name: string, model: string, control: Control) => invoke<any>("gateway_control", { name, model, control }),
  gatewayMetrics: (name: string) => invoke<MetricSample[]>("gateway_metrics", { name }),
  profileTimeline: (path: string) => invoke<any>("profile_timeline", { path }),
  exportFile: (from: string, to: string) => invoke<number>("export_file", { from, to }),
};
