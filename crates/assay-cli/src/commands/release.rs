//! `assay release create`, `assay sign`, `assay verify`

use std::{io::IsTerminal, path::PathBuf};

use assay_release::{
    cache::DigestCache,
    keys::PublicKey,
    metadata::{AccuracyEvidence, BenchEvidence},
    oci::OciReference,
    release::{self, ReleaseSpec},
    signing::{self, DEFAULT_SIGNATURE, Trust},
};
use indicatif::{ProgressBar, ProgressStyle};

use super::{key, store::History};
use crate::{
    cli::{Cli, ReleaseCreateArgs, SignArgs, VerifyArgs},
    exit::{UsageError, VerificationFailed},
    format,
};

pub fn create(cli: &Cli, a: &ReleaseCreateArgs) -> anyhow::Result<()> {
    // Serving shapes: the flags, else the ones the evidence run measured.
    let mut serving_dims = super::plan::dims(&a.dim);
    let mut serving_fills = std::collections::BTreeMap::new();
    let mut evidence = None;
    let mut accuracy = None;
    let model_sha = if a.evidence.is_empty() {
        String::new()
    } else {
        assay_engine::digest::sha256_file(&a.model)?
    };
    for id in &a.evidence {
        let h = History::open(cli)?;
        if h.run(h.store.is_accuracy_run(id))? {
            let report = h.run(h.store.accuracy_run(id))?;
            if accuracy.is_some() {
                anyhow::bail!(UsageError(
                    "give one output comparison as evidence, not several".into()
                ));
            }
            let e = AccuracyEvidence::of_run(report.run_id.as_deref().unwrap_or(id), &report);
            if !e.covers(&model_sha) {
                eprintln!(
                    "warning: comparison {} did not check {} (neither its reference nor a candidate)",
                    e.run_id,
                    a.model.display()
                );
            }
            accuracy = Some(e);
            continue;
        }
        if evidence.is_some() {
            anyhow::bail!(UsageError(
                "give one benchmark run as evidence, not several".into()
            ));
        }
        let run = h.run(h.store.run(id))?;
        if a.dim.is_empty() {
            serving_dims = run.report.settings.dims.clone();
        }
        serving_fills = run.report.settings.fills.clone();
        if run.report.model.sha256 != model_sha {
            eprintln!(
                "warning: run {} measured a different model file ({}) than {}",
                run.id,
                run.report.model.path.display(),
                a.model.display()
            );
        }
        evidence = Some(BenchEvidence::of_run(&run.id, &run.report));
    }
    let meta = release::create(&ReleaseSpec {
        model: a.model.clone(),
        name: a.name.clone(),
        version: a.version.clone(),
        notes: a.notes.clone(),
        evidence,
        accuracy,
        serving_dims,
        serving_fills,
        include: a.include.clone(),
        out: a.out.clone(),
    })?;
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&release::Created {
                dir: a.out.clone(),
                release: meta
            })?
        );
    } else {
        println!(
            "release {} {} created in {} ({} files)",
            a.name,
            a.version,
            a.out.display(),
            meta.files.len() + 1
        );
        if let Some(e) = &meta.accuracy {
            println!(
                "accuracy evidence: comparison {} {} ({} candidate{})",
                e.run_id,
                if e.passed { "passed" } else { "FAILED" },
                e.candidates.len(),
                if e.candidates.len() == 1 { "" } else { "s" }
            );
        }
        if !meta.serving.dims.is_empty() {
            let text: Vec<String> = meta
                .serving
                .dims
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            println!("serving shapes: {}", text.join(" "));
        }
        println!(
            "sign it with: assay sign {} --key NAME --signature {}.sig",
            a.out.display(),
            a.out.display()
        );
    }
    Ok(())
}

pub(crate) fn bar(enabled: bool, what: &str) -> Option<ProgressBar> {
    enabled.then(|| {
        let b = ProgressBar::new(0);
        b.set_style(
            ProgressStyle::with_template(
                "  {msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        b.set_message(what.to_string());
        b
    })
}

pub fn sign(a: &SignArgs) -> anyhow::Result<()> {
    let ks = key::store()?;
    let pw = key::passphrase(&a.pass, &format!("passphrase for key '{}': ", a.key), false)?;
    let private = ks.private(&a.key, &pw)?;
    let signature = a
        .signature
        .clone()
        .unwrap_or_else(|| PathBuf::from(DEFAULT_SIGNATURE));
    let cache = DigestCache::open_default();
    let pb = bar(!a.json && std::io::stderr().is_terminal(), "hashing");
    let progress = |done: u64, total: u64| {
        if let Some(b) = &pb {
            b.set_length(total);
            b.set_position(done);
        }
    };
    let started = std::time::Instant::now();
    let m = signing::sign(&a.dir, &private, &signature, Some(&cache), Some(&progress))?;
    if let Some(b) = pb {
        b.finish_and_clear();
    }
    cache.save();
    let hint = private.public().hint();
    if a.json {
        println!(
            "{}",
            serde_json::to_string(&signing::Signed {
                files: m.files.len(),
                root_digest: hex_root(&m),
                signature,
                key: a.key.clone(),
                hint,
                seconds: started.elapsed().as_secs_f64(),
            })?
        );
    } else {
        println!(
            "signed {} files of {} with key '{}' ({hint})",
            m.files.len(),
            a.dir.display(),
            a.key
        );
        println!("signature written to {}", signature.display());
    }
    Ok(())
}

fn hex_root(m: &assay_release::manifest::Manifest) -> String {
    m.root_digest().iter().map(|b| format!("{b:02x}")).collect()
}

/// `verify --json`: `verified` ahead of what the verification proved.
#[derive(serde::Serialize)]
struct VerifiedOutput<'a> {
    verified: bool,
    #[serde(flatten)]
    details: &'a signing::Verified,
}

/// The keys `assay verify` trusts: one key (a PEM file or a key store name) or a folder.
fn trust(a: &VerifyArgs) -> anyhow::Result<Trust> {
    Ok(match (&a.public_key, &a.trusted_keys) {
        (Some(k), _) => {
            let path = std::path::Path::new(k);
            if path.is_file() {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
                Trust::Key(PublicKey::from_pem(k, &text)?)
            } else {
                Trust::Key(key::store()?.public(k)?)
            }
        }
        (None, Some(dir)) => Trust::from_dir(dir)?,
        (None, None) => unreachable!("clap requires one of them"),
    })
}

pub fn verify(a: &VerifyArgs) -> anyhow::Result<()> {
    let trust = trust(a)?;
    if let Some(r) = a.dir.to_str().filter(|s| OciReference::is_oci(s)) {
        return super::registry::verify(a, r, &trust);
    }
    let signature = a
        .signature
        .as_deref()
        .ok_or_else(|| UsageError("give the folder's signature with --signature FILE".into()))?;
    let pb = bar(!a.json && std::io::stderr().is_terminal(), "verifying");
    let progress = |done: u64, total: u64| {
        if let Some(b) = &pb {
            b.set_length(total);
            b.set_position(done);
        }
    };
    let result = signing::verify(&a.dir, signature, &trust, Some(&progress));
    if let Some(b) = pb {
        b.finish_and_clear();
    }
    match result {
        Ok(v) => {
            if a.json {
                println!(
                    "{}",
                    serde_json::to_string(&VerifiedOutput {
                        verified: true,
                        details: &v
                    })?
                );
            } else {
                println!("{}", verified_line(&v, "folder"));
            }
            Ok(())
        }
        Err(e) => Err(verification_error(e)),
    }
}

/// The one line `assay verify` prints on success.
pub(crate) fn verified_line(v: &signing::Verified, otherwise: &str) -> String {
    let what = v
        .release
        .as_ref()
        .map(|r| format!("release {} {}", r.name, r.version))
        .unwrap_or_else(|| otherwise.into());
    format!(
        "Verification succeeded: {what}, {} files ({}), key {}",
        v.files,
        format::bytes(v.bytes),
        v.key_hint
    )
}

/// A failed verification exits 5; anything else keeps its own kind.
pub(crate) fn verification_error(e: assay_release::ReleaseError) -> anyhow::Error {
    if e.is_verification_failure() {
        VerificationFailed(e.to_string()).into()
    } else {
        e.into()
    }
}
