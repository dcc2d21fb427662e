// The console's calls into Rust: one typed function per Tauri command.
import { Channel, invoke } from "@tauri-apps/api/core";

// The types of what Rust sends are generated from the Rust types themselves (ts-rs, into
// ./bindings by `cargo test`; `make test` fails when they are stale), so a field the Rust side
// drops or renames breaks this build rather than a chart.
import type { UiError } from "./bindings/UiError";
import type { ErrorKind } from "./bindings/ErrorKind";
import type { TensorSignature } from "./bindings/TensorSignature";
import type { ModelReport } from "./bindings/ModelReport";
import type { FreeDim } from "./bindings/FreeDim";
import type { DimUse } from "./bindings/DimUse";
import type { DimSource } from "./bindings/DimSource";
import type { DataDirs } from "./bindings/DataDirs";
import type { LatencyStats } from "./bindings/LatencyStats";
import type { BenchResult } from "./bindings/BenchResult";
import type { BenchReport } from "./bindings/BenchReport";
import type { NodeStats } from "./bindings/NodeStats";
import type { OpTypeStats } from "./bindings/OpTypeStats";
import type { Operators } from "./bindings/Operators";
import type { ProfileReport } from "./bindings/ProfileReport";
import type { ProfileRecord } from "./bindings/ProfileRecord";
import type { RunSummary } from "./bindings/RunSummary";
import type { RunKind } from "./bindings/RunKind";
import type { StoredRun } from "./bindings/StoredRun";
import type { KeyInfo } from "./bindings/KeyInfo";
import type { ReleaseView } from "./bindings/ReleaseView";
import type { SavedGateway } from "./bindings/SavedGateway";
import type { Settings } from "./bindings/Settings";
import type { Environment } from "./bindings/Environment";
import type { JobSpec } from "./bindings/JobSpec";
import type { BenchEvent } from "./bindings/BenchEvent";
import type { RunSettings } from "./bindings/RunSettings";
import type { Control } from "./bindings/Control";
import type { JobEvent } from "./bindings/JobEvent";
import type { ErrorEvent } from "./bindings/ErrorEvent";
import type { ConsoleEvent } from "./bindings/ConsoleEvent";
import type { InstallEvent } from "./bindings/InstallEvent";
import type { ProfileEvent } from "./bindings/ProfileEvent";
import type { PushEvent } from "./bindings/PushEvent";
import type { DocumentEvent } from "./bindings/DocumentEvent";
import type { RuntimeListing } from "./bindings/RuntimeListing";
import type { RuntimeSource } from "./bindings/RuntimeSource";
import type { MetricSample } from "./bindings/MetricSample";
import type { Timeline } from "./bindings/Timeline";
import type { TimelineSpan } from "./bindings/TimelineSpan";
import type { RunComparison } from "./bindings/RunComparison";
import type { RowComparison } from "./bindings/RowComparison";
import type { PercentileChange } from "./bindings/PercentileChange";
import type { KeysView } from "./bindings/KeysView";
import type { Verified } from "./bindings/Verified";
import type { JobStarted } from "./bindings/JobStarted";
import type { GatewayOverview } from "./bindings/GatewayOverview";
import type { FleetStatus } from "./bindings/FleetStatus";
import type { FleetMember } from "./bindings/FleetMember";
import type { FleetEvent } from "./bindings/FleetEvent";
import type { RolloutState } from "./bindings/RolloutState";
import type { GatewayStep } from "./bindings/GatewayStep";
import type { ModelOverview } from "./bindings/ModelOverview";
import type { ShadowReport } from "./bindings/ShadowReport";
import type { CpuProfile } from "./bindings/CpuProfile";
import type { ChangeOutcome } from "./bindings/ChangeOutcome";
import type { AccuracyEvent } from "./bindings/AccuracyEvent";
import type { AccuracyReport } from "./bindings/AccuracyReport";
import type { CandidateReport } from "./bindings/CandidateReport";
import type { OutputReport } from "./bindings/OutputReport";
import type { Divergence } from "./bindings/Divergence";
import type { TensorError } from "./bindings/TensorError";
import type { ErrorBin } from "./bindings/ErrorBin";
import type { Verdict } from "./bindings/Verdict";
import type { RowAccuracy } from "./bindings/RowAccuracy";
import type { InputSettings } from "./bindings/InputSettings";
import type { ServedTarget } from "./bindings/ServedTarget";
import type { LoadFigures } from "./bindings/LoadFigures";
export type {
  AccuracyEvent,
  AccuracyReport,
  CandidateReport,
  OutputReport,
  Divergence,
  TensorError,
  ErrorBin,
  Verdict,
  RowAccuracy,
  InputSettings,
  ServedTarget,
  LoadFigures,
  JobEvent,
  ErrorEvent,
  ConsoleEvent,
  InstallEvent,
  ProfileEvent,
  PushEvent,
  DocumentEvent,
  RuntimeListing,
  RuntimeSource,
  MetricSample,
  Timeline,
  TimelineSpan,
  RunComparison,
  RowComparison,
  PercentileChange,
  KeysView,
  Verified,
  JobStarted,
  GatewayOverview,
  FleetStatus,
  FleetMember,
  FleetEvent,
  RolloutState,
  GatewayStep,
  ModelOverview,
  ShadowReport,
  CpuProfile,
  ChangeOutcome,
  UiError,
  ErrorKind,
  TensorSignature,
  ModelReport,
  FreeDim,
  DimUse,
  DimSource,
  DataDirs,
  LatencyStats,
  BenchResult,
  BenchReport,
  NodeStats,
  OpTypeStats,
  Operators,
  ProfileReport,
  ProfileRecord,
  RunSummary,
  RunKind,
  StoredRun,
  KeyInfo,
  ReleaseView,
  SavedGateway,
  Settings,
  Environment,
  JobSpec,
  BenchEvent,
  RunSettings,
  Control,
};


/** Turns whatever a rejected invoke carries into a UiError. */
export function asUiError(e: unknown): UiError {
  if (e && typeof e === "object" && "message" in e) return e as UiError;
  return { kind: "internal", message: String(e) };
}

export const api = {
  inspectModel: (path: string) => invoke<ModelReport>("inspect_model", { path }),
  modelDims: (path: string, sha256: string) => invoke<FreeDim[]>("model_dims", { path, sha256 }),
  sampleModel: () => invoke<string>("sample_model"),
  systemInfo: () => invoke<RuntimeListing>("system_info"),
  dataLocations: () => invoke<DataDirs>("data_locations"),
  startJob: (spec: JobSpec, onEvent: (e: JobEvent) => void) => {
    const channel = new Channel<JobEvent>();
    channel.onmessage = onEvent;
    return invoke<JobStarted>("start_job", { spec, onEvent: channel });
  },
  cancelJob: (id: number) => invoke<boolean>("cancel_job", { id }),
  openViewer: (model: string, runs: { profile?: string; accuracy?: string } = {}) =>
    invoke<void>("open_viewer", { model, profile: runs.profile, accuracy: runs.accuracy }),
  listRuns: (model?: string, kind?: string, limit?: number) => invoke<RunSummary[]>("list_runs", { model, kind, limit }),
  getRun: (id: string) => invoke<StoredRun>("get_run", { id }),
  compareRuns: (a: string, b: string) => invoke<RunComparison>("compare_runs", { a, b }),
  deleteRun: (id: string) => invoke<string>("delete_run", { id }),
  listKeys: () => invoke<KeysView>("list_keys"),
  generateKey: (name: string, passphrase: string) => invoke<KeyInfo>("generate_key", { name, passphrase }),
  importKey: (name: string, path: string, passphrase?: string) => invoke<KeyInfo>("import_key", { name, path, passphrase }),
  exportPublicKey: (name: string) => invoke<string>("export_public_key", { name }),
  removeKey: (name: string) => invoke<void>("remove_key", { name }),
  listReleases: () => invoke<ReleaseView[]>("list_releases"),
  verifyRelease: (dir: string, signature: string, key: string) =>
    invoke<Verified>("verify_release", { dir, signature, key }),
  listGateways: () => invoke<SavedGateway[]>("list_gateways"),
  addGateway: (name: string, url: string, token: string, caCert?: string) =>
    invoke<SavedGateway>("add_gateway", { name, url, token, caCert }),
  removeGateway: (name: string) => invoke<void>("remove_gateway", { name }),
  gatewayOverview: (name: string) => invoke<GatewayOverview>("gateway_overview", { name }),
  gatewayControl: (name: string, model: string, control: Control) => invoke<ChangeOutcome>("gateway_control", { name, model, control }),
  gatewayMetrics: (name: string) => invoke<MetricSample[]>("gateway_metrics", { name }),
  gatewayProfile: (name: string, seconds: number) => invoke<CpuProfile>("gateway_profile", { name, seconds }),
  fleetStatus: (path: string, model?: string) => invoke<FleetStatus>("fleet_status", { path, model }),
  profileTimeline: (path: string) => invoke<Timeline | null>("profile_timeline", { path }),
  exportFile: (from: string, to: string) => invoke<number>("export_file", { from, to }),
};
