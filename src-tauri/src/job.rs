//! The long jobs the front end may start, as a closed set: each [`JobSpec`] becomes one
//! `assay` command line. The webview never names a verb or a flag itself, and every value
//! goes in `--flag=value` form, so a value that starts with `-` cannot become a flag.

use std::{ffi::OsString, path::PathBuf};

use serde::Deserialize;

use crate::error::UiError;

/// A job, as the front end asks for it (`{"kind": "bench", …}`).
#[derive(Debug, Clone, Deserialize, ts_rs::TS)]
#[ts(export, optional_fields)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum JobSpec {
    /// `assay bench`: a sweep of batch × concurrency on one provider list.
    Bench {
        model: String,
        #[serde(default)]
        run: RunSettings,
        /// Comma-separated stream counts.
        concurrency: Option<String>,
        /// Compare each row's outputs against this reference (`cpu`, as `--check-against`).
        check_against: Option<String>,
    },
    /// `assay profile`, into a fresh folder under the app data dir.
    Profile {
        model: String,
        #[serde(default)]
        run: RunSettings,
        profile_iterations: Option<u64>,
        #[serde(default)]
        no_optimize: bool,
    },
    /// `assay accuracy`: a reference against candidates on the same inputs.
    Accuracy {
        model: String,
        /// `cpu` (the default), a provider, or `FILE.onnx[@PROVIDER]`, with `:opt=`/`:threads=`.
        reference: Option<String>,
        /// Each in the reference's form.
        candidates: Vec<String>,
        /// Synthetic input sets.
        sets: Option<u32>,
        /// `VALUE` or `OUTPUT=VALUE`, comma-separated.
        atol: Option<String>,
        rtol: Option<String>,
        #[serde(default)]
        inputs: InputSettings,
    },
    /// `assay release create`, into `<app data>/releases/NAME-VERSION`.
    CreateRelease {
        model: String,
        name: String,
        version: String,
        notes: Option<String>,
        /// A recorded benchmark run, attached as evidence.
        evidence: Option<String>,
        /// Serving values of dynamic dimensions (`NAME=VALUE`); default: the evidence run's.
        #[serde(default)]
        dims: Vec<String>,
    },
    /// `assay sign DIR --key KEY`, writing `DIR.sig`; the passphrase goes by environment.
    Sign {
        dir: String,
        key: String,
        passphrase: String,
    },
    /// `assay push` to a saved gateway; its token goes by environment.
    Push {
        dir: String,
        signature: String,
        gateway: String,
        #[serde(default)]
        no_activate: bool,
    },
    /// `assay load` against a saved gateway's model (REST): a closed-loop concurrency sweep,
    /// or open-loop rates.
    Load {
        gateway: String,
        model: String,
        /// Comma-separated concurrency levels (closed loop).
        concurrency: Option<String>,
        /// Comma-separated request rates per second (open loop); wins over `concurrency`.
        rate: Option<String>,
        /// Measurement time per level (`5s`).
        duration: Option<String>,
        /// Tensors as raw bytes after a JSON header instead of JSON arrays.
        #[serde(default)]
        binary: bool,
    },
    /// `assay fleet rollout`: a release from a registry, wave by wave across a fleet file's
    /// gateways (their tokens come from the fleet file's own references).
    FleetRollout {
        fleet: String,
        model: String,
        /// `oci://REGISTRY/REPOSITORY:TAG`.
        reference: String,
    },
    /// `assay runtime install` (CPU, or the GPU build with its CUDA wheels).
    InstallRuntime {
        #[serde(default)]
        gpu: bool,
    },
    /// `assay report RUN --out FILE`: the self-contained HTML report.
    Report { run: String, out: String },
}

/// How a model is fed and run: shared by benchmark and profile.
#[derive(Debug, Clone, Default, Deserialize, ts_rs::TS)]
#[ts(export, optional_fields)]
pub struct RunSettings {
    /// Comma-separated providers (`cpu`, `cuda`, `tensorrt`).
    pub provider: Option<String>,
    /// Comma-separated batch sizes.
    pub batch: Option<String>,
    pub intra_threads: Option<u32>,
    pub warmup: Option<u64>,
    /// Measurement time per configuration (`2s`, `500ms`).
    pub duration: Option<String>,
    pub iterations: Option<u64>,
    #[serde(flatten)]
    #[ts(flatten)]
    pub inputs: InputSettings,
}

/// What the model is fed: shared by every job that runs it.
#[derive(Debug, Clone, Default, Deserialize, ts_rs::TS)]
#[ts(export, optional_fields)]
pub struct InputSettings {
    /// `NAME=VALUE` bindings of dynamic dimensions (`INPUT.AXIS=VALUE` for unnamed ones).
    #[serde(default)]
    pub dims: Vec<String>,
    /// `INPUT=1x3x224x224` whole shapes.
    #[serde(default)]
    pub shapes: Vec<String>,
    /// `INPUT=VALUE` constant fills.
    #[serde(default)]
    pub fills: Vec<String>,
    /// `INPUT=FILE.npy`, or one `FILE.npz`: real input data.
    #[serde(default)]
    pub inputs: Vec<String>,
}

/// What the job needs from the console: where its data lives, and a resolved gateway.
pub struct JobContext {
    pub db: PathBuf,
    pub data_dir: PathBuf,
    /// `(url, token, ca_cert)` of the gateway a push names.
    pub gateway: Option<(String, String, Option<PathBuf>)>,
}

/// One worker command line: arguments and extra environment.
#[derive(Debug)]
pub struct Invocation {
    pub args: Vec<OsString>,
    pub envs: Vec<(String, String)>,
    /// The folder or file the job writes, when the console chose it.
    pub output: Option<PathBuf>,
}

fn flag(name: &str, value: impl std::fmt::Display) -> OsString {
    format!("--{name}={value}").into()
}

fn nonempty(what: &str, v: &str) -> Result<(), UiError> {
    if v.trim().is_empty() {
        Err(UiError::usage(format!("{what} is empty")))
    } else {
        Ok(())
    }
}

impl RunSettings {
    fn push_args(&self, args: &mut Vec<OsString>) {
        let opt = |args: &mut Vec<OsString>, name: &str, v: Option<String>| {
            if let Some(v) = v.filter(|v| !v.trim().is_empty()) {
                args.push(flag(name, v.trim()));
            }
        };
        opt(args, "provider", self.provider.clone());
        opt(args, "batch", self.batch.clone());
        opt(
            args,
            "intra-threads",
            self.intra_threads.map(|n| n.to_string()),
        );
        opt(args, "warmup", self.warmup.map(|n| n.to_string()));
        opt(args, "duration", self.duration.clone());
        opt(args, "iterations", self.iterations.map(|n| n.to_string()));
        self.inputs.push_args(args);
    }
}

impl InputSettings {
    fn push_args(&self, args: &mut Vec<OsString>) {
        for (name, list) in [
            ("dim", &self.dims),
            ("shape", &self.shapes),
            ("fill", &self.fills),
            ("input", &self.inputs),
        ] {
            for v in list.iter().filter(|v| !v.trim().is_empty()) {
                args.push(flag(name, v.trim()));
            }
        }
    }
}

impl JobSpec {
    /// The worker command line for this job.
    pub fn invocation(&self, ctx: &JobContext) -> Result<Invocation, UiError> {
        let db = flag("db", ctx.db.display());
        let mut envs = Vec::new();
        let mut output = None;
        let args: Vec<OsString> = match self {
            JobSpec::Bench {
                model,
                run,
                concurrency,
                check_against,
            } => {
                nonempty("the model path", model)?;
                let mut a = vec!["bench".into(), db, "--events".into()];
                run.push_args(&mut a);
                if let Some(c) = concurrency.as_deref().filter(|c| !c.trim().is_empty()) {
                    a.push(flag("concurrency", c.trim()));
                }
                if let Some(c) = check_against.as_deref().filter(|c| !c.trim().is_empty()) {
                    a.push(flag("check-against", c.trim()));
                }
                a.push("--".into());
                a.push(model.into());
                a
            }
            JobSpec::Profile {
                model,
                run,
                profile_iterations,
                no_optimize,
            } => {
                nonempty("the model path", model)?;
                let out = ctx.data_dir.join("profiles").join(stamp());
                let mut a = vec![
                    "profile".into(),
                    db,
                    "--events".into(),
                    flag("out", out.display()),
                ];
                run.push_args(&mut a);
                if let Some(n) = profile_iterations {
                    a.push(flag("profile-iterations", n));
                }
                if *no_optimize {
                    a.push("--no-optimize".into());
                }
                a.push("--".into());
                a.push(model.into());
                output = Some(out);
                a
            }
            JobSpec::Accuracy {
                model,
                reference,
                candidates,
                sets,
                atol,
                rtol,
                inputs,
            } => {
                nonempty("the model path", model)?;
                let candidates: Vec<&str> = candidates
                    .iter()
                    .map(|c| c.trim())
                    .filter(|c| !c.is_empty())
                    .collect();
                if candidates.is_empty() {
                    return Err(UiError::usage(
                        "add a candidate: a provider, or another model file",
                    ));
                }
                let mut a = vec!["accuracy".into(), db, "--events".into()];
                if let Some(r) = reference.as_deref().filter(|r| !r.trim().is_empty()) {
                    a.push(flag("reference", r.trim()));
                }
                for c in candidates {
                    a.push(flag("candidate", c));
                }
                if let Some(n) = sets {
                    a.push(flag("sets", n));
                }
                for (name, list) in [("atol", atol), ("rtol", rtol)] {
                    for v in list.iter().flat_map(|l| l.split(',')) {
                        if !v.trim().is_empty() {
                            a.push(flag(name, v.trim()));
                        }
                    }
                }
                inputs.push_args(&mut a);
                a.push("--".into());
                a.push(model.into());
                a
            }
            JobSpec::CreateRelease {
                model,
                name,
                version,
                notes,
                evidence,
                dims,
            } => {
                nonempty("the model path", model)?;
                assay_release::release::check_release_name(name).map_err(UiError::from)?;
                assay_release::release::check_semver(version).map_err(UiError::from)?;
                let out = ctx
                    .data_dir
                    .join("releases")
                    .join(format!("{name}-{version}"));
                let mut a = vec![
                    "release".into(),
                    "create".into(),
                    db,
                    "--json".into(),
                    flag("name", name),
                    flag("version", version),
                    flag("out", out.display()),
                ];
                if let Some(n) = notes.as_deref().filter(|n| !n.trim().is_empty()) {
                    a.push(flag("notes", n));
                }
                if let Some(e) = evidence.as_deref().filter(|e| !e.trim().is_empty()) {
                    a.push(flag("evidence", e.trim()));
                }
                for d in dims.iter().filter(|d| !d.trim().is_empty()) {
                    a.push(flag("dim", d.trim()));
                }
                a.push("--".into());
                a.push(model.into());
                output = Some(out);
                a
            }
            JobSpec::Sign {
                dir,
                key,
                passphrase,
            } => {
                nonempty("the release folder", dir)?;
                nonempty("the key", key)?;
                // The signature is written next to the folder: only the console's releases.
                let releases = ctx.data_dir.join("releases");
                if !crate::data::is_inside(&releases, std::path::Path::new(dir)) {
                    return Err(UiError::usage(format!(
                        "{dir} is not one of the console's release folders (under {})",
                        releases.display()
                    )));
                }
                let signature = signature_of(dir);
                envs.push(("ASSAY_KEY_PASSPHRASE".into(), passphrase.clone()));
                output = Some(signature.clone());
                vec![
                    "sign".into(),
                    "--json".into(),
                    flag("key", key),
                    flag("signature", signature.display()),
                    "--".into(),
                    dir.into(),
                ]
            }
            JobSpec::Push {
                dir,
                signature,
                no_activate,
                ..
            } => {
                let (url, token, ca) = ctx
                    .gateway
                    .clone()
                    .ok_or_else(|| UiError::usage("choose a gateway to push to"))?;
                envs.push(("ASSAY_GATEWAY_TOKEN".into(), token));
                let mut a = vec![
                    "push".into(),
                    "--events".into(),
                    flag("gateway", url),
                    flag("signature", signature),
                ];
                if let Some(ca) = ca {
                    a.push(flag("ca-cert", ca.display()));
                }
                if *no_activate {
                    a.push("--no-activate".into());
                }
                a.push("--".into());
                a.push(dir.into());
                a
            }
            JobSpec::Load {
                model,
                concurrency,
                rate,
                duration,
                binary,
                ..
            } => {
                nonempty("the model", model)?;
                let (url, _, _) = ctx
                    .gateway
                    .clone()
                    .ok_or_else(|| UiError::usage("choose a gateway to load"))?;
                let mut a = vec!["load".into(), db, "--events".into()];
                match (
                    rate.as_deref().map(str::trim),
                    concurrency.as_deref().map(str::trim),
                ) {
                    (Some(r), _) if !r.is_empty() => a.push(flag("rate", r)),
                    (_, Some(c)) if !c.is_empty() => a.push(flag("concurrency", c)),
                    _ => {}
                }
                if let Some(d) = duration.as_deref().map(str::trim).filter(|d| !d.is_empty()) {
                    a.push(flag("duration", d));
                }
                if *binary {
                    a.push("--binary".into());
                }
                a.push("--".into());
                a.push(url.into());
                a.push(model.into());
                a
            }
            JobSpec::FleetRollout {
                fleet,
                model,
                reference,
            } => {
                nonempty("the fleet file", fleet)?;
                nonempty("the model", model)?;
                assay_release::oci::OciReference::parse(reference.trim()).map_err(UiError::from)?;
                vec![
                    "fleet".into(),
                    "rollout".into(),
                    "--events".into(),
                    "--".into(),
                    fleet.trim().into(),
                    model.trim().into(),
                    reference.trim().into(),
                ]
            }
            JobSpec::InstallRuntime { gpu } => {
                let mut a = vec!["runtime".into(), "install".into(), "--events".into()];
                if *gpu {
                    a.push("--gpu".into());
                }
                a
            }
            JobSpec::Report { run, out } => {
                nonempty("the run", run)?;
                nonempty("the output file", out)?;
                output = Some(out.into());
                vec![
                    "report".into(),
                    db,
                    "--json".into(),
                    flag("out", out),
                    "--".into(),
                    run.into(),
                ]
            }
        };
        Ok(Invocation { args, envs, output })
    }
}

/// Where `assay sign` writes a release folder's signature: next to the folder.
pub fn signature_of(dir: &str) -> PathBuf {
    PathBuf::from(format!("{}.sig", dir.trim_end_matches('/')))
}

/// A sortable, unique-enough folder name for a job's output.
fn stamp() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    format!("{}-{:03}", now.as_secs(), now.subsec_millis())
}

#[cfg(test)]
mod tests {
    use super::*;
    use assay_engine::ErrorKind;

    fn ctx() -> JobContext {
        JobContext {
            db: "/data/assay.db".into(),
            data_dir: "/data".into(),
            gateway: None,
        }
    }

    #[test]
    fn values_cannot_become_flags() {
        let spec: JobSpec = serde_json::from_value(serde_json::json!({
            "kind": "bench", "model": "--help",
            "run": {"batch": "1,4 --out=/etc/passwd", "dims": ["-x"]}
        }))
        .unwrap();
        let inv = spec.invocation(&ctx()).unwrap();
        let args: Vec<String> = inv
            .args
            .iter()
            .map(|a| a.to_string_lossy().into())
            .collect();
        assert!(args.contains(&"--batch=1,4 --out=/etc/passwd".to_string()));
        assert!(args.contains(&"--dim=-x".to_string()));
        // The model path comes after `--`, so it is a path even when it looks like a flag.
        assert_eq!(&args[args.len() - 2..], ["--", "--help"]);
    }

    #[test]
    fn a_load_test_goes_to_the_saved_gateways_url_with_its_levels() {
        let spec: JobSpec = serde_json::from_value(serde_json::json!({
            "kind": "load", "gateway": "local", "model": "mlp",
            "concurrency": "1,4", "rate": " ", "duration": "3s", "binary": true
        }))
        .unwrap();
        // No gateway resolved: a sentence, not a worker started on nothing.
        assert_eq!(spec.invocation(&ctx()).unwrap_err().kind, ErrorKind::Usage);
        let with_gateway = JobContext {
            gateway: Some(("http://127.0.0.1:8000".into(), "secret-token".into(), None)),
            ..ctx()
        };
        let inv = spec.invocation(&with_gateway).unwrap();
        let args: Vec<String> = inv
            .args
            .iter()
            .map(|a| a.to_string_lossy().into())
            .collect();
        assert_eq!(
            args,
            [
                "load",
                "--db=/data/assay.db",
                "--events",
                "--concurrency=1,4",
                "--duration=3s",
                "--binary",
                "--",
                "http://127.0.0.1:8000",
                "mlp"
            ]
        );
        // The admin token is not an inference credential: it is not passed on.
        assert!(inv.envs.is_empty());
        let open: JobSpec = serde_json::from_value(serde_json::json!({
            "kind": "load", "gateway": "local", "model": "mlp", "concurrency": "4", "rate": "200"
        }))
        .unwrap();
        let args = open.invocation(&with_gateway).unwrap().args;
        assert!(args.contains(&"--rate=200".into()));
        assert!(
            !args
                .iter()
                .any(|a| a.to_string_lossy().starts_with("--concurrency"))
        );
    }

    #[test]
    fn secrets_travel_by_environment_not_by_argument() {
        let spec: JobSpec = serde_json::from_value(serde_json::json!({
            "kind": "sign", "dir": "/data/releases/mlp-1.0.0/", "key": "release", "passphrase": "hunter2"
        }))
        .unwrap();
        let inv = spec.invocation(&ctx()).unwrap();
        assert!(
            inv.args
                .iter()
                .all(|a| !a.to_string_lossy().contains("hunter2"))
        );
        assert_eq!(
            inv.envs,
            [("ASSAY_KEY_PASSPHRASE".to_string(), "hunter2".to_string())]
        );
        assert_eq!(
            inv.output.unwrap(),
            PathBuf::from("/data/releases/mlp-1.0.0.sig")
        );
    }

    #[test]
    fn only_the_consoles_release_folders_are_signed() {
        for dir in ["/etc/passwd", "/data/releases/../../etc", "relative/dir"] {
            let spec: JobSpec = serde_json::from_value(serde_json::json!({
                "kind": "sign", "dir": dir, "key": "k", "passphrase": "p"
            }))
            .unwrap();
            assert_eq!(
                spec.invocation(&ctx()).unwrap_err().kind,
                ErrorKind::Usage,
                "{dir}"
            );
        }
    }

    #[test]
    fn a_comparison_needs_a_candidate_and_passes_each_one_as_a_value() {
        let spec: JobSpec = serde_json::from_value(serde_json::json!({
            "kind": "accuracy", "model": "m.onnx", "candidates": [" ", ""]
        }))
        .unwrap();
        assert_eq!(spec.invocation(&ctx()).unwrap_err().kind, ErrorKind::Usage);
        let spec: JobSpec = serde_json::from_value(serde_json::json!({
            "kind": "accuracy", "model": "m.onnx", "candidates": ["cuda", "--help"],
            "sets": 3, "atol": "1e-3, logits=1e-2", "inputs": {"fills": ["x=0..1"]}
        }))
        .unwrap();
        let args: Vec<String> = spec
            .invocation(&ctx())
            .unwrap()
            .args
            .iter()
            .map(|a| a.to_string_lossy().into())
            .collect();
        for a in [
            "--candidate=cuda",
            "--candidate=--help",
            "--sets=3",
            "--atol=1e-3",
            "--atol=logits=1e-2",
            "--fill=x=0..1",
        ] {
            assert!(args.contains(&a.to_string()), "{a} in {args:?}");
        }
        assert_eq!(&args[..3], ["accuracy", "--db=/data/assay.db", "--events"]);
        assert_eq!(&args[args.len() - 2..], ["--", "m.onnx"]);
    }

    #[test]
    fn a_release_name_is_checked_before_anything_runs() {
        let spec: JobSpec = serde_json::from_value(serde_json::json!({
            "kind": "create_release", "model": "m.onnx", "name": "../evil", "version": "1.0.0"
        }))
        .unwrap();
        assert_eq!(spec.invocation(&ctx()).unwrap_err().kind, ErrorKind::Usage);
    }
}
