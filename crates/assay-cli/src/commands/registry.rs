//! `assay push DIR --signature SIG oci://…` and `assay verify oci://…`: thin over
//! `assay_release::oci`.

use std::{
    io::IsTerminal,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};

use assay_release::{
    oci::{self, OciReference, RegistryOptions},
    signing::Trust,
};

use super::release::{bar, verification_error, verified_line};
use crate::{
    cli::{PushArgs, RegistryArgs, VerifyArgs},
    format,
};

fn options(r: &RegistryArgs) -> RegistryOptions {
    RegistryOptions {
        ca_cert: r.registry_ca.clone(),
        plain_http: r.plain_http,
        credentials: None,
        host: None,
    }
}

/// The registry client is async; the CLI drives it on a runtime of its own.
fn block_on<T>(f: impl std::future::Future<Output = T>) -> anyhow::Result<T> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(f))
}

/// A progress bar on a TTY, fed from the transfer's own thread.
fn progress(
    enabled: bool,
    what: &str,
) -> (
    Option<indicatif::ProgressBar>,
    Option<oci::push::PushProgressFn>,
) {
    let pb = bar(enabled && std::io::stderr().is_terminal(), what);
    let f = pb.clone().map(|b| {
        Arc::new(move |done: u64, total: u64| {
            b.set_length(total);
            b.set_position(done);
        }) as oci::push::PushProgressFn
    });
    (pb, f)
}

pub fn push(a: &PushArgs, target: &str) -> anyhow::Result<()> {
    let target = OciReference::parse(target)?;
    let json = a.conn.json;
    let (pb, f) = progress(!json && !a.events, "pushing");
    // Ctrl-C stops after the chunk in flight, so the registry keeps every byte it has and
    // the next push continues there; a second Ctrl-C quits at once.
    let stop = Arc::new(AtomicBool::new(false));
    let result = block_on(async {
        let flag = stop.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                flag.store(true, Ordering::Relaxed);
                eprintln!("stopping after the chunk in flight (Ctrl-C again to quit now)");
                let _ = tokio::signal::ctrl_c().await;
                std::process::exit(130);
            }
        });
        oci::push(
            &a.dir,
            &a.signature,
            &target,
            &options(&a.registry),
            f,
            Some(&stop),
        )
        .await
    })?;
    if let Some(b) = pb {
        b.finish_and_clear();
    }
    let out = result.map_err(verification_error)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    let what = match (&out.name, &out.version) {
        (Some(n), Some(v)) => format!("{n} {v}"),
        _ => "the release".into(),
    };
    println!(
        "pushed {what} to {}: {} files ({}), sent {} of them ({}), {} already there",
        out.reference,
        out.files,
        format::bytes(out.bytes),
        out.blobs_sent,
        format::bytes(out.bytes_sent),
        out.blobs_present
    );
    if out.bytes_resumed > 0 {
        println!(
            "resumed an interrupted upload: {} the registry already held were not sent again",
            format::bytes(out.bytes_resumed)
        );
    }
    println!(
        "digest {}; signature attached as a referrer ({})",
        out.digest,
        match out.referrers {
            oci::referrers::ReferrersMode::Api => "referrers API",
            oci::referrers::ReferrersMode::TagSchema =>
                "tag schema: this registry has no referrers API",
        }
    );
    Ok(())
}

pub fn verify(a: &VerifyArgs, reference: &str, trust: &Trust) -> anyhow::Result<()> {
    let reference = OciReference::parse(reference)?;
    if a.signature.is_some() {
        return Err(crate::exit::UsageError(
            "a release in a registry carries its signature as a referrer: drop --signature".into(),
        )
        .into());
    }
    let (pb, f) = progress(!a.json, "verifying");
    let result = block_on(oci::verify(
        &reference,
        &options(&a.registry),
        trust,
        None,
        f,
    ))?;
    if let Some(b) = pb {
        b.finish_and_clear();
    }
    let v = result.map_err(verification_error)?;
    if a.json {
        #[derive(serde::Serialize)]
        struct Out<'a> {
            verified: bool,
            #[serde(flatten)]
            details: &'a oci::OciVerified,
        }
        println!(
            "{}",
            serde_json::to_string(&Out {
                verified: true,
                details: &v
            })?
        );
    } else {
        println!("{}", verified_line(&v.verified, "artifact"));
        println!("{} ({} signature referrer(s))", v.pinned, v.signatures);
    }
    Ok(())
}
