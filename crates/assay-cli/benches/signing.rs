//! `make bench-signing`: sign and verify a 2 GiB single-file model and a 2 GiB model split
//! into 8 files, with `assay` and with `model_signing` (the OpenSSF CLI), on the same files
//! in one run. Prints GB/s for both, and the peak resident memory of each process.
//!
//! Targets: ≥ 1.5× model_signing's throughput on the 8-file model, no slower on the single
//! file, and `assay` under 64 MiB peak memory.

use std::{
    io::Write,
    path::{Path, PathBuf},
    process::Command,
    time::Instant,
};

const GIB: u64 = 1 << 30;

/// Writes `size` bytes of cheap pseudo-random data (so no file system compresses it away).
fn write_blob(path: &Path, size: u64, seed: u64) {
    let mut f = std::io::BufWriter::with_capacity(8 << 20, std::fs::File::create(path).unwrap());
    let mut x = seed | 1;
    let mut buf = vec![0u8; 8 << 20];
    let mut left = size;
    while left > 0 {
        for chunk in buf.chunks_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
        }
        let n = left.min(buf.len() as u64) as usize;
        f.write_all(&buf[..n]).unwrap();
        left -= n as u64;
    }
    f.flush().unwrap();
}

/// Runs a command and returns (seconds, peak RSS of that child in MiB), read with `wait4`
/// so each process is measured on its own.
#[allow(clippy::zombie_processes)] // reaped by wait4 below, which also reports its peak RSS
fn timed(cmd: &mut Command) -> (f64, f64) {
    let start = Instant::now();
    let child = cmd
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .unwrap();
    let mut status = 0;
    // SAFETY: wait4 on our own child; it fills `status` and `usage`.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    let secs = start.elapsed().as_secs_f64();
    assert!(
        pid > 0 && libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "{cmd:?} failed"
    );
    (secs, usage.ru_maxrss as f64 / 1024.0)
}

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let ms = root.join(".cache/venv-signing/bin/model_signing");
    assert!(
        ms.exists(),
        "run `make setup` first ({} is missing)",
        ms.display()
    );
    let assay = PathBuf::from(env!("CARGO_BIN_EXE_assay"));
    let work = tempfile::tempdir_in(
        std::env::var_os("ASSAY_BENCH_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(std::env::temp_dir),
    )
    .unwrap();
    let w = work.path();

    let single = w.join("single");
    std::fs::create_dir(&single).unwrap();
    write_blob(&single.join("model.onnx.data"), 2 * GIB, 1);
    let split = w.join("split");
    std::fs::create_dir(&split).unwrap();
    for i in 0..8 {
        write_blob(
            &split.join(format!("model-{i:02}.onnx.data")),
            2 * GIB / 8,
            100 + i,
        );
    }
    let key = w.join("k.pem");
    let public = w.join("k.pub");
    assert!(Command::new("sh")
        .arg("-c")
        .arg(format!("openssl ecparam -name prime256v1 -genkey -noout | openssl pkcs8 -topk8 -nocrypt -out '{0}' && openssl ec -in '{0}' -pubout -out '{1}' 2>/dev/null", key.display(), public.display()))
        .status()
        .unwrap()
        .success());
    // Assay signs with a stored, encrypted key: import the same openssl key.
    let data = w.join("data");
    let env = |c: &mut Command| {
        c.env("XDG_DATA_HOME", &data)
            .env("XDG_CACHE_HOME", w.join("nocache"))
            .env("ASSAY_KEY_PASSPHRASE", "bench");
    };
    let mut imp = Command::new(&assay);
    env(&mut imp);
    assert!(
        imp.args(["key", "import", "bench"])
            .arg(&key)
            .status()
            .unwrap()
            .success()
    );

    println!(
        "{:<10} {:<8} {:<14} {:>8} {:>9} {:>14}",
        "model", "step", "tool", "seconds", "GB/s", "peak RSS MiB"
    );
    // Drop the page cache's advantage: read everything once before the timed runs.
    for d in [&single, &split] {
        let _ = Command::new("sh")
            .arg("-c")
            .arg(format!("cat '{}'/* > /dev/null", d.display()))
            .status();
    }
    for (label, dir) in [("1 file", &single), ("8 files", &split)] {
        let sig_ms = w.join(format!("{label}-ms.sig").replace(' ', "_"));
        let sig_as = w.join(format!("{label}-assay.sig").replace(' ', "_"));
        let mut results = Vec::new();
        let (t, m) = timed(
            Command::new(&ms)
                .args(["sign", "key"])
                .arg(dir)
                .arg("--private_key")
                .arg(&key)
                .arg("--signature")
                .arg(&sig_ms),
        );
        results.push(("sign", "model_signing", t, m));
        let mut c = Command::new(&assay);
        env(&mut c);
        let (t, m) = timed(
            c.arg("sign")
                .arg(dir)
                .args(["--key", "bench", "--signature"])
                .arg(&sig_as),
        );
        results.push(("sign", "assay", t, m));
        let (t, m) = timed(
            Command::new(&ms)
                .args(["verify", "key"])
                .arg(dir)
                .arg("--signature")
                .arg(&sig_ms)
                .arg("--public_key")
                .arg(&public),
        );
        results.push(("verify", "model_signing", t, m));
        let mut c = Command::new(&assay);
        env(&mut c);
        let (t, m) = timed(
            c.arg("verify")
                .arg(dir)
                .arg("--signature")
                .arg(&sig_as)
                .arg("--public-key")
                .arg(&public),
        );
        results.push(("verify", "assay", t, m));
        for (step, tool, t, m) in &results {
            println!(
                "{label:<10} {step:<8} {tool:<14} {t:>8.2} {:>9.2} {m:>14.1}",
                2.0 * GIB as f64 / 1e9 / t
            );
        }
        for step in ["sign", "verify"] {
            let get = |tool: &str| {
                results
                    .iter()
                    .find(|r| r.0 == step && r.1 == tool)
                    .unwrap()
                    .2
            };
            println!(
                "{label:<10} {step:<8} assay speed-up over model_signing: {:.2}×",
                get("model_signing") / get("assay")
            );
        }
    }
}
