//! `assay-gateway`: parses flags, sets up logging, and hands over to the library.

use std::{path::PathBuf, process::ExitCode};

use clap::{Parser, ValueEnum};

#[derive(Parser)]
#[command(
    name = "assay-gateway",
    version,
    about = "Serve signed Assay releases over the Open Inference Protocol (KServe v2)",
    after_help = "Every flag can also be set in the --config TOML file; flags win. See docs/GATEWAY.md."
)]
struct Args {
    /// TOML configuration file (batching and limits per model, canary analysis, TLS, ...).
    #[arg(long, env = "ASSAY_GATEWAY_CONFIG")]
    config: Option<PathBuf>,
    /// Address to listen on, IP:PORT (default 127.0.0.1:8000).
    #[arg(long)]
    listen: Option<String>,
    /// Also serve the gRPC Open Inference Protocol (KServe v2 and Triton's extras, for
    /// tritonclient.grpc and `perf_analyzer -i grpc`) here, IP:PORT (Triton's is 8001).
    #[arg(long)]
    grpc_listen: Option<String>,
    /// Folder for releases, state and the audit log.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Folder of trusted public keys (*.pem, *.pub); only releases they signed are accepted.
    #[arg(long)]
    trusted_keys: Option<PathBuf>,
    /// File holding the admin token(s), one per line.
    #[arg(long)]
    token_file: Option<PathBuf>,
    /// The admin token itself (prefer --token-file; a flag shows in `ps`).
    #[arg(long, env = "ASSAY_GATEWAY_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// TLS certificate chain (PEM); with --tls-key, serves HTTPS.
    #[arg(long)]
    tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    #[arg(long)]
    tls_key: Option<PathBuf>,
    /// ONNX Runtime library to load (otherwise found like `assay runtime list` does).
    #[arg(long, env = "ASSAY_ORT_DYLIB")]
    runtime: Option<PathBuf>,
    /// Log format.
    #[arg(long, value_enum, default_value = "text", env = "ASSAY_LOG_FORMAT")]
    log_format: LogFormat,
    /// Export request spans over OTLP/HTTP to this collector (e.g. http://127.0.0.1:4318).
    #[arg(long, env = "OTEL_EXPORTER_OTLP_ENDPOINT", value_name = "URL")]
    otlp_endpoint: Option<String>,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

/// Flushes exported spans when dropped.
struct Telemetry {
    #[cfg(feature = "otlp")]
    provider: Option<opentelemetry_sdk::trace::SdkTracerProvider>,
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        #[cfg(feature = "otlp")]
        if let Some(p) = self.provider.take()
            && let Err(e) = p.shutdown()
        {
            eprintln!("assay-gateway: flushing OTLP spans failed: {e}");
        }
    }
}

/// Logs on stderr (text or JSON) and, with an endpoint, spans over OTLP.
fn init_telemetry(format: LogFormat, otlp: Option<&str>) -> Result<Telemetry, String> {
    use tracing_subscriber::{Layer, layer::SubscriberExt, util::SubscriberInitExt};
    let filter = tracing_subscriber::EnvFilter::try_from_env("ASSAY_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,ort=warn,tower_http=warn"));
    let fmt = tracing_subscriber::fmt::layer()
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    let fmt = match format {
        LogFormat::Json => fmt.json().flatten_event(true).boxed(),
        LogFormat::Text => fmt.boxed(),
    };
    let registry = tracing_subscriber::registry().with(fmt.with_filter(filter));
    #[cfg(feature = "otlp")]
    {
        use opentelemetry::trace::TracerProvider as _;
        use opentelemetry_otlp::WithExportConfig as _;
        if let Some(endpoint) = otlp {
            let exporter = opentelemetry_otlp::SpanExporter::builder()
                .with_http()
                .with_endpoint(format!("{}/v1/traces", endpoint.trim_end_matches('/')))
                .build()
                .map_err(|e| format!("OTLP exporter for {endpoint}: {e}"))?;
            let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
                .with_batch_exporter(exporter)
                .with_resource(
                    opentelemetry_sdk::Resource::builder()
                        .with_service_name("assay-gateway")
                        .build(),
                )
                .build();
            let layer = tracing_opentelemetry::layer()
                .with_tracer(provider.tracer("assay-gateway"))
                .with_filter(
                    tracing_subscriber::filter::Targets::new()
                        .with_target("assay_gateway", tracing::Level::INFO),
                );
            registry.with(layer).init();
            return Ok(Telemetry {
                provider: Some(provider),
            });
        }
        registry.init();
        Ok(Telemetry { provider: None })
    }
    #[cfg(not(feature = "otlp"))]
    {
        if otlp.is_some() {
            return Err("this build has no OTLP support (built without the `otlp` feature)".into());
        }
        registry.init();
        Ok(Telemetry {})
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let _telemetry = match init_telemetry(args.log_format, args.otlp_endpoint.as_deref()) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("assay-gateway: {e}");
            return ExitCode::from(2);
        }
    };
    let config = match assay_gateway::config::Config::load(
        args.config.as_deref(),
        assay_gateway::config::Overrides {
            listen: args.listen,
            grpc_listen: args.grpc_listen,
            data: args.data,
            trusted_keys: args.trusted_keys,
            token_file: args.token_file,
            token: args.token,
            tls_cert: args.tls_cert,
            tls_key: args.tls_key,
            runtime: args.runtime,
        },
    ) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("assay-gateway: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("assay-gateway: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(assay_gateway::serve(config, shutdown_signal())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("assay-gateway: {e}");
            ExitCode::from(match e {
                assay_gateway::ServeError::Runtime(_) => 3,
                _ => 1,
            })
        }
    }
}
