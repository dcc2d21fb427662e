//! Keys, release folders, signing and verification through the real `assay` binary, and
//! interop in both directions with the OpenSSF `model_signing` CLI (installed by
//! scripts/setup.sh into .cache/venv-signing) and openssl-made keys.

mod common;

use std::path::{Path, PathBuf};

use common::*;

/// `assay` with its own key store and run history.
struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Env {
        Env {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn assay(&self) -> assert_cmd::Command {
        let mut c = assay();
        // Keys live under XDG_DATA_HOME, which hides the installed runtime: name it directly.
        c.env("ASSAY_ORT_DYLIB", runtime_library())
            .env("XDG_DATA_HOME", self.path("data"))
            .env("XDG_CACHE_HOME", self.path("cache"))
            .env("ASSAY_DB", self.path("runs.db"))
            .env("ASSAY_KEY_PASSPHRASE", "test passphrase");
        // File storage, whatever the developer's desktop offers; the keychain has its own test.
        c.env("ASSAY_KEYCHAIN", "off");
        c
    }

    /// A release of the sample model, created with `assay release create`.
    fn release(&self, name: &str) -> PathBuf {
        let out = self.path(name);
        let o = run(self
            .assay()
            .arg("release")
            .arg("create")
            .arg(sample_model())
            .args(["--name", "sample", "--version", "1.0.0", "--notes", "first"])
            .arg("--out")
            .arg(&out));
        assert_eq!(o.code, 0, "{}", o.stderr);
        out
    }
}

fn model_signing() -> PathBuf {
    let p = root().join(".cache/venv-signing/bin/model_signing");
    assert!(p.exists(), "{} is missing: run `make setup`", p.display());
    p
}

fn ms(args: &[&dyn AsRef<std::ffi::OsStr>]) -> std::process::Output {
    std::process::Command::new(model_signing())
        .args(args.iter().map(|a| a.as_ref()))
        .output()
        .unwrap()
}

fn openssl_key(dir: &Path) -> (PathBuf, PathBuf) {
    let key = dir.join("k.pem");
    let public = dir.join("k.pub");
    let sh = format!(
        "openssl ecparam -name prime256v1 -genkey -noout | openssl pkcs8 -topk8 -nocrypt -out '{}' && openssl ec -in '{}' -pubout -out '{}' 2>/dev/null",
        key.display(),
        key.display(),
        public.display()
    );
    assert!(
        std::process::Command::new("sh")
            .arg("-c")
            .arg(sh)
            .status()
            .unwrap()
            .success()
    );
    (key, public)
}

#[test]
fn keys_are_generated_listed_exported_and_protected() {
    let env = Env::new();
    let o = run(env.assay().args(["key", "generate", "release", "--json"]));
    assert_eq!(o.code, 0, "{}", o.stderr);
    let info = json(&o.stdout);
    let hint = info["hint"].as_str().unwrap().to_string();
    assert_eq!(hint.len(), 64);
    let list = json(&run(env.assay().args(["key", "list", "--json"])).stdout);
    assert_eq!(list["keys"][0]["name"], "release");
    assert_eq!(list["keys"][0]["hint"], hint.as_str());
    let private = env.path("data/assay/keys/release.key.pem");
    let text = std::fs::read_to_string(&private).unwrap();
    assert!(
        text.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"),
        "never plaintext"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&private).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    let pem = run(env.assay().args(["key", "export-public", "release"])).stdout;
    assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----"));
    // The hint is model_signing's: sha256 of the PEM text.
    let digest = std::process::Command::new("sha256sum")
        .arg(env.path("data/assay/keys/release.pub.pem"))
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&digest.stdout).starts_with(&hint));
    // Nothing secret in any output.
    assert!(!o.stdout.contains("PRIVATE") && !o.stderr.contains("PRIVATE"));
    expect_error(
        env.assay().args(["key", "generate", "release"]),
        2,
        "exists already",
    );
    expect_error(
        env.assay().args(["key", "generate", "../evil"]),
        2,
        "key name",
    );
    let mut wrong = env.assay();
    wrong.env("ASSAY_KEY_PASSPHRASE", "wrong");
    let rel = env.release("rel");
    expect_error(
        wrong
            .arg("sign")
            .arg(&rel)
            .args(["--key", "release", "--signature"])
            .arg(env.path("x.sig")),
        1,
        "wrong passphrase",
    );
    assert_eq!(run(env.assay().args(["key", "rm", "release"])).code, 0);
    expect_error(
        env.assay().args(["key", "export-public", "release"]),
        2,
        "no key named 'release'",
    );
}

#[test]
fn release_create_copies_the_model_and_writes_metadata() {
    let env = Env::new();
    let o = run(env
        .assay()
        .args(["bench"])
        .arg(sample_model())
        .args(QUICK)
        .arg("--json"));
    let run_id = json(&o.stdout)["run_id"].as_str().unwrap().to_string();
    let out = env.path("mlp-ext");
    let o = run(env
        .assay()
        .args(["release", "create"])
        .arg(fixture("mlp_external.onnx"))
        .args([
            "--name",
            "mlp",
            "--version",
            "2.1.0-rc.1",
            "--json",
            "--include",
        ])
        .arg(fixture("inputs/mlp_b4.npy"))
        .arg("--out")
        .arg(&out));
    assert_eq!(o.code, 0, "{}", o.stderr);
    for f in [
        "mlp_external.onnx",
        "mlp_external.onnx.data",
        "mlp_b4.npy",
        "assay-release.json",
    ] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    let meta = json(&std::fs::read_to_string(out.join("assay-release.json")).unwrap());
    assert_eq!(meta["version"], "2.1.0-rc.1");
    assert_eq!(meta["signature"]["inputs"][0]["name"], "input");
    // Evidence from a recorded run.
    let out2 = env.path("with-evidence");
    let o = run(env
        .assay()
        .args(["release", "create"])
        .arg(sample_model())
        .args([
            "--name",
            "sample",
            "--version",
            "1.0.0",
            "--evidence",
            &run_id,
        ])
        .arg("--out")
        .arg(&out2));
    assert_eq!(o.code, 0, "{}", o.stderr);
    let meta = json(&std::fs::read_to_string(out2.join("assay-release.json")).unwrap());
    assert_eq!(meta["evidence"]["run_id"], run_id.as_str());
    assert!(meta["evidence"]["summary"][0]["p50_ms"].as_f64().unwrap() > 0.0);
    // Bad input.
    expect_error(
        env.assay()
            .args(["release", "create"])
            .arg(sample_model())
            .args(["--name", "x", "--version", "1.0"])
            .arg("--out")
            .arg(env.path("v")),
        2,
        "not a semantic version",
    );
    expect_error(
        env.assay()
            .args(["release", "create"])
            .arg(sample_model())
            .args(["--name", "x", "--version", "1.0.0"])
            .arg("--out")
            .arg(&out),
        2,
        "exists and is not empty",
    );
    assert!(!env.path("v").exists(), "a failed create leaves nothing");
}

#[test]
fn our_signatures_verify_with_model_signing_and_break_on_one_byte() {
    let env = Env::new();
    assert_eq!(
        run(env.assay().args(["key", "generate", "release"])).code,
        0
    );
    let rel = env.release("rel");
    let sig = env.path("rel.sig");
    let o = run(env
        .assay()
        .arg("sign")
        .arg(&rel)
        .args(["--key", "release", "--signature"])
        .arg(&sig));
    assert_eq!(o.code, 0, "{}", o.stderr);
    let public = env.path("release.pub.pem");
    assert_eq!(
        run(env
            .assay()
            .args(["key", "export-public", "release", "--out"])
            .arg(&public))
        .code,
        0
    );

    let out = ms(&[
        &"verify",
        &"key",
        &rel,
        &"--signature",
        &sig,
        &"--public_key",
        &public,
    ]);
    assert!(
        out.status.success(),
        "model_signing refused our bundle:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("Verification succeeded"));
    // And ours agrees, with the release metadata signed inside.
    let v = json(
        &run(env
            .assay()
            .arg("verify")
            .arg(&rel)
            .arg("--signature")
            .arg(&sig)
            .arg("--public-key")
            .arg(&public)
            .arg("--json"))
        .stdout,
    );
    assert_eq!(v["verified"], true);
    assert_eq!(v["release"]["name"], "sample");

    // One byte of the model changes: both refuse.
    let model = rel.join("sample-mlp.onnx");
    let mut bytes = std::fs::read(&model).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&model, bytes).unwrap();
    let out = ms(&[
        &"verify",
        &"key",
        &rel,
        &"--signature",
        &sig,
        &"--public_key",
        &public,
    ]);
    assert!(
        !out.status.success(),
        "model_signing accepted a tampered model"
    );
    expect_error(
        env.assay()
            .arg("verify")
            .arg(&rel)
            .arg("--signature")
            .arg(&sig)
            .arg("--public-key")
            .arg(&public),
        5,
        "digest mismatch: sample-mlp.onnx",
    );
}

#[test]
fn model_signing_signatures_verify_with_assay_and_every_tampering_is_caught() {
    let env = Env::new();
    let (key, public) = openssl_key(env.dir.path());
    let rel = env.release("rel");
    let sig = env.path("rel.sig");
    let out = ms(&[
        &"sign",
        &"key",
        &rel,
        &"--private_key",
        &key,
        &"--signature",
        &sig,
    ]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("Signing succeeded"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let verify = |dir: &Path, public: &Path| {
        let mut c = env.assay();
        c.arg("verify")
            .arg(dir)
            .arg("--signature")
            .arg(&sig)
            .arg("--public-key")
            .arg(public);
        c
    };
    let o = run(&mut verify(&rel, &public));
    assert_eq!(
        o.code, 0,
        "assay refused model_signing's bundle: {}",
        o.stderr
    );
    assert!(o.stdout.contains("Verification succeeded"));

    // Trusted-keys folder: the hint picks the key.
    let trusted = env.path("trusted");
    std::fs::create_dir(&trusted).unwrap();
    std::fs::copy(&public, trusted.join("ci.pem")).unwrap();
    assert_eq!(
        run(env
            .assay()
            .arg("verify")
            .arg(&rel)
            .arg("--signature")
            .arg(&sig)
            .arg("--trusted-keys")
            .arg(&trusted))
        .code,
        0
    );

    // A wrong key.
    let other = env.path("other");
    std::fs::create_dir(&other).unwrap();
    let (_, other_pub) = openssl_key(&other);
    expect_error(&mut verify(&rel, &other_pub), 5, "bad signature");
    std::fs::remove_file(trusted.join("ci.pem")).unwrap();
    std::fs::copy(&other_pub, trusted.join("other.pem")).unwrap();
    expect_error(
        env.assay()
            .arg("verify")
            .arg(&rel)
            .arg("--signature")
            .arg(&sig)
            .arg("--trusted-keys")
            .arg(&trusted),
        5,
        "unknown key",
    );

    // An extra file, a missing file, a changed file.
    std::fs::write(rel.join("extra.txt"), b"surprise").unwrap();
    expect_error(&mut verify(&rel, &public), 5, "extra file: extra.txt");
    std::fs::remove_file(rel.join("extra.txt")).unwrap();
    std::fs::rename(rel.join("assay-release.json"), env.path("moved.json")).unwrap();
    expect_error(
        &mut verify(&rel, &public),
        5,
        "missing file: assay-release.json",
    );
    std::fs::rename(env.path("moved.json"), rel.join("assay-release.json")).unwrap();
    std::fs::write(rel.join("assay-release.json"), b"{}").unwrap();
    expect_error(
        &mut verify(&rel, &public),
        5,
        "digest mismatch: assay-release.json",
    );
}

#[test]
fn malformed_bundles_and_hostile_inputs_are_named() {
    let env = Env::new();
    assert_eq!(run(env.assay().args(["key", "generate", "k"])).code, 0);
    let rel = env.release("rel");
    let sig = env.path("rel.sig");
    assert_eq!(
        run(env
            .assay()
            .arg("sign")
            .arg(&rel)
            .args(["--key", "k", "--signature"])
            .arg(&sig))
        .code,
        0
    );
    let good: serde_json::Value = json(&std::fs::read_to_string(&sig).unwrap());
    let try_bundle = |v: &serde_json::Value, needle: &str| {
        let p = env.path("bad.sig");
        std::fs::write(&p, serde_json::to_vec(v).unwrap()).unwrap();
        expect_error(
            env.assay()
                .arg("verify")
                .arg(&rel)
                .arg("--signature")
                .arg(&p)
                .args(["--public-key", "k"]),
            5,
            needle,
        );
    };
    let mut v = good.clone();
    v["mediaType"] = "application/vnd.dev.sigstore.bundle+json;version=0.3".into();
    try_bundle(&v, "bad media type");
    let mut v = good.clone();
    v["dsseEnvelope"]["payloadType"] = "text/plain".into();
    try_bundle(&v, "bad payload type");
    // Base64 without its padding. A payload whose length is a multiple of 3 has none to
    // drop, so then its last character goes instead: either way it is no longer padded.
    let mut v = good.clone();
    let payload = v["dsseEnvelope"]["payload"].as_str().unwrap().to_string();
    let unpadded = match payload.strip_suffix('=') {
        Some(_) => payload.trim_end_matches('='),
        None => &payload[..payload.len() - 1],
    };
    v["dsseEnvelope"]["payload"] = unpadded.into();
    try_bundle(&v, "malformed bundle");
    let mut v = good.clone();
    v["verificationMaterial"] = serde_json::json!({"tlogEntries": []});
    try_bundle(&v, "malformed bundle");
    std::fs::write(env.path("garbage.sig"), b"\x00\x01 not json").unwrap();
    expect_error(
        env.assay()
            .arg("verify")
            .arg(&rel)
            .arg("--signature")
            .arg(env.path("garbage.sig"))
            .args(["--public-key", "k"]),
        5,
        "malformed bundle",
    );

    // A symlink in the release is refused when signing and when verifying.
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink("/etc/hostname", rel.join("link")).unwrap();
        expect_error(
            env.assay()
                .arg("verify")
                .arg(&rel)
                .arg("--signature")
                .arg(&sig)
                .args(["--public-key", "k"]),
            5,
            "refused symlink: link",
        );
        expect_error(
            env.assay()
                .arg("sign")
                .arg(&rel)
                .args(["--key", "k", "--signature"])
                .arg(env.path("s2.sig")),
            5,
            "refused symlink",
        );
        std::fs::remove_file(rel.join("link")).unwrap();
    }
    // A non-UTF-8 file name.
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let odd = rel.join(std::ffi::OsStr::from_bytes(b"bad\xffname"));
        std::fs::write(&odd, b"x").unwrap();
        expect_error(
            env.assay()
                .arg("sign")
                .arg(&rel)
                .args(["--key", "k", "--signature"])
                .arg(env.path("s3.sig")),
            5,
            "not valid UTF-8",
        );
        std::fs::remove_file(&odd).unwrap();
    }
    // A very long (but legal) name signs and verifies.
    let long = "n".repeat(200);
    std::fs::write(rel.join(&long), b"x").unwrap();
    assert_eq!(
        run(env
            .assay()
            .arg("sign")
            .arg(&rel)
            .args(["--key", "k", "--signature"])
            .arg(&sig))
        .code,
        0
    );
    assert_eq!(
        run(env
            .assay()
            .arg("verify")
            .arg(&rel)
            .arg("--signature")
            .arg(&sig)
            .args(["--public-key", "k"]))
        .code,
        0
    );
}

#[test]
fn keys_made_by_openssl_import_in_every_form_and_ours_open_in_openssl() {
    let env = Env::new();
    let dir = env.dir.path();
    let sh = |cmd: &str| {
        assert!(
            std::process::Command::new("sh")
                .arg("-c")
                .arg(cmd)
                .current_dir(dir)
                .status()
                .unwrap()
                .success(),
            "{cmd}"
        )
    };
    // SEC1, encrypted PKCS#8 (same passphrase as the store), plain PKCS#8, and a public key.
    sh("openssl ecparam -name prime256v1 -genkey -noout -out sec1.pem");
    sh(
        "openssl pkcs8 -topk8 -in sec1.pem -v2 aes-256-cbc -passout 'pass:test passphrase' -out enc.pem",
    );
    sh("openssl pkcs8 -topk8 -nocrypt -in sec1.pem -out plain.pem");
    sh("openssl ec -in sec1.pem -pubout -out pub.pem 2>/dev/null");
    let mut hints = Vec::new();
    for (name, file) in [
        ("sec1", "sec1.pem"),
        ("enc", "enc.pem"),
        ("plain", "plain.pem"),
        ("pub", "pub.pem"),
    ] {
        let o = run(env
            .assay()
            .args(["key", "import", name])
            .arg(dir.join(file))
            .arg("--json"));
        assert_eq!(o.code, 0, "{file}: {}", o.stderr);
        hints.push(json(&o.stdout)["hint"].as_str().unwrap().to_string());
    }
    assert!(
        hints.windows(2).all(|w| w[0] == w[1]),
        "one key, four forms, one fingerprint: {hints:?}"
    );
    // A P-384 key is named as unsupported, not mangled.
    sh(
        "openssl ecparam -name secp384r1 -genkey -noout | openssl pkcs8 -topk8 -nocrypt -out p384.pem",
    );
    expect_error(
        env.assay()
            .args(["key", "import", "p384"])
            .arg(dir.join("p384.pem")),
        1,
        "not a P-256",
    );
    // Our encrypted key file is standard: openssl opens it with the passphrase.
    assert_eq!(run(env.assay().args(["key", "generate", "mine"])).code, 0);
    let ours = env.path("data/assay/keys/mine.key.pem");
    sh(&format!(
        "openssl pkey -in '{}' -passin 'pass:test passphrase' -noout",
        ours.display()
    ));
}

#[test]
fn keys_go_to_the_os_keychain_when_one_runs() {
    // A real Secret Service: gnome-keyring in a private D-Bus session (both from Debian,
    // installed by scripts/setup.sh).
    let env = Env::new();
    let assay_bin = assert_cmd::cargo::cargo_bin("assay");
    let script = format!(
        r#"printf 'keyring-pw' | gnome-keyring-daemon --unlock --components=secrets >/dev/null 2>&1
A='{bin}'
"$A" key generate kc --json || exit 10
test ! -e '{keys}/kc.key.pem' || exit 11
test -e '{keys}/kc.key.keychain' || exit 12
"$A" release create '{model}' --name s --version 1.0.0 --out '{rel}' >/dev/null || exit 13
"$A" sign '{rel}' --key kc --signature '{sig}' >/dev/null || exit 14
"$A" verify '{rel}' --signature '{sig}' --public-key kc >/dev/null || exit 15
"$A" key rm kc >/dev/null || exit 16
test ! -e '{keys}/kc.key.keychain' || exit 17"#,
        bin = assay_bin.display(),
        keys = env.path("data/assay/keys").display(),
        model = sample_model().display(),
        rel = env.path("rel").display(),
        sig = env.path("rel.sig").display(),
    );
    let out = std::process::Command::new("dbus-run-session")
        .args(["--", "sh", "-c", &script])
        .env("XDG_DATA_HOME", env.path("data"))
        .env("XDG_CACHE_HOME", env.path("cache"))
        .env("ASSAY_KEY_PASSPHRASE", "test passphrase")
        .env("ASSAY_ORT_DYLIB", runtime_library())
        .env_remove("ASSAY_KEYCHAIN")
        .output()
        .expect("dbus-run-session (Debian package dbus) is installed by scripts/setup.sh");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "exit {:?}\n{stdout}\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("\"storage\": \"keychain\""), "{stdout}");
}
