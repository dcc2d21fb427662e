//! The command line, declared with clap. Every verb takes `--json`; long-running verbs take
//! `--events` (NDJSON progress on stdout, the console's worker protocol).

use std::{path::PathBuf, time::Duration};

use assay_engine::{
    accuracy::{ToleranceField, Tolerances},
    bench::Arrivals,
    inputs::Fill,
    session::{OptLevel, Provider},
};
use clap::{Args, Parser, Subcommand};

use crate::args;

#[derive(Debug, Parser)]
#[command(
    name = "assay",
    version,
    about = "Inspect, benchmark and profile ONNX models on ONNX Runtime"
)]
#[command(
    after_help = "Exit codes: 0 success, 1 model/runtime/IO failure, 2 usage error, 3 no ONNX Runtime found, 4 a regression gate failed (compare --fail-if-slower), 5 a release failed verification, 6 outputs outside tolerance (accuracy --fail-on-mismatch), 7 no display for the viewer."
)]
pub struct Cli {
    /// ONNX Runtime library (file, capi/ folder or install folder) instead of discovery.
    #[arg(long, global = true, value_name = "PATH")]
    pub runtime: Option<PathBuf>,

    /// Run history database (default: <data dir>/assay/assay.db).
    #[arg(long, global = true, value_name = "PATH", env = "ASSAY_DB")]
    pub db: Option<PathBuf>,

    /// More log output on stderr (-v: info, -vv: debug, including ONNX Runtime's own).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once per process
pub enum Command {
    /// Show what is in a model file: inputs, outputs, metadata, operators, parameters.
    #[command(
        after_help = "Example:\n  assay inspect assets/sample-mlp.onnx\n  assay inspect model.onnx --json | jq .graph.operators"
    )]
    Inspect(InspectArgs),

    /// Measure latency and throughput, sweeping batch, concurrency and providers.
    #[command(
        after_help = "Examples:\n  assay bench assets/sample-mlp.onnx\n  assay bench model.onnx --batch 1,8,32 --concurrency 1,4 --json --out result.json\n  assay bench vad.onnx --dim batch=1 --fill sr=16000 --provider cuda --strict-provider\n  assay bench model.onnx --input image=cat.npy --events"
    )]
    Bench(BenchArgs),

    /// Profile one configuration down to the operator: tables, flame graph, traces.
    #[command(
        after_help = "Examples:\n  assay profile assets/sample-mlp.onnx --out prof/\n  assay profile model.onnx --batch 8 --no-optimize --out prof-unopt/"
    )]
    Profile(ProfileArgs),

    /// Load any Open Inference Protocol server (assay-gateway, Triton, KServe, MLServer)
    /// over REST or gRPC: a closed-loop concurrency sweep or open-loop Poisson arrivals.
    #[command(
        after_help = "Examples:\n  assay load http://127.0.0.1:8000 mlp --concurrency 1,16,64\n  assay load grpc://127.0.0.1:8001 mlp --rate 200,400 --duration 10s\n  assay load http://127.0.0.1:8000 mlp --binary --input x=batch.npy --events\n  assay load http://127.0.0.1:8000 mlp --model-file mlp.onnx    # then: assay compare BENCH_RUN LOAD_RUN\n\nLatencies are corrected for coordinated omission: open-loop requests are timed from their scheduled send, and closed-loop stalls stand for the requests they held back. The run is recorded in the history as a `load` run; `assay compare` and `assay report` read it like a benchmark."
    )]
    Load(LoadArgs),

    /// List, show, export or delete recorded runs.
    #[command(subcommand)]
    Runs(RunsCommand),

    /// Compare two runs row by row, with confidence intervals and a verdict.
    #[command(
        after_help = "Examples:\n  assay compare 3f2a9c01 7b44e210\n  assay compare base head --fail-if-slower 5     # exit 4 on a significant >5% p50 slowdown"
    )]
    Compare(CompareArgs),

    /// Is it still right? Compare a model's outputs across providers, settings and versions,
    /// down to the first diverging node.
    #[command(
        after_help = "Examples:\n  assay accuracy model.onnx --candidate cuda --candidate tensorrt\n  assay accuracy model.onnx --candidate model-fp16.onnx --atol 1e-2 --rtol 1e-2\n  assay accuracy v1.3.onnx --candidate v1.4.onnx --fail-on-mismatch     # exit 6 on a mismatch\n  assay accuracy model.onnx --save-inputs golden-in.npz --save-outputs golden-out.npz\n  assay accuracy v2.onnx --load-inputs golden-in.npz --load-outputs golden-out.npz\n  assay accuracy model.onnx --load-inputs polygraphy-inputs.json --candidate cpu:opt=disable\n\nWith --load-outputs and no --candidate, the model itself is the candidate.\nA candidate is PROVIDER, FILE.onnx or FILE.onnx@PROVIDER, optionally with :opt=LEVEL and :threads=N.\nAn output is within tolerance when |candidate - reference| <= atol + rtol * |reference| (NumPy's isclose)."
    )]
    Accuracy(AccuracyArgs),

    /// Open a model's graph in the native viewer, with profile runs laid over it, or a trace.
    #[command(
        after_help = "Examples:\n  assay view model.onnx\n  assay view model.onnx --profile 3f2a      # time per node as heat\n  assay view model.onnx --diff 3f2a 9c1e    # the change per node between two profiles\n  assay view model.onnx --accuracy 7b10     # errors along the graph, the first diverging node\n  assay view model.onnx --node-data d.json  # Model Explorer node data as an overlay\n  assay view out/trace.json                 # a profile trace: timeline by thread, flame graph\n\nThe viewer is a window of its own (assay-viewer); without a display it exits with code 7."
    )]
    View(ViewArgs),

    /// Write one self-contained HTML report of a run: charts, flame graph, tables, environment.
    #[command(after_help = "Example:\n  assay report 3f2a9c01 --out report.html")]
    Report(ReportArgs),

    /// Install and list ONNX Runtime builds.
    #[command(subcommand)]
    Runtime(RuntimeCommand),

    /// Manage signing keys (ECDSA P-256, encrypted at rest).
    #[command(subcommand)]
    Key(KeyCommand),

    /// Create release folders.
    #[command(subcommand)]
    Release(ReleaseCommand),

    /// Sign a release folder (OpenSSF model_signing format, key-based).
    #[command(
        after_help = "Examples:\n  assay sign releases/mlp-1.0.0 --key release --signature releases/mlp-1.0.0.sig\n  ASSAY_KEY_PASSPHRASE=... assay sign rel/ --key release     # writes model.sig (model_signing's default)"
    )]
    Sign(SignArgs),

    /// Verify a release folder, or a release in an OCI registry, against its signature.
    #[command(
        after_help = "Examples:\n  assay verify releases/mlp-1.0.0 --signature releases/mlp-1.0.0.sig --public-key release.pub.pem\n  assay verify oci://registry.example:5000/models/mlp:1.0.0 --trusted-keys trusted/\n  assay verify rel/ --signature rel.sig --trusted-keys trusted/ --json\nExit code 5 when the release does not verify."
    )]
    Verify(VerifyArgs),

    /// Push a signed release to an assay-gateway or an OCI registry (resumable; progress on a TTY).
    #[command(
        after_help = "Examples:\n  assay push releases/mlp-1.0.0 --signature releases/mlp-1.0.0.sig --gateway http://gw:8000 --token-file admin.token\n  assay push releases/mlp-1.0.0 --signature releases/mlp-1.0.0.sig oci://registry.example:5000/models/mlp:1.0.0\n  ASSAY_GATEWAY_URL=https://gw ASSAY_GATEWAY_TOKEN=... assay push rel/ --signature rel.sig --no-activate\nRe-running an interrupted push resumes it. The first release of a model becomes its stable release unless --no-activate.\nExit code 5 when the gateway refuses the release (verification)."
    )]
    Push(PushArgs),

    /// Ask or steer an assay-gateway: status, releases, activate, canary, promote, rollback.
    #[command(subcommand)]
    Gateway(GatewayCommand),

    /// Roll a release out across a fleet of gateways in waves (fleet file: docs/FLEET.md).
    #[command(subcommand)]
    Fleet(FleetCommand),
}

/// How to reach a gateway's admin API.
#[derive(Debug, Args)]
pub struct GatewayConn {
    /// The gateway's base URL.
    #[arg(long, env = "ASSAY_GATEWAY_URL", value_name = "URL")]
    pub gateway: Option<String>,
    /// Admin token (prefer --token-file or ASSAY_GATEWAY_TOKEN: a flag shows in `ps`).
    #[arg(
        long,
        env = "ASSAY_GATEWAY_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub token: Option<String>,
    /// Read the admin token from this file (first line).
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// Extra CA certificate (PEM) for a gateway with a private TLS certificate.
    #[arg(long, value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
}

/// How to reach an OCI registry (credentials come from Docker's config, as for `docker`
/// and `oras`).
#[derive(Debug, Args)]
pub struct RegistryArgs {
    /// Extra CA certificate (PEM) for a registry with a private TLS certificate.
    #[arg(long, env = "ASSAY_REGISTRY_CA", value_name = "FILE")]
    pub registry_ca: Option<PathBuf>,
    /// Talk plain HTTP to the registry (a registry on a private network; ORAS's --plain-http).
    #[arg(long)]
    pub plain_http: bool,
}

#[derive(Debug, Args)]
pub struct PushArgs {
    /// The release folder (from `assay release create`).
    pub dir: PathBuf,
    /// Push to this OCI registry instead of a gateway: oci://REGISTRY/REPOSITORY[:TAG]
    /// (the tag defaults to the release's version).
    #[arg(value_name = "OCI_REFERENCE")]
    pub target: Option<String>,
    /// Its signature bundle (from `assay sign`).
    #[arg(long, value_name = "FILE")]
    pub signature: PathBuf,
    #[command(flatten)]
    pub registry: RegistryArgs,
    /// Store the release without making it stable, even if it is the model's first.
    #[arg(long)]
    pub no_activate: bool,
    /// NDJSON progress events on stdout (the console's worker protocol).
    #[arg(long)]
    pub events: bool,
    #[command(flatten)]
    pub conn: GatewayConn,
}

#[derive(Debug, Subcommand)]
pub enum GatewayCommand {
    /// Health, version, trusted keys and what each model serves.
    Status(GatewayConn),
    /// Releases the gateway holds (all models, or one).
    Releases {
        model: Option<String>,
        #[command(flatten)]
        conn: GatewayConn,
    },
    /// Make VERSION the stable release of MODEL (loaded and warmed first).
    #[command(
        after_help = "Examples:\n  assay gateway activate det 1.0.0\n  assay gateway activate det 1.0.0 --dim height=640 --dim width=640   # retry a version that failed to warm up"
    )]
    Activate {
        model: String,
        version: String,
        /// Warm up with this value for a dynamic dimension: NAME=VALUE or INPUT.AXIS=VALUE
        /// (repeatable; kept for this version, over the release's serving shapes).
        #[arg(long, value_name = "NAME=VALUE", value_parser = args::dim)]
        dim: Vec<(String, i64)>,
        /// Activate it even if its inputs or outputs break the stable release's clients
        /// (the gateway refuses that otherwise, naming each break; forcing is audited).
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        conn: GatewayConn,
    },
    /// Send PERCENT of MODEL's unpinned traffic to VERSION (0 ends the canary).
    #[command(
        after_help = "Example:\n  assay gateway canary mlp 1.1.0 20 --auto-promote-after 5000"
    )]
    Canary {
        model: String,
        version: String,
        percent: f64,
        /// Promote automatically after N canary requests once non-inferiority is significant.
        #[arg(long, value_name = "N")]
        auto_promote_after: Option<u64>,
        /// Start the canary even if its inputs or outputs break the stable release's clients
        /// (the gateway refuses that otherwise, naming each break; forcing is audited).
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        conn: GatewayConn,
    },
    /// Mirror PERCENT of the traffic MODEL's stable release serves to VERSION and compare the
    /// answers (outputs, latency, errors); clients only ever get the stable's (0 ends it).
    #[command(
        after_help = "Example:\n  assay gateway shadow mlp 1.1.0 100\n  assay gateway analysis mlp      # agreement, error sizes, latency on both sides\n  assay gateway canary mlp 1.1.0 10   # then let clients see it"
    )]
    Shadow {
        model: String,
        version: String,
        percent: f64,
        /// Shadow it even if its inputs or outputs break the stable release's clients
        /// (forcing is audited).
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        conn: GatewayConn,
    },
    /// Make the canary the stable release.
    Promote {
        model: String,
        #[command(flatten)]
        conn: GatewayConn,
    },
    /// End the canary, or (with none) return to the previous stable release.
    Rollback {
        model: String,
        #[command(flatten)]
        conn: GatewayConn,
    },
    /// Recent events of a model (pushes, swaps, automatic canary decisions).
    Events {
        model: String,
        #[command(flatten)]
        conn: GatewayConn,
    },
    /// The gateway's own CPU profile over the next seconds, as folded stacks (flamegraph.pl,
    /// inferno and speedscope read them); the heaviest stacks are printed.
    Profile {
        /// How long to sample (1 to 60 s).
        #[arg(long, default_value_t = 10, value_name = "N")]
        seconds: u64,
        /// Write the folded stacks to FILE.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        #[command(flatten)]
        conn: GatewayConn,
    },
    /// Have the gateway pull a signed release from an OCI registry, verify it against its
    /// trusted keys, and list it (the first release of a model becomes stable).
    #[command(
        after_help = "Examples:\n  assay gateway pull mlp oci://registry.example:5000/models/mlp:1.1.0\n  assay gateway pull mlp oci://registry.example:5000/models/mlp@sha256:… --no-activate\nThe gateway uses its own registry credentials and CA ([registry] in its config). Exit code 5 when the release does not verify."
    )]
    Pull {
        model: String,
        /// oci://REGISTRY/REPOSITORY:TAG, or @sha256:DIGEST to pin one manifest.
        reference: String,
        /// Keep it out of serving even if it is the model's first release.
        #[arg(long)]
        no_activate: bool,
        #[command(flatten)]
        conn: GatewayConn,
    },
    /// The live canary analysis of a model.
    Analysis {
        model: String,
        #[command(flatten)]
        conn: GatewayConn,
    },
    /// Delete a release that neither serves nor is the canary.
    Rm {
        model: String,
        version: String,
        #[command(flatten)]
        conn: GatewayConn,
    },
}

impl GatewayCommand {
    pub fn conn(&self) -> &GatewayConn {
        match self {
            GatewayCommand::Status(c) => c,
            GatewayCommand::Releases { conn, .. }
            | GatewayCommand::Activate { conn, .. }
            | GatewayCommand::Canary { conn, .. }
            | GatewayCommand::Shadow { conn, .. }
            | GatewayCommand::Promote { conn, .. }
            | GatewayCommand::Rollback { conn, .. }
            | GatewayCommand::Events { conn, .. }
            | GatewayCommand::Analysis { conn, .. }
            | GatewayCommand::Profile { conn, .. }
            | GatewayCommand::Pull { conn, .. }
            | GatewayCommand::Rm { conn, .. } => conn,
        }
    }
}

/// Where a fleet rollout's progress is saved.
#[derive(Debug, Args)]
pub struct FleetStateArgs {
    /// The saved rollout (default: <data dir>/assay/fleet/<fleet>/<model>.json).
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum FleetCommand {
    /// Every gateway of the fleet now (health, stable and canary versions), and the saved
    /// rollout of MODEL.
    Status {
        fleet: PathBuf,
        /// Also show the saved rollout of this model.
        #[arg(long)]
        model: Option<String>,
        #[command(flatten)]
        state: FleetStateArgs,
        #[arg(long)]
        json: bool,
    },
    /// Roll REFERENCE out as MODEL, wave by wave: each gateway pulls and verifies it, runs it
    /// as a canary and waits for its analysis. Run again to resume an interrupted rollout.
    #[command(
        after_help = "Examples:\n  assay fleet rollout fleet.toml sentiment oci://registry.example:5000/models/sentiment:1.4.0\n  assay fleet rollout fleet.toml sentiment oci://…@sha256:… --events   # NDJSON progress\nExit code 4 when a gateway's analysis fails (every changed gateway is rolled back); 1 when halted."
    )]
    Rollout {
        fleet: PathBuf,
        model: String,
        reference: String,
        #[command(flatten)]
        state: FleetStateArgs,
        /// NDJSON progress events on stdout (the console's worker protocol).
        #[arg(long)]
        events: bool,
        #[arg(long)]
        json: bool,
    },
    /// Ask a running rollout to stop at its next look; gateways stay as they are.
    Halt {
        fleet: PathBuf,
        model: String,
        #[command(flatten)]
        state: FleetStateArgs,
    },
    /// Undo the saved rollout of MODEL on every gateway it changed.
    Rollback {
        fleet: PathBuf,
        model: String,
        #[command(flatten)]
        state: FleetStateArgs,
        #[arg(long)]
        json: bool,
    },
}

/// Where a passphrase comes from: --passphrase-file, ASSAY_KEY_PASSPHRASE, or a prompt.
#[derive(Debug, Args)]
pub struct PassphraseArgs {
    /// Read the key passphrase from this file (first line).
    #[arg(long, value_name = "FILE")]
    pub passphrase_file: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Make a new P-256 key, stored encrypted with a passphrase.
    #[command(after_help = "Example:\n  assay key generate release")]
    Generate {
        name: String,
        #[command(flatten)]
        pass: PassphraseArgs,
        #[arg(long)]
        json: bool,
    },
    /// List keys with their fingerprints (public-key hints).
    #[command(after_help = "Example:\n  assay key list --json")]
    List {
        #[arg(long)]
        json: bool,
    },
    /// Print (or write) a key's public key as SPKI PEM.
    #[command(after_help = "Example:\n  assay key export-public release --out release.pub.pem")]
    ExportPublic {
        name: String,
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Import a PEM key made by openssl or model_signing: a private key (PKCS#8 or SEC1,
    /// encrypted or not) to sign with, or a public key to trust.
    #[command(
        after_help = "Example:\n  openssl ecparam -name prime256v1 -genkey -noout | openssl pkcs8 -topk8 -nocrypt -out k.pem\n  assay key import ci-key k.pem"
    )]
    Import {
        name: String,
        file: PathBuf,
        #[command(flatten)]
        pass: PassphraseArgs,
        #[arg(long)]
        json: bool,
    },
    /// Delete a key.
    #[command(after_help = "Example:\n  assay key rm old-key")]
    Rm {
        name: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ReleaseCommand {
    /// Copy a model, its external data and side files into a release folder with
    /// assay-release.json.
    #[command(
        after_help = "Example:\n  assay release create model.onnx --name sentiment --version 1.2.0 --evidence 3f2a9c01 --evidence 9c1e0b7a --out releases/sentiment-1.2.0"
    )]
    Create(ReleaseCreateArgs),
}

#[derive(Debug, Args)]
pub struct ReleaseCreateArgs {
    pub model: PathBuf,
    #[arg(long)]
    pub name: String,
    /// Semantic version (1.2.0, 2.0.0-rc.1).
    #[arg(long)]
    pub version: String,
    #[arg(long)]
    pub notes: Option<String>,
    /// Serving value of a dynamic dimension, signed into the release and used by gateways
    /// to warm up: NAME=VALUE or INPUT.AXIS=VALUE (repeatable; default: the evidence run's).
    #[arg(long, value_name = "NAME=VALUE", value_parser = args::dim)]
    pub dim: Vec<(String, i64)>,
    /// Recorded runs to sign in as evidence: a benchmark run, an output comparison
    /// (`assay accuracy`), or one of each (repeatable).
    #[arg(long, value_name = "RUN")]
    pub evidence: Vec<String>,
    /// Side files to include (repeatable).
    #[arg(long, value_name = "FILE")]
    pub include: Vec<PathBuf>,
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct SignArgs {
    pub dir: PathBuf,
    /// The key to sign with (see `assay key list`).
    #[arg(long)]
    pub key: String,
    /// Where to write the signature bundle (default: model.sig, model_signing's default).
    #[arg(long, value_name = "PATH")]
    pub signature: Option<PathBuf>,
    #[command(flatten)]
    pub pass: PassphraseArgs,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// A release folder, or a release in a registry: oci://REGISTRY/REPOSITORY:TAG (its
    /// signature is the referrer `assay push` attached; every layer is streamed and checked).
    #[arg(value_name = "DIR|OCI_REFERENCE")]
    pub dir: PathBuf,
    /// The signature bundle (for a folder).
    #[arg(long, value_name = "PATH")]
    pub signature: Option<PathBuf>,
    #[command(flatten)]
    pub registry: RegistryArgs,
    /// The signer's public key (SPKI PEM), or a key name from `assay key list`.
    #[arg(
        long,
        value_name = "PEM",
        conflicts_with = "trusted_keys",
        required_unless_present = "trusted_keys"
    )]
    pub public_key: Option<String>,
    /// A folder of trusted public keys; the bundle's key hint picks one.
    #[arg(long, value_name = "DIR")]
    pub trusted_keys: Option<PathBuf>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The .onnx model file.
    pub model: PathBuf,
    /// Print the assay.inspect/1 JSON document instead of text.
    #[arg(long)]
    pub json: bool,
}

/// How a model's inputs are made: shared by `bench`, `profile` and `accuracy`.
#[derive(Debug, Args)]
pub struct InputArgs {
    /// The dimension that is the batch (default: the leading axis of the first input whose
    /// leading axis is dynamic).
    #[arg(long, value_name = "NAME")]
    pub batch_dim: Option<String>,
    /// Bind a dynamic dimension: NAME=VALUE, or INPUT.AXIS=VALUE for an unnamed one
    /// (repeatable; `assay inspect` lists them with suggested values).
    #[arg(long, value_name = "NAME=VALUE", value_parser = args::dim)]
    pub dim: Vec<(String, i64)>,
    /// Give an input's full shape: INPUT=1x3x224x224 (repeatable).
    #[arg(long, value_name = "INPUT=SHAPE", value_parser = args::shape)]
    pub shape: Vec<(String, Vec<i64>)>,
    /// Real data: INPUT=FILE.npy, or FILE.npz holding arrays named after the inputs (repeatable).
    #[arg(long, value_name = "INPUT=FILE", value_parser = args::input)]
    pub input: Vec<(String, PathBuf)>,
    /// Fill an input with one value, INPUT=VALUE (sr=16000), or draw its synthetic values
    /// from a range, INPUT=LOW..HIGH (pixels=0..1) (repeatable).
    #[arg(long, value_name = "INPUT=VALUE|LOW..HIGH", value_parser = args::fill)]
    pub fill: Vec<(String, Fill)>,
    /// Seed for synthetic inputs.
    #[arg(long, default_value_t = 0x5eed, value_name = "N")]
    pub seed: u64,
    /// Range LO..HI (half-open) for synthetic integer inputs such as token ids.
    #[arg(long, default_value = "0..10", value_name = "LO..HI", value_parser = args::int_range)]
    pub int_range: (i64, i64),
}

/// The model and how to feed and run it: shared by `bench` and `profile`.
#[derive(Debug, Args)]
pub struct ModelRunArgs {
    /// The .onnx model file.
    pub model: PathBuf,
    /// Execution providers: cpu, cuda, tensorrt (comma-separated; profile uses the first).
    #[arg(long, default_value = "cpu", value_name = "LIST", value_delimiter = ',', value_parser = args::parsed::<Provider>)]
    pub provider: Vec<Provider>,
    /// Fail instead of falling back to CPU when a GPU provider cannot be used.
    #[arg(long)]
    pub strict_provider: bool,
    /// Batch sizes (comma-separated); binds the batch dimension.
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    pub batch: Vec<i64>,
    #[command(flatten)]
    pub inputs: InputArgs,
    /// Intra-op threads (default: ONNX Runtime's choice, one per physical core).
    #[arg(long, value_name = "N")]
    pub intra_threads: Option<usize>,
    /// Inter-op threads; more than 1 turns on parallel execution.
    #[arg(long, value_name = "N")]
    pub inter_threads: Option<usize>,
    /// Graph optimization level: disable, basic, extended, all.
    #[arg(long, default_value = "all", value_name = "LEVEL", value_parser = args::parsed::<OptLevel>)]
    pub opt_level: OptLevel,
    /// Minimum warmup runs per stream.
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub warmup: u64,
    /// Minimum warmup time per stream (e.g. 500ms, 1s).
    #[arg(long, default_value = "1s", value_name = "DURATION", value_parser = args::duration)]
    pub warmup_time: Duration,
    /// Minimum measured inferences per configuration.
    #[arg(long, default_value_t = 100, value_name = "N")]
    pub iterations: u64,
    /// Minimum measurement time per configuration (e.g. 2s, 30s, 1m).
    #[arg(long, default_value = "2s", value_name = "DURATION", value_parser = args::duration)]
    pub duration: Duration,
    /// Do not record the run in the history database.
    #[arg(long)]
    pub no_save: bool,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    #[command(flatten)]
    pub run: ModelRunArgs,
    /// Parallel streams to sweep, each with its own session (comma-separated).
    #[arg(long, default_value = "1", value_name = "LIST", value_delimiter = ',')]
    pub concurrency: Vec<usize>,
    /// Skip the profiled run that records which provider ran each node.
    #[arg(long)]
    pub no_placement_check: bool,
    /// Compare each row's outputs against a reference and add accuracy columns: `cpu`, or
    /// PROVIDER, FILE.onnx, FILE.onnx@PROVIDER as in `assay accuracy --reference`.
    #[arg(long, value_name = "SPEC", value_parser = args::subject)]
    pub check_against: Option<args::SubjectSpec>,
    /// Input sets each row's check compares on (set 0 is the benchmark's own inputs).
    #[arg(
        long,
        default_value_t = 4,
        value_name = "N",
        requires = "check_against"
    )]
    pub check_sets: usize,
    /// Tolerances of the check (with --check-against).
    #[command(flatten)]
    pub tolerance: ToleranceArgs,
    #[command(flatten)]
    pub output: DocumentArgs,
}

#[derive(Debug, Args)]
pub struct LoadArgs {
    /// The server: http://HOST:PORT (REST) or grpc://HOST:PORT (gRPC); https:// and
    /// grpcs:// for TLS.
    pub url: String,
    /// The model's name on the server.
    pub model: String,
    /// The model version (default: the server's choice, e.g. a gateway's canary split).
    #[arg(long, value_name = "VERSION")]
    pub model_version: Option<String>,
    /// REST only: send tensors as raw bytes after a JSON header (the binary extension).
    #[arg(long)]
    pub binary: bool,
    /// Closed loop: concurrency levels to sweep (comma-separated; the default is 1).
    #[arg(
        long,
        value_name = "LIST",
        value_delimiter = ',',
        conflicts_with = "rate"
    )]
    pub concurrency: Vec<usize>,
    /// Open loop: requests per second, Poisson arrivals (comma-separated levels).
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    pub rate: Vec<f64>,
    /// Open loop: how requests are spaced: poisson (independent arrivals, as real traffic)
    /// or constant (evenly spaced).
    #[arg(long, default_value = "poisson", value_name = "KIND", value_parser = args::arrivals, requires = "rate")]
    pub arrivals: Arrivals,
    /// Open loop: the most requests in flight at once.
    #[arg(long, default_value_t = 1024, value_name = "N")]
    pub max_in_flight: usize,
    /// Batch size (binds the batch dimension of the served model's inputs).
    #[arg(long, value_name = "N")]
    pub batch: Option<i64>,
    #[command(flatten)]
    pub inputs: InputArgs,
    /// Load before each level's measurement, not measured.
    #[arg(long, default_value = "1s", value_name = "DURATION", value_parser = args::duration)]
    pub warmup_time: Duration,
    /// How long each level is measured.
    #[arg(long, default_value = "5s", value_name = "DURATION", value_parser = args::duration)]
    pub duration: Duration,
    /// A request that takes longer counts as an error.
    #[arg(long, default_value = "30s", value_name = "DURATION", value_parser = args::duration)]
    pub timeout: Duration,
    /// The .onnx file the server serves: records the run under its digest, so `assay
    /// compare` pairs it with in-process benchmarks of the same model.
    #[arg(long, value_name = "FILE")]
    pub model_file: Option<PathBuf>,
    /// Extra CA certificate (PEM) for an https:// or grpcs:// server with a private
    /// certificate (the system's roots are trusted too).
    #[arg(long, value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,
    /// Bearer token for a server that wants one.
    #[arg(
        long,
        env = "ASSAY_LOAD_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub token: Option<String>,
    /// Do not record the run in the history database.
    #[arg(long)]
    pub no_save: bool,
    #[command(flatten)]
    pub output: DocumentArgs,
}

#[derive(Debug, Args)]
pub struct ProfileArgs {
    #[command(flatten)]
    pub run: ModelRunArgs,
    /// Folder for operators.csv/json, flamegraph.svg/.folded, speedscope.json, trace.json.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Profile with graph optimizations off, so node names map to the original graph.
    #[arg(long)]
    pub no_optimize: bool,
    /// Profiled inferences (the unprofiled comparison uses --iterations/--duration).
    #[arg(long, default_value_t = 200, value_name = "N")]
    pub profile_iterations: u64,
    /// Print the assay.profile/1 JSON document on stdout.
    #[arg(long, conflicts_with = "events")]
    pub json: bool,
    /// Progress and the result as NDJSON events on stdout.
    #[arg(long)]
    pub events: bool,
}

#[derive(Debug, Subcommand)]
pub enum RunsCommand {
    /// Recorded runs, newest first.
    #[command(after_help = "Example:\n  assay runs list --model sample-mlp --limit 10")]
    List {
        /// Only runs of this model (sha256 prefix or path fragment).
        #[arg(long)]
        model: Option<String>,
        /// Only `bench`, `profile` or `accuracy` runs (output comparisons).
        #[arg(long)]
        kind: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: i64,
        #[arg(long)]
        json: bool,
    },
    /// One run's rows, settings and environment.
    #[command(after_help = "Example:\n  assay runs show 3f2a")]
    Show {
        /// Run id (a unique prefix is enough).
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// A run as JSON, with every latency sample.
    #[command(after_help = "Example:\n  assay runs export 3f2a --out run.json")]
    Export {
        id: String,
        /// Write to FILE instead of stdout.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Merge another history database into this one (runs already present are kept).
    #[command(
        after_help = "Example:\n  assay runs import ~/.local/share/dev.assay.console/assay.db"
    )]
    Import {
        /// The other database (it is left in place).
        from: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Delete runs (samples and profiles included).
    #[command(after_help = "Example:\n  assay runs rm 3f2a 7b44")]
    Rm {
        #[arg(required = true)]
        ids: Vec<String>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct AccuracyArgs {
    /// The .onnx model file (the reference, and every candidate that names no other file).
    pub model: PathBuf,
    /// A candidate: PROVIDER, FILE.onnx or FILE.onnx@PROVIDER, with :opt=LEVEL and
    /// :threads=N (repeatable).
    #[arg(long = "candidate", value_name = "SPEC", value_parser = args::subject)]
    pub candidates: Vec<args::SubjectSpec>,
    /// The reference, in the same form (default: the model on CPU).
    #[arg(long, default_value = "cpu", value_name = "SPEC", value_parser = args::subject)]
    pub reference: args::SubjectSpec,
    #[command(flatten)]
    pub tolerance: ToleranceArgs,
    #[command(flatten)]
    pub inputs: InputArgs,
    /// Synthetic input sets to compare on (set i uses the seed plus i).
    #[arg(long, default_value_t = 8, value_name = "N")]
    pub sets: usize,
    /// Input sets saved earlier: an .npz from --save-inputs, or Polygraphy's JSON.
    #[arg(long, value_name = "FILE")]
    pub load_inputs: Option<PathBuf>,
    /// Reference outputs saved earlier (.npz or Polygraphy's JSON), compared against instead
    /// of running the reference.
    #[arg(long, value_name = "FILE")]
    pub load_outputs: Option<PathBuf>,
    /// Save the input sets to an .npz.
    #[arg(long, value_name = "FILE.npz")]
    pub save_inputs: Option<PathBuf>,
    /// Save the reference's outputs to an .npz (golden outputs for --load-outputs).
    #[arg(long, value_name = "FILE.npz")]
    pub save_outputs: Option<PathBuf>,
    /// Sets the reference runs twice to measure its own run-to-run noise (0: skip).
    #[arg(long, default_value_t = 4, value_name = "N")]
    pub noise_sets: usize,
    /// Do not search for the first diverging node of a failing candidate.
    #[arg(long)]
    pub no_locate: bool,
    /// Intermediate tensors one round of that search exposes at most (bounds its memory).
    #[arg(long, default_value_t = 16, value_name = "N")]
    pub locate_batch: usize,
    /// Intra-op threads of every side without :threads=N.
    #[arg(long, value_name = "N")]
    pub intra_threads: Option<usize>,
    /// Fail instead of falling back to CPU when a GPU provider cannot be used.
    #[arg(long)]
    pub strict_provider: bool,
    /// Exit with code 6 when a candidate fails (outside tolerance and above the noise floor).
    #[arg(long)]
    pub fail_on_mismatch: bool,
    /// Do not record the comparison in the history database.
    #[arg(long)]
    pub no_save: bool,
    #[command(flatten)]
    pub output: DocumentArgs,
}

#[derive(Debug, Args)]
pub struct ViewArgs {
    /// The .onnx model, or a profile trace (the trace.json `assay profile` writes, or another
    /// Chrome trace in its array form) to see as a timeline and a flame graph.
    pub model: PathBuf,
    /// A profile run of this model (`assay runs list`), shown as time per node.
    #[arg(long, value_name = "RUN")]
    pub profile: Option<String>,
    /// Two profile runs of this model: the change per node from the first to the second.
    #[arg(long, num_args = 2, value_names = ["RUN_A", "RUN_B"])]
    pub diff: Option<Vec<String>>,
    /// An accuracy comparison of this model: the errors along the graph and the first
    /// diverging node.
    #[arg(long, value_name = "RUN")]
    pub accuracy: Option<String>,
    /// A Model Explorer node data file (JSON) to lay over the graph, keyed by node name or
    /// output tensor name.
    #[arg(long, value_name = "FILE")]
    pub node_data: Option<PathBuf>,
}

/// When two outputs agree: shared by `accuracy` and `bench --check-against`.
#[derive(Debug, Args)]
pub struct ToleranceArgs {
    /// Absolute tolerance: VALUE for every output, OUTPUT=VALUE for one (repeatable; default 1e-5).
    #[arg(long, value_name = "[OUTPUT=]VALUE", value_parser = args::atol)]
    pub atol: Vec<String>,
    /// Relative tolerance, to the reference's value (repeatable; default 1e-5).
    #[arg(long, value_name = "[OUTPUT=]VALUE", value_parser = args::rtol)]
    pub rtol: Vec<String>,
    /// What is checked: elementwise (every element), mean, median or max of the errors.
    #[arg(long, value_name = "[OUTPUT=]STAT", value_parser = args::check)]
    pub check: Vec<String>,
}

impl ToleranceArgs {
    pub fn given(&self) -> bool {
        !(self.atol.is_empty() && self.rtol.is_empty() && self.check.is_empty())
    }

    /// The tolerances: each value was checked by its flag's parser; applied in the order
    /// given per flag.
    pub fn tolerances(&self) -> anyhow::Result<Tolerances> {
        let mut t = Tolerances::default();
        for (field, values) in [
            (ToleranceField::Atol, &self.atol),
            (ToleranceField::Rtol, &self.rtol),
            (ToleranceField::Check, &self.check),
        ] {
            for v in values {
                t.set(field, v).map_err(anyhow::Error::msg)?;
            }
        }
        Ok(t)
    }
}

/// How a long job reports: its versioned JSON document (`assay.bench/1`,
/// `assay.accuracy/1`), or NDJSON events for the console's worker.
#[derive(Debug, Args)]
pub struct DocumentArgs {
    /// Print the JSON document on stdout.
    #[arg(long, conflicts_with = "events")]
    pub json: bool,
    /// Write the JSON document to FILE (atomically).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Print progress and the result as NDJSON events on stdout (docs/EVENTS.md).
    #[arg(long)]
    pub events: bool,
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The baseline run.
    pub a: String,
    /// The run compared against it.
    pub b: String,
    /// Exit with code 4 when a row's p50 is significantly slower by more than PCT percent.
    #[arg(long, value_name = "PCT")]
    pub fail_if_slower: Option<f64>,
    /// Where to write the differential flame graph when both runs have profiles.
    #[arg(long, value_name = "FILE")]
    pub diff_flamegraph: Option<PathBuf>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Run id (a unique prefix is enough).
    pub run: String,
    /// The HTML file to write.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Also write every chart as SVG and PNG into DIR.
    #[arg(long, value_name = "DIR")]
    pub charts: Option<PathBuf>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum RuntimeCommand {
    /// Fetch the official ONNX Runtime wheel and install its libraries.
    #[command(
        after_help = "Examples:\n  assay runtime install\n  assay runtime install --gpu\n  assay runtime install --from-wheel ./onnxruntime-1.31.1-cp311-cp311-manylinux_2_28_x86_64.whl\n  assay runtime install --index-url https://my-mirror.example/simple"
    )]
    Install(InstallArgs),
    /// Show installed runtimes, the active one and its execution providers.
    #[command(after_help = "Example:\n  assay runtime list --json")]
    List(ListArgs),
}

#[derive(Debug, Args)]
pub struct InstallArgs {
    /// The GPU build (onnxruntime-gpu) plus the CUDA 13 and cuDNN 9 wheels it needs.
    #[arg(long)]
    pub gpu: bool,
    /// ONNX Runtime version.
    #[arg(long, default_value = assay_engine::runtime::DEFAULT_VERSION)]
    pub version: String,
    /// Install from a wheel already on disk.
    #[arg(long, value_name = "FILE", conflicts_with = "index_url")]
    pub from_wheel: Option<PathBuf>,
    /// A PEP 503 simple index to fetch from (default: your pip configuration).
    #[arg(long, value_name = "URL")]
    pub index_url: Option<String>,
    /// Require the wheel to have this SHA-256.
    #[arg(long, value_name = "HEX")]
    pub sha256: Option<String>,
    /// Reinstall even if this version is installed.
    #[arg(long)]
    pub force: bool,
    /// Print the install record as JSON.
    #[arg(long, conflicts_with = "events")]
    pub json: bool,
    /// Progress and result as NDJSON events on stdout.
    #[arg(long)]
    pub events: bool,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_command_line_is_well_formed() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
