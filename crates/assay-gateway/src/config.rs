//! Configuration: a TOML file (`--config`) overlaid by command-line flags. Everything has a
//! default except the three things a server cannot guess: where its data lives, which keys it
//! trusts and who its administrators are.
//!
//! ```toml
//! listen = "0.0.0.0:8000"
//! grpc_listen = "0.0.0.0:8001"      # the gRPC Open Inference Protocol (off unless given)
//! data = "/var/lib/assay-gateway"
//! trusted_keys = "/etc/assay/trusted-keys"
//! token_file = "/etc/assay/admin-token"
//!
//! [limits]
//! max_request_bytes = 67108864    # one inference request body
//! request_timeout_ms = 30000      # queue + compute, per request
//! max_release_bytes = 68719476736 # one pushed release
//! rate_limit_per_second = 500     # per token (or per client address), optional
//!
//! [defaults]                      # every model, unless [models.NAME] says otherwise
//! max_batch_size = 64
//! dynamic_batching = true
//! max_queue_delay_us = 0
//! queue_size = 1024
//! instances = 2
//! calibrate_batching = true       # cap merged batches where their cost per row stops falling
//! solo_threads = 2                # a batch formed while every session is idle runs on all cores
//! solo_spin_us = 200              # ... whose threads spin this long between parallel sections
//!
//! [models.sentiment]
//! max_queue_delay_us = 500
//!
//! [canary]
//! window = 2000                   # outcomes per version in the sliding window
//! min_requests = 50
//! alpha = 0.01
//! non_inferiority_margin = 0.01
//!
//! [shadow]
//! queue = 256                     # mirrored requests waiting; more are dropped (and counted)
//! concurrency = 4                 # mirrored requests the shadow runs at once
//! atol = 1e-5                     # output tolerance (NumPy's isclose, as `assay accuracy`)
//! rtol = 1e-5
//! max_disagreement = 0.01         # end the shadow automatically above this rate (optional)
//! min_compared = 100              # ... once this many requests were compared
//!
//! [registry]                      # OCI registries releases are pulled from
//! host = "registry.example:5000"  # the registry the credentials and plain_http are for
//! ca_cert = "/etc/assay/registry-ca.pem"   # a private CA (else the system's roots)
//! plain_http = false
//! username = "robot"              # else Docker's config ($DOCKER_CONFIG/config.json)
//! password_file = "/etc/assay/registry-password"
//!
//! [[watch]]                       # pull and serve new tags of a repository, polling
//! model = "sentiment"
//! repository = "oci://registry.example:5000/models/sentiment"
//! tags = "1.*"                    # a glob; the highest semantic version that matches wins
//! interval_s = 30
//! ```

use std::{
    collections::BTreeMap,
    net::SocketAddr,
    path::{Path, PathBuf},
    time::Duration,
};

use serde::Deserialize;

/// How long the solo session's idle threads spin before they sleep, unless configured: long
/// enough to bridge the gaps between one run's parallel sections, short enough that the
/// threads are asleep again soon after the run (see `backend::onnx`).
pub const DEFAULT_SOLO_SPIN_US: u32 = 200;
/// The longest spin a configuration may ask for.
const MAX_SOLO_SPIN_US: u32 = 10_000;

/// The TOML file, every field optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub listen: Option<String>,
    pub grpc_listen: Option<String>,
    pub data: Option<PathBuf>,
    pub trusted_keys: Option<PathBuf>,
    pub token: Option<String>,
    pub token_file: Option<PathBuf>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// ONNX Runtime library (otherwise discovered like the CLI does).
    pub runtime: Option<PathBuf>,
    #[serde(default)]
    pub limits: LimitsFile,
    #[serde(default)]
    pub canary: CanaryFile,
    #[serde(default)]
    pub shadow: ShadowFile,
    #[serde(default)]
    pub registry: RegistryFile,
    #[serde(default)]
    pub watch: Vec<WatchFile>,
    #[serde(default)]
    pub defaults: ModelFile,
    #[serde(default)]
    pub models: BTreeMap<String, ModelFile>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsFile {
    pub max_request_bytes: Option<usize>,
    pub request_timeout_ms: Option<u64>,
    pub max_release_bytes: Option<u64>,
    pub rate_limit_per_second: Option<u32>,
    pub rate_limit_burst: Option<u32>,
    /// When set, inference also needs a bearer token: one of these or an admin token.
    pub inference_token_file: Option<PathBuf>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelFile {
    pub max_batch_size: Option<usize>,
    pub dynamic_batching: Option<bool>,
    pub max_queue_delay_us: Option<u64>,
    pub preferred_batch_size: Option<Vec<usize>>,
    pub queue_size: Option<usize>,
    pub instances: Option<usize>,
    pub intra_threads: Option<usize>,
    /// Measure at load how many rows a batch should merge (default true; see
    /// `backend::calibrate`).
    pub calibrate_batching: Option<bool>,
    /// Intra-op threads of the solo session, which runs a batch formed while every other
    /// session is idle (default: every core, when that is more than `intra_threads` and
    /// there are several instances; 0 = no solo session).
    pub solo_threads: Option<usize>,
    /// How long, in µs, the solo session's idle threads spin for work before they sleep
    /// (0 = they sleep at once, as the pooled sessions' threads always do).
    pub solo_spin_us: Option<u32>,
    /// `cpu` or `cuda` (a GPU provider falls back to CPU, with a warning, when unusable).
    pub provider: Option<assay_engine::session::Provider>,
    /// Warm-up values for dynamic dimensions, by handle (`height = 640`, `"x.3" = 320`);
    /// they beat the release's serving shapes.
    pub dims: Option<std::collections::BTreeMap<String, i64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CanaryFile {
    pub window: Option<usize>,
    pub min_requests: Option<u64>,
    pub alpha: Option<f64>,
    pub non_inferiority_margin: Option<f64>,
    pub interval_ms: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShadowFile {
    pub queue: Option<usize>,
    pub concurrency: Option<usize>,
    pub atol: Option<f64>,
    pub rtol: Option<f64>,
    pub max_disagreement: Option<f64>,
    pub min_compared: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryFile {
    /// The registry (`host[:port]`) the credentials and `plain_http` are for.
    pub host: Option<String>,
    pub ca_cert: Option<PathBuf>,
    pub plain_http: Option<bool>,
    pub username: Option<String>,
    pub password_file: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WatchFile {
    pub model: String,
    pub repository: String,
    pub tags: Option<String>,
    pub interval_s: Option<u64>,
}

/// A repository the gateway follows: the newest matching tag is pulled, verified and made
/// stable, so every replica with the same watch converges on the same signed version.
#[derive(Debug, Clone)]
pub struct Watch {
    pub model: String,
    pub repository: assay_release::oci::OciReference,
    pub tags: glob::Pattern,
    pub interval: Duration,
}

/// Shadow settings, resolved.
#[derive(Debug, Clone)]
pub struct ShadowSettings {
    pub queue: usize,
    pub concurrency: usize,
    pub tolerance: assay_engine::accuracy::Tolerance,
    pub max_disagreement: Option<f64>,
    pub min_compared: u64,
}

/// Batching and limits for one model, resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelSettings {
    /// Rows per execution when batching (also what the Triton config advertises).
    pub max_batch_size: usize,
    pub dynamic_batching: bool,
    pub max_queue_delay: Duration,
    pub preferred_batch_size: Vec<usize>,
    pub queue_size: usize,
    pub instances: usize,
    pub intra_threads: Option<usize>,
    /// Whether the batch size is capped where batching stops paying, as measured at load.
    pub calibrate_batching: bool,
    /// Intra-op threads of the solo session (0: none).
    pub solo_threads: usize,
    /// µs the solo session's idle threads spin before they sleep (0: no spinning).
    pub solo_spin_us: u32,
    pub provider: assay_engine::session::Provider,
}

/// Canary analysis settings.
#[derive(Debug, Clone)]
pub struct CanarySettings {
    pub window: usize,
    pub min_requests: u64,
    pub alpha: f64,
    pub non_inferiority_margin: f64,
    pub interval: Duration,
}

/// The resolved configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    /// Where the gRPC Open Inference Protocol is served, when it is.
    pub grpc_listen: Option<SocketAddr>,
    pub data: PathBuf,
    pub trusted_keys: PathBuf,
    pub admin_tokens: Vec<String>,
    pub inference_tokens: Option<Vec<String>>,
    pub tls: Option<(PathBuf, PathBuf)>,
    pub runtime: Option<PathBuf>,
    pub max_request_bytes: usize,
    pub request_timeout: Duration,
    pub max_release_bytes: u64,
    pub rate_limit: Option<(u32, u32)>,
    pub canary: CanarySettings,
    pub shadow: ShadowSettings,
    /// How to reach the registries releases are pulled from.
    pub registry: assay_release::oci::RegistryOptions,
    pub watches: Vec<Watch>,
    defaults: ModelFile,
    models: BTreeMap<String, ModelFile>,
}

/// Command-line values that override the file.
#[derive(Debug, Default)]
pub struct Overrides {
    pub listen: Option<String>,
    pub grpc_listen: Option<String>,
    pub data: Option<PathBuf>,
    pub trusted_keys: Option<PathBuf>,
    pub token_file: Option<PathBuf>,
    pub token: Option<String>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub runtime: Option<PathBuf>,
}

/// A configuration problem, named precisely.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(pub String);

impl Config {
    /// Reads `file` (if any) and applies `over`.
    pub fn load(file: Option<&Path>, over: Overrides) -> Result<Config, ConfigError> {
        let f: FileConfig = match file {
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .map_err(|e| ConfigError(format!("{}: {e}", p.display())))?;
                toml::from_str(&text).map_err(|e| ConfigError(format!("{}: {e}", p.display())))?
            }
            None => FileConfig::default(),
        };
        Config::resolve(f, over)
    }

    fn resolve(f: FileConfig, over: Overrides) -> Result<Config, ConfigError> {
        let listen_text = over
            .listen
            .or(f.listen)
            .unwrap_or_else(|| "127.0.0.1:8000".into());
        let listen: SocketAddr = listen_text.parse().map_err(|_| {
            ConfigError(format!(
                "listen address '{listen_text}' is not IP:PORT (like 0.0.0.0:8000)"
            ))
        })?;
        let grpc_listen = over
            .grpc_listen
            .or(f.grpc_listen)
            .map(|text| {
                text.parse::<SocketAddr>().map_err(|_| {
                    ConfigError(format!(
                        "grpc_listen address '{text}' is not IP:PORT (like 0.0.0.0:8001)"
                    ))
                })
            })
            .transpose()?;
        if grpc_listen.is_some_and(|g| g == listen && g.port() != 0) {
            return Err(ConfigError(format!(
                "grpc_listen and listen are both {listen}; gRPC needs a port of its own"
            )));
        }
        let data = over
            .data
            .or(f.data)
            .ok_or_else(|| ConfigError("no data directory: give --data DIR".into()))?;
        let trusted_keys = over.trusted_keys.or(f.trusted_keys).ok_or_else(|| {
            ConfigError("no trusted keys: give --trusted-keys DIR (public keys, *.pem)".into())
        })?;
        let mut admin_tokens = Vec::new();
        if let Some(t) = over.token.or(f.token) {
            admin_tokens.push(t);
        }
        if let Some(p) = over.token_file.or(f.token_file) {
            admin_tokens.extend(read_tokens(&p)?);
        }
        if admin_tokens.is_empty() {
            return Err(ConfigError(
                "no admin token: give --token-file FILE (or ASSAY_GATEWAY_TOKEN)".into(),
            ));
        }
        if let Some(short) = admin_tokens.iter().find(|t| t.len() < 16) {
            return Err(ConfigError(format!(
                "an admin token is {} characters long; use at least 16 (e.g. `openssl rand -hex 32`)",
                short.len()
            )));
        }
        let inference_tokens = f
            .limits
            .inference_token_file
            .as_deref()
            .map(read_tokens)
            .transpose()?;
        let tls = match (over.tls_cert.or(f.tls_cert), over.tls_key.or(f.tls_key)) {
            (Some(c), Some(k)) => Some((c, k)),
            (None, None) => None,
            _ => {
                return Err(ConfigError(
                    "TLS needs both --tls-cert and --tls-key".into(),
                ));
            }
        };
        let limits = &f.limits;
        let canary = CanarySettings {
            window: f.canary.window.unwrap_or(2000).max(10),
            min_requests: f.canary.min_requests.unwrap_or(50),
            alpha: f.canary.alpha.unwrap_or(0.01),
            non_inferiority_margin: f.canary.non_inferiority_margin.unwrap_or(0.01),
            interval: Duration::from_millis(f.canary.interval_ms.unwrap_or(500)),
        };
        if !(0.0..0.5).contains(&canary.alpha) || canary.alpha == 0.0 {
            return Err(ConfigError(format!(
                "canary.alpha {} must be in (0, 0.5)",
                canary.alpha
            )));
        }
        let sf = &f.shadow;
        let shadow = ShadowSettings {
            queue: sf.queue.unwrap_or(256).max(1),
            concurrency: sf.concurrency.unwrap_or(4).max(1),
            tolerance: assay_engine::accuracy::Tolerance {
                atol: sf.atol.unwrap_or(1e-5),
                rtol: sf.rtol.unwrap_or(1e-5),
                check: assay_engine::accuracy::CheckStat::Elementwise,
            },
            max_disagreement: sf.max_disagreement,
            min_compared: sf.min_compared.unwrap_or(100).max(1),
        };
        if let Some(m) = shadow.max_disagreement
            && !(0.0..1.0).contains(&m)
        {
            return Err(ConfigError(format!(
                "shadow.max_disagreement {m} must be in [0, 1)"
            )));
        }
        if shadow.tolerance.atol < 0.0 || shadow.tolerance.rtol < 0.0 {
            return Err(ConfigError(
                "shadow.atol and shadow.rtol must not be negative".into(),
            ));
        }
        let rf = &f.registry;
        let credentials = match (&rf.username, &rf.password_file) {
            (Some(u), Some(p)) => {
                let text = std::fs::read_to_string(p).map_err(|e| {
                    ConfigError(format!("registry.password_file {}: {e}", p.display()))
                })?;
                Some((u.clone(), text.trim_end_matches(['\r', '\n']).to_string()))
            }
            (None, None) => None,
            _ => {
                return Err(ConfigError(
                    "registry.username and registry.password_file go together".into(),
                ));
            }
        };
        let plain_http = rf.plain_http.unwrap_or(false);
        if (credentials.is_some() || plain_http) && rf.host.is_none() {
            return Err(ConfigError(
                "registry.host is required with registry credentials or plain_http: they are for that registry only, so a pull from any other host never receives the password".into(),
            ));
        }
        let registry = assay_release::oci::RegistryOptions {
            ca_cert: rf.ca_cert.clone(),
            plain_http,
            credentials,
            host: rf.host.clone(),
        };
        let mut watches = Vec::new();
        for w in &f.watch {
            let repository = assay_release::oci::OciReference::parse(&w.repository)
                .map_err(|e| ConfigError(format!("watch for {}: {e}", w.model)))?;
            if repository.tag.is_some() || repository.digest.is_some() {
                return Err(ConfigError(format!(
                    "watch for {}: {} names a tag or digest; give the repository, and the tags to follow with tags = \"1.*\"",
                    w.model, w.repository
                )));
            }
            assay_release::release::check_release_name(&w.model)
                .map_err(|e| ConfigError(format!("watch: {e}")))?;
            let pattern = w.tags.clone().unwrap_or_else(|| "*".into());
            let tags = glob::Pattern::new(&pattern).map_err(|e| {
                ConfigError(format!("watch for {}: tags '{pattern}': {e}", w.model))
            })?;
            watches.push(Watch {
                model: w.model.clone(),
                repository,
                tags,
                interval: Duration::from_secs(w.interval_s.unwrap_or(30).max(1)),
            });
        }
        let config = Config {
            listen,
            grpc_listen,
            data,
            trusted_keys,
            admin_tokens,
            inference_tokens,
            tls,
            runtime: over.runtime.or(f.runtime),
            max_request_bytes: limits.max_request_bytes.unwrap_or(64 << 20),
            request_timeout: Duration::from_millis(limits.request_timeout_ms.unwrap_or(30_000)),
            max_release_bytes: limits.max_release_bytes.unwrap_or(64 << 30),
            rate_limit: limits
                .rate_limit_per_second
                .map(|r| (r.max(1), limits.rate_limit_burst.unwrap_or(r).max(1))),
            canary,
            shadow,
            registry,
            watches,
            defaults: f.defaults,
            models: f.models,
        };
        // Fail at start-up, not at the first push, on a bad per-model section.
        config.model_settings("")?;
        for name in config.models.keys() {
            config.model_settings(name)?;
        }
        Ok(config)
    }

    /// Warm-up values for `model`'s dynamic dimensions: its own section's over `[defaults]`.
    pub fn model_dims(&self, model: &str) -> std::collections::BTreeMap<String, i64> {
        let mut dims = self.defaults.dims.clone().unwrap_or_default();
        if let Some(own) = self.models.get(model).and_then(|m| m.dims.as_ref()) {
            dims.extend(own.iter().map(|(k, v)| (k.clone(), *v)));
        }
        dims
    }

    /// The batching and limits for `model`: its own section over `[defaults]`.
    pub fn model_settings(&self, model: &str) -> Result<ModelSettings, ConfigError> {
        let m = self.models.get(model);
        let pick = |f: fn(&ModelFile) -> Option<usize>| m.and_then(f).or_else(|| f(&self.defaults));
        let max_batch_size = pick(|m| m.max_batch_size).unwrap_or(64).max(1);
        let instances = pick(|m| m.instances).unwrap_or(2).clamp(1, 64);
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let intra_threads = pick(|m| m.intra_threads).unwrap_or((cores / instances).max(1));
        let provider = m
            .and_then(|m| m.provider)
            .or(self.defaults.provider)
            .unwrap_or(assay_engine::session::Provider::Cpu);
        let preferred = m
            .and_then(|m| m.preferred_batch_size.clone())
            .or_else(|| self.defaults.preferred_batch_size.clone())
            .unwrap_or_default();
        if let Some(p) = preferred.iter().find(|&&p| p == 0 || p > max_batch_size) {
            return Err(ConfigError(format!(
                "{}: preferred_batch_size {p} is outside 1..={max_batch_size}",
                section(model)
            )));
        }
        let solo_spin_us = m
            .and_then(|m| m.solo_spin_us)
            .or(self.defaults.solo_spin_us)
            .unwrap_or(DEFAULT_SOLO_SPIN_US);
        if solo_spin_us > MAX_SOLO_SPIN_US {
            return Err(ConfigError(format!(
                "{}: solo_spin_us {solo_spin_us} is above {MAX_SOLO_SPIN_US} (10 ms): \
                 threads spinning that long after a run take a core from the network threads",
                section(model)
            )));
        }
        Ok(ModelSettings {
            max_batch_size,
            dynamic_batching: m
                .and_then(|m| m.dynamic_batching)
                .or(self.defaults.dynamic_batching)
                .unwrap_or(true),
            max_queue_delay: Duration::from_micros(
                m.and_then(|m| m.max_queue_delay_us)
                    .or(self.defaults.max_queue_delay_us)
                    .unwrap_or(0),
            ),
            preferred_batch_size: preferred,
            queue_size: pick(|m| m.queue_size).unwrap_or(1024).max(1),
            instances,
            intra_threads: Some(intra_threads),
            solo_threads: pick(|m| m.solo_threads).unwrap_or(
                if instances > 1 && cores > intra_threads {
                    cores
                } else {
                    0
                },
            ),
            solo_spin_us,
            calibrate_batching: m
                .and_then(|m| m.calibrate_batching)
                .or(self.defaults.calibrate_batching)
                .unwrap_or(true),
            provider,
        })
    }
}

/// Where a model's settings come from, for an error: its own section, or `[defaults]` (which
/// is checked on its own, as the model "").
fn section(model: &str) -> String {
    if model.is_empty() {
        "[defaults]".into()
    } else {
        format!("[models.{model}]")
    }
}

/// One token per non-empty line; `#` starts a comment.
fn read_tokens(path: &Path) -> Result<Vec<String>, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError(format!("token file {}: {e}", path.display())))?;
    let tokens: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(String::from)
        .collect();
    if tokens.is_empty() {
        return Err(ConfigError(format!(
            "token file {} holds no token",
            path.display()
        )));
    }
    Ok(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Overrides {
        Overrides {
            data: Some("/tmp/d".into()),
            trusted_keys: Some("/tmp/k".into()),
            token: Some("0123456789abcdef0123".into()),
            ..Default::default()
        }
    }

    #[test]
    fn model_sections_override_defaults() {
        let f: FileConfig = toml::from_str(
            "[defaults]\nmax_batch_size = 32\ninstances = 3\n[models.a]\nmax_batch_size = 8\ndynamic_batching = false\n",
        )
        .unwrap();
        let c = Config::resolve(f, base()).unwrap();
        let a = c.model_settings("a").unwrap();
        assert_eq!(
            (a.max_batch_size, a.dynamic_batching, a.instances),
            (8, false, 3)
        );
        let b = c.model_settings("b").unwrap();
        assert_eq!((b.max_batch_size, b.dynamic_batching), (32, true));
    }

    #[test]
    fn solo_spin_has_a_default_a_model_may_override_and_a_bound() {
        let f: FileConfig =
            toml::from_str("[defaults]\nsolo_spin_us = 50\n[models.a]\nsolo_spin_us = 0\n")
                .unwrap();
        let c = Config::resolve(f, base()).unwrap();
        assert_eq!(c.model_settings("a").unwrap().solo_spin_us, 0);
        assert_eq!(c.model_settings("b").unwrap().solo_spin_us, 50);
        let c = Config::resolve(FileConfig::default(), base()).unwrap();
        assert_eq!(
            c.model_settings("b").unwrap().solo_spin_us,
            DEFAULT_SOLO_SPIN_US
        );
        let f: FileConfig = toml::from_str("[models.a]\nsolo_spin_us = 20000\n").unwrap();
        // Refused when the gateway starts, not when the model is first pushed.
        let e = Config::resolve(f, base()).unwrap_err().to_string();
        assert!(
            e.contains(": [models.a]: solo_spin_us 20000 is above 10000"),
            "{e}"
        );
        let f: FileConfig = toml::from_str("[defaults]\nsolo_spin_us = 10001\n").unwrap();
        let e = Config::resolve(f, base()).unwrap_err().to_string();
        assert!(e.contains(": [defaults]: solo_spin_us 10001"), "{e}");
    }

    #[test]
    fn refuses_what_it_cannot_use() {
        let bad = |toml_text: &str, over: Overrides| {
            let f: FileConfig = toml::from_str(toml_text).unwrap();
            Config::resolve(f, over).unwrap_err().to_string()
        };
        assert!(
            bad(
                "",
                Overrides {
                    token: Some("short".into()),
                    ..base()
                }
            )
            .contains("at least 16")
        );
        assert!(bad("listen = \"nope\"", base()).contains("IP:PORT"));
        assert!(bad("[models.m]\npreferred_batch_size = [128]", base()).contains("outside"));
        // A wrong provider is refused while reading the file, at its key.
        let e = toml::from_str::<FileConfig>("[models.m]\nprovider = \"tpu\"")
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown provider 'tpu'"), "{e}");
        assert!(
            e.contains("line 2") && e.contains("provider = \"tpu\""),
            "{e}"
        );
        assert!(
            e.contains("unknown provider 'tpu'") && e.contains("provider"),
            "{e}"
        );
        assert!(
            bad(
                "",
                Overrides {
                    tls_cert: Some("c".into()),
                    ..base()
                }
            )
            .contains("both")
        );
        assert!(toml::from_str::<FileConfig>("typo = 1").is_err());
    }
}
