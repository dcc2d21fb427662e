//! Releases through a real OCI registry: Debian's `docker-registry` (the CNCF distribution
//! server) on 127.0.0.1 with TLS from a private CA and htpasswd auth. `assay push` writes
//! ModelPack artifacts with the signature as a referrer, `assay verify` checks them in
//! place, ORAS's Python SDK reads them, and gateways pull them, verify them and serve them,
//! or refuse them with nothing visible.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use serde_json::Value;
use sha2::Digest;

use crate::{admin, common::*, harness::*};

const USER: &str = "alice";
const PASSWORD: &str = "correct horse battery staple";

/// A registry process (and its token server, with bearer auth), killed when dropped.
pub struct Registry {
    child: Child,
    tokens: Option<Child>,
    pub port: u16,
    pub dir: PathBuf,
}

impl Registry {
    /// A registry with htpasswd (basic) auth.
    pub fn start(env: &Env) -> Registry {
        Registry::start_with(env, false)
    }

    /// A registry with the token flow: clients trade the user's credentials for a bearer
    /// token at `token_server.py` (the registry trusts its certificate), as on Docker Hub.
    pub fn start_with_tokens(env: &Env) -> Registry {
        Registry::start_with(env, true)
    }

    fn start_with(env: &Env, bearer: bool) -> Registry {
        let dir = env.path("registry");
        std::fs::create_dir_all(&dir).unwrap();
        let sh = |script: &str| {
            let o = Command::new("sh")
                .arg("-c")
                .arg(script)
                .current_dir(&dir)
                .output()
                .unwrap();
            assert!(
                o.status.success(),
                "{script}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
        };
        // A private CA and a server certificate it signed, and one user in htpasswd (bcrypt,
        // the only kind the registry reads).
        sh(
            "printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\nbasicConstraints=critical,CA:FALSE\\n' > san.ext \
            && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj '/CN=Registry Test CA' -keyout ca.key -out ca.pem 2>/dev/null \
            && openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost -keyout key.pem -out req.csr 2>/dev/null \
            && openssl x509 -req -in req.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile san.ext -out cert.pem 2>/dev/null",
        );
        sh(&format!("htpasswd -Bbn {USER} '{PASSWORD}' > htpasswd"));
        let mut tokens = None;
        let auth_config = if bearer {
            sh(
                "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj '/CN=Registry Token Issuer' -keyout token.key -out token.pem 2>/dev/null",
            );
            let py = root().join(".cache/venv-signing/bin/python");
            assert!(py.exists(), "{} is missing: run `make setup`", py.display());
            let mut child = Command::new(py)
                .arg(root().join("crates/assay-gateway/tests/process/token_server.py"))
                .arg(dir.join("token.pem"))
                .arg(dir.join("token.key"))
                .args([USER, PASSWORD, "assay-test", "assay-test-issuer"])
                .stdout(Stdio::piped())
                .stderr(std::fs::File::create(dir.join("tokens.log")).unwrap())
                .spawn()
                .unwrap();
            let mut line = String::new();
            std::io::BufRead::read_line(
                &mut std::io::BufReader::new(child.stdout.take().unwrap()),
                &mut line,
            )
            .unwrap();
            let port: u16 = line.trim().parse().expect("the token server's port");
            tokens = Some(child);
            format!(
                "auth:\n  token:\n    realm: http://127.0.0.1:{port}/token\n    service: assay-test\n    issuer: assay-test-issuer\n    rootcertbundle: {}/token.pem\n",
                dir.display()
            )
        } else {
            format!(
                "auth:\n  htpasswd:\n    realm: assay-test\n    path: {}/htpasswd\n",
                dir.display()
            )
        };
        std::fs::write(dir.join("password"), format!("{PASSWORD}\n")).unwrap();
        // Docker's config with the right credentials, as `docker login` writes it.
        let auth = base64_encode(format!("{USER}:{PASSWORD}").as_bytes());
        std::fs::create_dir_all(dir.join("docker")).unwrap();
        let started = Instant::now();
        loop {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            std::fs::write(
                dir.join("docker/config.json"),
                format!(r#"{{"auths": {{"127.0.0.1:{port}": {{"auth": "{auth}"}}}}}}"#),
            )
            .unwrap();
            let d = dir.display();
            std::fs::write(
                dir.join("config.yml"),
                format!(
                    "version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n    rootdirectory: {d}/data\n\
                     http:\n  addr: 127.0.0.1:{port}\n  tls:\n    certificate: {d}/cert.pem\n    key: {d}/key.pem\n\
                     {auth_config}"
                ),
            )
            .unwrap();
            let log = dir.join("registry.log");
            let mut child = Command::new("docker-registry")
                .arg("serve")
                .arg(dir.join("config.yml"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(&log).unwrap())
                .spawn()
                .expect("docker-registry is missing: run `make setup` (Debian's docker-registry)");
            let up = Instant::now();
            while up.elapsed() < Duration::from_secs(10) {
                if std::fs::read_to_string(&log)
                    .unwrap_or_default()
                    .contains("listening on")
                    && std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
                {
                    return Registry {
                        child,
                        tokens,
                        port,
                        dir,
                    };
                }
                if child.try_wait().ok().flatten().is_some() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(25));
            }
            let _ = child.kill();
            let _ = child.wait();
            // The port was taken between the probe and the start: try another.
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "the registry did not start:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
    }

    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn reference(&self, repo_tag: &str) -> String {
        format!("oci://{}/{repo_tag}", self.host())
    }

    pub fn ca(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// `assay` with Docker's credentials for this registry and its CA.
    pub fn assay(&self, env: &Env) -> assert_cmd::Command {
        let mut c = env.assay();
        c.env("DOCKER_CONFIG", self.dir.join("docker"))
            .env("ASSAY_REGISTRY_CA", self.ca());
        c
    }

    /// A Docker config (folder) holding the wrong password for this registry.
    pub fn wrong_docker_config(&self, env: &Env) -> PathBuf {
        let dir = env.path("docker-wrong");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("config.json"),
            format!(
                r#"{{"auths": {{"{}": {{"auth": "{}"}}}}}}"#,
                self.host(),
                base64_encode(b"alice:not it")
            ),
        )
        .unwrap();
        dir
    }

    /// The gateway's `[registry]` section for this registry.
    pub fn gateway_config(&self, password_file: &Path) -> String {
        format!(
            "[registry]\nhost = \"{}\"\nca_cert = \"{}\"\nusername = \"{USER}\"\npassword_file = \"{}\"\n",
            self.host(),
            self.ca().display(),
            password_file.display()
        )
    }

    /// A blob's file in the registry's storage.
    pub fn blob_file(&self, sha256_hex: &str) -> PathBuf {
        self.dir.join(format!(
            "data/docker/registry/v2/blobs/sha256/{}/{sha256_hex}/data",
            &sha256_hex[..2]
        ))
    }

    /// `oci_tools.py` (ORAS's SDK and plain registry calls) against this registry.
    pub fn tool(&self, args: &[&str]) -> String {
        let py = root().join(".cache/venv-oras/bin/python");
        assert!(py.exists(), "{} is missing: run `make setup`", py.display());
        let o = Command::new(py)
            .arg(root().join("crates/assay-gateway/tests/process/oci_tools.py"))
            .arg(args[0])
            .arg(self.host())
            .arg(args[1])
            .arg(args[2])
            .arg(self.ca())
            .args([USER, PASSWORD])
            .args(&args[3..])
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "oci_tools.py {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).unwrap()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        for child in std::iter::once(&mut self.child).chain(self.tokens.as_mut()) {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn base64_encode(b: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(b)
}

fn sha256_hex(path: &Path) -> String {
    hex::encode(sha2::Sha256::digest(std::fs::read(path).unwrap()))
}

fn json_of(o: &Outcome) -> Value {
    assert_eq!(o.code, 0, "{}\n{}", o.stdout, o.stderr);
    serde_json::from_str(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", o.stdout))
}

/// `assay push DIR --signature SIG REFERENCE --json`.
fn push(reg: &Registry, env: &Env, rel: &(PathBuf, PathBuf), reference: &str) -> Outcome {
    run(reg
        .assay(env)
        .arg("push")
        .arg(&rel.0)
        .arg("--signature")
        .arg(&rel.1)
        .arg(reference)
        .arg("--json"))
}

fn pull(env: &Env, gw: &Gateway, model: &str, reference: &str) -> Outcome {
    env.gateway(gw, &["pull", model, reference, "--json"])
}

/// One row through the sample model; the status and the serving version.
fn infer_sample(gw: &Gateway) -> (u16, Option<String>) {
    let body = serde_json::json!({"inputs": [{"name": "input", "shape": [1, 64], "datatype": "FP32", "data": vec![0.5f32; 64]}]});
    let r = infer(
        &agent(),
        gw,
        "/v2/models/sample/infer",
        body.to_string().into_bytes(),
        &[("content-type", "application/json".into())],
    );
    (
        r.status,
        r.json()["model_version"].as_str().map(String::from),
    )
}

/// The versions a gateway lists for `model`.
fn versions(env: &Env, gw: &Gateway, model: &str) -> Vec<String> {
    let o = env.gateway(gw, &["releases", "--json"]);
    let v = json_of(&o);
    v["models"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["name"] == model)
        .flat_map(|m| m["releases"].as_array().unwrap().clone())
        .map(|r| r["version"].as_str().unwrap().to_string())
        .collect()
}

/// Nothing of a refused pull is left in the gateway's staging area.
fn no_staging_left(gw: &Gateway) {
    let left: Vec<_> = std::fs::read_dir(gw.data.join("uploads"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(left.is_empty(), "staging left behind: {left:?}");
}

/// The sample model released as `sample` `version` with a side file `name` of `size`
/// pseudo-random bytes (several transfer chunks); returns (folder, signature).
fn release_with_side_file(env: &Env, version: &str, name: &str, size: u32) -> (PathBuf, PathBuf) {
    let big = env.path(name);
    std::fs::write(
        &big,
        (0..size)
            .map(|i| i.wrapping_mul(2654435761) as u8 >> 3)
            .collect::<Vec<u8>>(),
    )
    .unwrap();
    let dir = env.path(&format!("rel/sample-{version}"));
    let sig = env.path(&format!("rel/sample-{version}.sig"));
    let o = run(env
        .assay()
        .args(["release", "create"])
        .arg(sample_model())
        .args(["--name", "sample", "--version", version, "--include"])
        .arg(&big)
        .arg("--out")
        .arg(&dir));
    assert_eq!(o.code, 0, "{}", o.stderr);
    let o = run(env
        .assay()
        .arg("sign")
        .arg(&dir)
        .args(["--key", "release", "--signature"])
        .arg(&sig));
    assert_eq!(o.code, 0, "{}", o.stderr);
    (dir, sig)
}

#[test]
fn a_release_goes_through_a_registry_into_a_gateway() {
    let env = Env::new();
    let reg = Registry::start(&env);
    let rel1 = env.release(&sample_model(), "sample", "1.0.0");
    let rel2 = env.release(&sample_model(), "sample", "1.1.0");
    let repo = reg.reference("team/sample");

    // The first version: every signed file is one layer, sent once. No tag given: the
    // release's version is the tag.
    let first = json_of(&push(&reg, &env, &rel1, &repo));
    let model_bytes = std::fs::metadata(rel1.0.join("sample-mlp.onnx"))
        .unwrap()
        .len();
    let meta1 = std::fs::metadata(rel1.0.join("assay-release.json"))
        .unwrap()
        .len();
    assert_eq!(first["reference"], format!("{repo}:1.0.0"));
    assert_eq!(
        (first["files"].as_u64(), first["blobs_sent"].as_u64()),
        (Some(2), Some(2))
    );
    assert_eq!(first["bytes_sent"].as_u64(), Some(model_bytes + meta1));
    // docker-registry 2.8 has no referrers API: the signature goes to the tag schema.
    assert_eq!(first["referrers"], "tag_schema");

    // The second version changes one small file: only that one is uploaded.
    let second = json_of(&push(&reg, &env, &rel2, &format!("{repo}:1.1.0")));
    let meta2 = std::fs::metadata(rel2.0.join("assay-release.json"))
        .unwrap()
        .len();
    assert_eq!(
        (
            second["blobs_sent"].as_u64(),
            second["blobs_present"].as_u64()
        ),
        (Some(1), Some(1))
    );
    assert_eq!(second["bytes_sent"].as_u64(), Some(meta2), "{second}");
    // Pushing it again sends nothing and attaches nothing new.
    let again = json_of(&push(&reg, &env, &rel2, &format!("{repo}:1.1.0")));
    assert_eq!(again["bytes_sent"].as_u64(), Some(0));
    assert_eq!(again["digest"], second["digest"]);

    // Verified in place: the signature from the referrer, every layer streamed.
    let trusted = env.path("trusted/release.pub.pem");
    let v = json_of(&run(reg
        .assay(&env)
        .args(["verify", &format!("{repo}:1.1.0"), "--public-key"])
        .arg(&trusted)
        .arg("--json")));
    assert_eq!(v["verified"], true);
    assert_eq!(v["files"].as_u64(), Some(2));
    assert_eq!(v["release"]["version"], "1.1.0");
    assert_eq!(v["digest"], second["digest"]);
    assert_eq!(v["signatures"].as_u64(), Some(1));

    // ORAS's own SDK lists and pulls what Assay wrote and finds the signature.
    let seen: Value =
        serde_json::from_str(&reg.tool(&["inspect", "team/sample", "1.0.0"])).unwrap();
    let tags: Vec<&str> = seen["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert!(
        tags.contains(&"1.0.0") && tags.contains(&"1.1.0"),
        "{tags:?}"
    );
    assert_eq!(
        seen["artifact_type"],
        "application/vnd.cncf.model.manifest.v1+json"
    );
    assert_eq!(
        seen["files"]["sample-mlp.onnx"],
        sha256_hex(&rel1.0.join("sample-mlp.onnx"))
    );
    assert_eq!(
        seen["files"]["assay-release.json"],
        sha256_hex(&rel1.0.join("assay-release.json"))
    );
    assert_eq!(seen["digest"], first["digest"]);
    assert_eq!(seen["subject"], first["digest"]);
    assert_eq!(
        seen["bundle_sha256"],
        sha256_hex(&rel1.1),
        "the referrer is the signature, byte for byte"
    );

    // A gateway pulls, verifies and serves; the first release becomes stable.
    let gw = Gateway::start(
        &env,
        "gw",
        &reg.gateway_config(&reg.dir.join("password")),
        &[],
    );
    let p = json_of(&pull(&env, &gw, "sample", &format!("{repo}:1.0.0")));
    assert_eq!(p["outcome"]["activated"], true, "{p}");
    assert_eq!(
        p["source"]["bytes_fetched"].as_u64(),
        Some(model_bytes + meta1)
    );
    assert_eq!(
        p["source"]["pinned"],
        format!("{repo}@{}", first["digest"].as_str().unwrap())
    );
    assert_eq!(infer_sample(&gw), (200, Some("1.0.0".into())));
    // The next version shares the model file on disk with the first: only the small file
    // comes over the network.
    let p = json_of(&pull(&env, &gw, "sample", &format!("{repo}:1.1.0")));
    assert_eq!(p["source"]["files_reused"].as_u64(), Some(1), "{p}");
    assert_eq!(p["source"]["bytes_fetched"].as_u64(), Some(meta2));
    assert_eq!(versions(&env, &gw, "sample"), ["1.0.0", "1.1.0"]);
    let o = env.gateway(&gw, &["activate", "sample", "1.1.0"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(infer_sample(&gw), (200, Some("1.1.0".into())));
    let files = |v: &str| {
        gw.data
            .join(format!("releases/sample/{v}/files/sample-mlp.onnx"))
    };
    use std::os::unix::fs::MetadataExt;
    assert_eq!(
        std::fs::metadata(files("1.0.0")).unwrap().ino(),
        std::fs::metadata(files("1.1.0")).unwrap().ino(),
        "the versions share one copy of the model"
    );
    // Pulling what the gateway holds is a no-op, not an error.
    let p = json_of(&pull(&env, &gw, "sample", &format!("{repo}:1.1.0")));
    assert_eq!(p["outcome"]["already_present"], true);
    no_staging_left(&gw);
    // The pull is audited.
    let audit = std::fs::read_to_string(gw.data.join("audit.log")).unwrap();
    assert!(
        audit.contains("\"push\"") && audit.contains("1.1.0"),
        "{audit}"
    );
}

#[test]
fn what_does_not_verify_is_refused_with_nothing_visible() {
    let env = Env::new();
    let reg = Registry::start(&env);
    let gw = Gateway::start(
        &env,
        "gw",
        &reg.gateway_config(&reg.dir.join("password")),
        &[],
    );
    let trusted_dir = env.path("trusted");
    let verify = |reference: &str| {
        run(reg
            .assay(&env)
            .args(["verify", reference, "--trusted-keys"])
            .arg(&trusted_dir))
    };
    let refused = |reference: &str, model: &str, needle: &str| {
        let o = pull(&env, &gw, model, reference);
        assert_eq!(o.code, 5, "{reference}: {}\n{}", o.stdout, o.stderr);
        assert!(o.stderr.contains(needle), "{reference}: {}", o.stderr);
        let o = verify(reference);
        assert_eq!(o.code, 5, "{reference}: {}", o.stderr);
        assert!(o.stderr.contains(needle), "{reference}: {}", o.stderr);
        assert!(
            versions(&env, &gw, model).is_empty(),
            "{reference} became visible"
        );
        no_staging_left(&gw);
    };

    // Signed by a key the gateway does not trust.
    let o = run(env.assay().args(["key", "generate", "stranger"]));
    assert_eq!(o.code, 0, "{}", o.stderr);
    let rel = env.release_with(&sample_model(), "sample", "1.0.0", "stranger");
    json_of(&push(
        &reg,
        &env,
        &rel,
        &reg.reference("team/untrusted:1.0.0"),
    ));
    refused(
        &reg.reference("team/untrusted:1.0.0"),
        "sample",
        "unknown key",
    );

    // A release whose signature referrer is gone (deleted, or never pushed).
    let rel = env.release(&sample_model(), "sample", "1.0.0");
    let pushed = json_of(&push(
        &reg,
        &env,
        &rel,
        &reg.reference("team/unsigned:1.0.0"),
    ));
    let tag = pushed["digest"].as_str().unwrap().replace(':', "-");
    std::fs::remove_dir_all(reg.dir.join(format!(
        "data/docker/registry/v2/repositories/team/unsigned/_manifests/tags/{tag}"
    )))
    .unwrap();
    refused(
        &reg.reference("team/unsigned:1.0.0"),
        "sample",
        "no signature",
    );

    // A layer changed in the registry's storage after the push.
    json_of(&push(
        &reg,
        &env,
        &rel,
        &reg.reference("team/tampered:1.0.0"),
    ));
    let blob = reg.blob_file(&sha256_hex(&rel.0.join("sample-mlp.onnx")));
    let mut bytes = std::fs::read(&blob).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x55;
    std::fs::write(&blob, bytes).unwrap();
    refused(
        &reg.reference("team/tampered:1.0.0"),
        "sample",
        "digest mismatch: sample-mlp.onnx",
    );

    // A manifest that names a file the signature does not, under the genuine signature.
    json_of(&push(&reg, &env, &rel, &reg.reference("team/forged:1.0.0")));
    reg.tool(&["forge", "team/forged", "1.0.0", "1.0.1"]);
    refused(
        &reg.reference("team/forged:1.0.1"),
        "sample",
        "extra file: extra.txt",
    );

    // A release over the gateway's size limit is refused before a layer is fetched.
    let small = Gateway::start(
        &env,
        "small",
        &format!(
            "{}[limits]\nmax_release_bytes = 4096\n",
            reg.gateway_config(&reg.dir.join("password"))
        ),
        &[],
    );
    json_of(&push(&reg, &env, &rel, &reg.reference("team/big:1.0.0")));
    let o = pull(&env, &small, "sample", &reg.reference("team/big:1.0.0"));
    assert_eq!(o.code, 1, "{}", o.stderr);
    assert!(
        o.stderr.contains("(413)") && o.stderr.contains("max_release_bytes"),
        "{}",
        o.stderr
    );
    assert!(versions(&env, &small, "sample").is_empty());
    no_staging_left(&small);

    // Wrong registry credentials: the gateway says so (502, exit 1), and so does the CLI.
    std::fs::write(env.path("wrong-password"), "not it\n").unwrap();
    let bad = Gateway::start(
        &env,
        "bad",
        &reg.gateway_config(&env.path("wrong-password")),
        &[],
    );
    let o = pull(&env, &bad, "sample", &reg.reference("team/unsigned:1.0.0"));
    assert_eq!(o.code, 1, "{}", o.stderr);
    assert!(
        o.stderr.contains("(502)") && o.stderr.contains("refused the credentials"),
        "{}",
        o.stderr
    );
    let wrong = reg.wrong_docker_config(&env);
    let o = run(reg
        .assay(&env)
        .env("DOCKER_CONFIG", &wrong)
        .args([
            "verify",
            &reg.reference("team/unsigned:1.0.0"),
            "--trusted-keys",
        ])
        .arg(&trusted_dir));
    assert_eq!(o.code, 2, "{}", o.stderr);
    assert!(o.stderr.contains("refused the credentials"), "{}", o.stderr);
    // Without the private CA, the certificate is not trusted, and the error says what to do.
    let o = run(reg
        .assay(&env)
        .env_remove("ASSAY_REGISTRY_CA")
        .args([
            "verify",
            &reg.reference("team/unsigned:1.0.0"),
            "--trusted-keys",
        ])
        .arg(&trusted_dir));
    assert_eq!(o.code, 1, "{}", o.stderr);
    assert!(o.stderr.contains("--registry-ca"), "{}", o.stderr);
    assert!(!o.stderr.contains("panicked"), "{}", o.stderr);
}

#[test]
fn a_gateway_killed_mid_pull_keeps_serving_its_stable_and_pulls_again() {
    let env = Env::new();
    let reg = Registry::start(&env);
    let config = reg.gateway_config(&reg.dir.join("password"));
    // The second version carries a side file of several chunks, so the pull is caught with
    // a layer half written.
    let rel1 = env.release(&sample_model(), "sample", "1.0.0");
    let rel2 = release_with_side_file(&env, "1.1.0", "vocabulary.bin", 6 << 20);
    json_of(&push(
        &reg,
        &env,
        &rel1,
        &reg.reference("team/sample:1.0.0"),
    ));
    json_of(&push(
        &reg,
        &env,
        &rel2,
        &reg.reference("team/sample:1.1.0"),
    ));

    let gw = Gateway::start(&env, "gw", &config, &[]);
    json_of(&pull(
        &env,
        &gw,
        "sample",
        &reg.reference("team/sample:1.0.0"),
    ));
    gw.kill();

    let gw = Gateway::start(
        &env,
        "gw",
        &config,
        &[("ASSAY_GATEWAY_FAILPOINTS", "pull-fetching")],
    );
    let mut cli = Command::new(assert_cmd::cargo::cargo_bin("assay"))
        .args([
            "gateway",
            "pull",
            "sample",
            &reg.reference("team/sample:1.1.0"),
            "--gateway",
            &gw.url(),
            "--token-file",
        ])
        .arg(env.path("admin.token"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    gw.wait_for_log("failpoint pull-fetching reached", Duration::from_secs(60));
    let partial = walk(&gw.data.join("uploads"))
        .into_iter()
        .find(|p| p.to_string_lossy().ends_with(".partial"));
    assert!(
        partial.is_some(),
        "no half-written layer to kill the gateway over"
    );
    let data = gw.data.clone();
    gw.kill();
    let _ = cli.kill();
    let _ = cli.wait();

    // Restarted: the stable serves, nothing of the half pull is listed or left, and the pull
    // runs again from the start.
    let gw = Gateway::start(&env, "gw", &config, &[]);
    assert_eq!(gw.data, data);
    no_staging_left(&gw);
    assert_eq!(versions(&env, &gw, "sample"), ["1.0.0"]);
    assert_eq!(infer_sample(&gw), (200, Some("1.0.0".into())));
    let p = json_of(&pull(
        &env,
        &gw,
        "sample",
        &reg.reference("team/sample:1.1.0"),
    ));
    assert_eq!(p["source"]["files_reused"].as_u64(), Some(1), "{p}");
    assert_eq!(versions(&env, &gw, "sample"), ["1.0.0", "1.1.0"]);
    assert!(
        gw.data
            .join("releases/sample/1.1.0/files/vocabulary.bin")
            .is_file()
    );
}

#[test]
fn a_watching_gateway_converges_on_the_newest_signed_tag() {
    let env = Env::new();
    let reg = Registry::start(&env);
    let config = format!(
        "{}\n[[watch]]\nmodel = \"sample\"\nrepository = \"{}\"\ntags = \"1.*\"\ninterval_s = 1\n",
        reg.gateway_config(&reg.dir.join("password")),
        reg.reference("team/watched")
    );
    let gw = Gateway::start(&env, "gw", &config, &[]);
    let stable_becomes = |v: &str| {
        let started = Instant::now();
        loop {
            if infer_sample(&gw).1.as_deref() == Some(v) {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "the gateway never served {v}:\n{}",
                gw.log_text()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    // Not ready before the first verified pull: a new replica takes no traffic empty-handed.
    let ready = || {
        http(
            &agent(),
            "GET",
            &format!("{}/v2/health/ready", gw.url()),
            None,
            &[],
            None,
        )
        .status
    };
    assert_eq!(ready(), 503);
    for v in ["1.0.0", "1.1.0"] {
        let rel = env.release(&sample_model(), "sample", v);
        json_of(&push(&reg, &env, &rel, &reg.reference("team/watched")));
        stable_becomes(v);
        assert_eq!(ready(), 200);
    }
    // A newer tag signed by a key the gateway does not trust is refused, and one outside
    // the pattern is ignored: the gateway stays on 1.1.0.
    let o = run(env.assay().args(["key", "generate", "stranger"]));
    assert_eq!(o.code, 0, "{}", o.stderr);
    let rel = env.release_with(&sample_model(), "sample", "1.2.0", "stranger");
    json_of(&push(&reg, &env, &rel, &reg.reference("team/watched")));
    let rel = env.release(&sample_model(), "sample", "2.0.0");
    json_of(&push(&reg, &env, &rel, &reg.reference("team/watched")));
    gw.wait_for_log("unknown key", Duration::from_secs(30));
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(infer_sample(&gw), (200, Some("1.1.0".into())));
    assert_eq!(versions(&env, &gw, "sample"), ["1.0.0", "1.1.0"]);
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// Lookup requests to every gateway until stopped: the traffic the canary analyses judge.
/// Values up to 12: the flaky lookup model fails on about a third of them.
fn traffic(
    gws: Vec<String>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let a = agent();
        let mut i = 0u32;
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            for url in &gws {
                let v = (i % 13) as f32;
                // Errors are the point for the flaky release, and a gateway may be gone.
                let _ = a
                    .post(format!("{url}/v2/models/lookup/infer"))
                    .header("content-type", "application/json")
                    .send(&lookup_request(&[[v, 0.0, 1.0, 2.0]])[..]);
            }
            i += 1;
        }
    })
}

fn stable_of(env: &Env, gw: &Gateway, model: &str) -> Option<String> {
    let v = json_of(&env.gateway(gw, &["status", "--json"]));
    v["models"][model]["stable"].as_str().map(String::from)
}

/// `assay fleet rollout FLEET lookup REFERENCE` in the background (to be killed or halted),
/// its stderr kept.
fn spawn_rollout(env: &Env, reg: &Registry, fleet: &Path, state: &Path, reference: &str) -> Child {
    Command::new(assert_cmd::cargo::cargo_bin("assay"))
        .args(["fleet", "rollout"])
        .arg(fleet)
        .args(["lookup", reference, "--events", "--state"])
        .arg(state)
        .env("XDG_DATA_HOME", env.path("xdg"))
        .env("DOCKER_CONFIG", reg.dir.join("docker"))
        .env("ASSAY_REGISTRY_CA", reg.ca())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits until the saved rollout of `version` has finished its first wave.
fn wait_for_first_wave(cli: &mut Child, state: &Path, version: &str) {
    let started = Instant::now();
    loop {
        let s: Value = std::fs::read(state)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or(Value::Null);
        if s["version"] == version && s["waves"][0]["done"] == true {
            return;
        }
        assert!(
            cli.try_wait().unwrap().is_none(),
            "the rollout ended before its first wave was done: {s}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "wave 1 never finished: {s}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_fleet_rollout_goes_in_waves_resumes_after_a_kill_and_rolls_back_a_failing_release() {
    let env = Env::new();
    let reg = Registry::start(&env);
    let config = format!(
        "{}{}",
        crate::FAST_CANARY,
        reg.gateway_config(&reg.dir.join("password"))
    );
    let gws: Vec<Gateway> = ["g1", "g2", "g3"]
        .iter()
        .map(|n| Gateway::start(&env, n, &config, &[]))
        .collect();
    for (v, model) in [
        ("1.0.0", "lookup.onnx"),
        ("2.0.0", "lookup_flaky.onnx"),
        ("3.0.0", "lookup.onnx"),
        ("4.0.0", "lookup.onnx"),
    ] {
        let rel = env.release(&fixture(model), "lookup", v);
        json_of(&push(&reg, &env, &rel, &reg.reference("team/lookup")));
    }
    for gw in &gws {
        json_of(&pull(
            &env,
            gw,
            "lookup",
            &reg.reference("team/lookup:1.0.0"),
        ));
    }
    let mut fleet = String::from(
        "name = \"test\"\n[rollout]\nwaves = [\"1\", \"2\", \"100%\"]\ncanary_percent = 50\nrequests = 30\ntimeout_s = 60\npoll_ms = 100\n",
    );
    for (n, gw) in ["g1", "g2", "g3"].iter().zip(&gws) {
        fleet.push_str(&format!(
            "[[gateway]]\nname = \"{n}\"\nurl = \"{}\"\ntoken_file = \"{}\"\nlabels = {{ zone = \"{n}\" }}\n",
            gw.url(),
            env.path("admin.token").display()
        ));
    }
    let fleet_file = env.path("fleet.toml");
    std::fs::write(&fleet_file, fleet).unwrap();
    let state = env.path("rollout.json");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load = traffic(gws.iter().map(|g| g.url()).collect(), stop.clone());
    let rollout = |reference: &str| {
        run(reg
            .assay(&env)
            .args(["fleet", "rollout"])
            .arg(&fleet_file)
            .args(["lookup", reference, "--json", "--state"])
            .arg(&state))
    };

    // A healthy release, interrupted once wave 1 is done: the CLI is killed, and run again
    // it resumes at wave 2 and finishes.
    let mut cli = spawn_rollout(
        &env,
        &reg,
        &fleet_file,
        &state,
        &reg.reference("team/lookup:3.0.0"),
    );
    wait_for_first_wave(&mut cli, &state, "3.0.0");
    cli.kill().unwrap();
    cli.wait().unwrap();
    assert_eq!(stable_of(&env, &gws[0], "lookup").as_deref(), Some("3.0.0"));
    assert_eq!(stable_of(&env, &gws[2], "lookup").as_deref(), Some("1.0.0"));
    let o = rollout(&reg.reference("team/lookup:3.0.0"));
    let done = json_of(&o);
    assert_eq!(done["status"], "done", "{done}");
    assert_eq!(done["version"], "3.0.0");
    for gw in &gws {
        assert_eq!(stable_of(&env, gw, "lookup").as_deref(), Some("3.0.0"));
    }
    for g in ["g1", "g2", "g3"] {
        assert_eq!(done["gateways"][g]["step"], "promoted", "{done}");
        assert_eq!(done["gateways"][g]["prior_stable"], "1.0.0", "{done}");
    }
    assert!(done["seconds"]["pulling"].as_f64().unwrap() > 0.0);
    assert!(done["seconds"]["analysis"].as_f64().unwrap() > 0.0);
    // g1 was not taken through its canary twice.
    let events = admin(&gws[0], "GET", "/admin/v1/models/lookup/events", None).json();
    let canaries = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "canary" && e["version"] == "3.0.0")
        .count();
    assert_eq!(canaries, 1, "{events}");
    // Run again, a finished rollout is left as it is.
    assert_eq!(
        json_of(&rollout(&reg.reference("team/lookup:3.0.0")))["status"],
        "done"
    );

    // A release that fails on some inputs: wave 1's gateway rolls its canary back, the
    // rollout halts there, and the other gateways never see it.
    let o = rollout(&reg.reference("team/lookup:2.0.0"));
    assert_eq!(o.code, 4, "{}\n{}", o.stdout, o.stderr);
    // The state, then (as for every failed gate with --json) the error as its own document.
    let mut docs = serde_json::Deserializer::from_str(&o.stdout).into_iter::<Value>();
    let failed = docs.next().unwrap().unwrap();
    assert_eq!(docs.next().unwrap().unwrap()["error"]["kind"], "regression");
    assert_eq!(failed["status"], "failed");
    assert!(
        failed["error"].as_str().unwrap().contains("wave 1 failed"),
        "{failed}"
    );
    assert_eq!(failed["gateways"]["g1"]["step"], "rolled_back", "{failed}");
    assert_eq!(failed["gateways"]["g2"]["step"], "pending");
    assert!(o.stderr.contains("the rollout failed"), "{}", o.stderr);
    for gw in &gws {
        assert_eq!(stable_of(&env, gw, "lookup").as_deref(), Some("3.0.0"));
    }
    assert!(versions(&env, &gws[0], "lookup").contains(&"2.0.0".to_string()));
    assert!(!versions(&env, &gws[1], "lookup").contains(&"2.0.0".to_string()));
    assert!(!versions(&env, &gws[2], "lookup").contains(&"2.0.0".to_string()));

    // Halted by hand once wave 1 is done, then rolled back: every gateway the rollout
    // changed serves its prior stable again, and the others were never touched.
    let mut cli = spawn_rollout(
        &env,
        &reg,
        &fleet_file,
        &state,
        &reg.reference("team/lookup:4.0.0"),
    );
    wait_for_first_wave(&mut cli, &state, "4.0.0");
    let o = run(env
        .assay()
        .args(["fleet", "halt"])
        .arg(&fleet_file)
        .args(["lookup", "--state"])
        .arg(&state));
    assert_eq!(o.code, 0, "{}", o.stderr);
    let halted = cli.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&halted.stderr);
    assert_eq!(halted.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("the rollout stopped"), "{stderr}");
    let s: Value = serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
    assert_eq!(s["status"], "halted", "{s}");
    assert_eq!(s["gateways"]["g1"]["step"], "promoted", "{s}");
    assert_eq!(stable_of(&env, &gws[0], "lookup").as_deref(), Some("4.0.0"));
    assert_eq!(stable_of(&env, &gws[2], "lookup").as_deref(), Some("3.0.0"));
    let undone = json_of(&run(env
        .assay()
        .args(["fleet", "rollback"])
        .arg(&fleet_file)
        .args(["lookup", "--json", "--state"])
        .arg(&state)));
    assert_eq!(undone["status"], "rolled_back", "{undone}");
    assert_eq!(undone["gateways"]["g1"]["step"], "rolled_back", "{undone}");
    assert_eq!(undone["gateways"]["g3"]["step"], "pending", "{undone}");
    for gw in &gws {
        assert_eq!(stable_of(&env, gw, "lookup").as_deref(), Some("3.0.0"));
        let m = admin(gw, "GET", "/admin/v1/models/lookup", None).json();
        assert!(m["canary"].is_null(), "a canary is left: {m}");
    }
    assert!(!versions(&env, &gws[2], "lookup").contains(&"4.0.0".to_string()));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    load.join().unwrap();

    // The fleet as the status command shows it.
    let st = json_of(&run(reg
        .assay(&env)
        .args(["fleet", "status"])
        .arg(&fleet_file)
        .args(["--model", "lookup", "--json", "--state"])
        .arg(&state)));
    assert_eq!(st["gateways"].as_array().unwrap().len(), 3);
    assert_eq!(
        st["gateways"][1]["status"]["models"]["lookup"]["stable"],
        "3.0.0"
    );
    assert_eq!(st["rollout"]["status"], "rolled_back");
}

/// The offset the push's remembered upload session reached (0 with none).
fn upload_offset(env: &Env) -> u64 {
    std::fs::read_dir(env.path("cache/assay/oci-uploads"))
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
        .filter_map(|e| std::fs::read(e.path()).ok())
        .filter_map(|b| serde_json::from_slice::<Value>(&b).ok())
        .filter_map(|v| v["offset"].as_u64())
        .max()
        .unwrap_or(0)
}

#[test]
fn an_interrupted_push_continues_inside_the_blob_it_was_sending() {
    let env = Env::new();
    let reg = Registry::start(&env);
    const SIZE: u64 = 64 << 20;
    let rel = release_with_side_file(&env, "2.0.0", "weights.bin", SIZE as u32);
    let reference = reg.reference("team/sample:2.0.0");
    let spawn = || {
        std::process::Command::new(assert_cmd::cargo::cargo_bin("assay"))
            .arg("push")
            .arg(&rel.0)
            .arg("--signature")
            .arg(&rel.1)
            .arg(&reference)
            .env("DOCKER_CONFIG", reg.dir.join("docker"))
            .env("ASSAY_REGISTRY_CA", reg.ca())
            .env("XDG_CACHE_HOME", env.path("cache"))
            .env("XDG_DATA_HOME", env.path("xdg"))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let wait_for_offset = |child: &mut Child, at_least: u64| {
        let started = Instant::now();
        while upload_offset(&env) < at_least {
            assert!(
                child.try_wait().unwrap().is_none(),
                "the push ended before {at_least} bytes were acknowledged"
            );
            assert!(started.elapsed() < Duration::from_secs(60));
            std::thread::sleep(Duration::from_millis(2));
        }
    };

    // kill -9 mid-push: whatever the registry kept of that session, the next push succeeds.
    let mut first = spawn();
    wait_for_offset(&mut first, 8 << 20);
    first.kill().unwrap();
    first.wait().unwrap();
    let killed_at = upload_offset(&env);

    // Ctrl-C: the chunk in flight is finished, the session kept, and the user told how to
    // go on.
    let mut second = spawn();
    wait_for_offset(&mut second, (16 << 20).max(killed_at + (8 << 20)));
    let sent_int = Command::new("kill")
        .args(["-INT", &second.id().to_string()])
        .status()
        .unwrap();
    assert!(sent_int.success());
    let out = second.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("interrupted") && stderr.contains("run the same push again"),
        "{stderr}"
    );
    let at = upload_offset(&env);
    assert!(
        (16 << 20..SIZE).contains(&at) && at.is_multiple_of(4 << 20),
        "the session stopped at {at}"
    );

    // The same push again continues at that byte: only the rest of the file is sent.
    let p = json_of(&push(&reg, &env, &rel, &reference));
    assert_eq!(p["bytes_resumed"].as_u64(), Some(at), "{p}");
    assert_eq!(p["bytes_sent"].as_u64(), Some(SIZE - at), "{p}");
    assert_eq!(p["blobs_sent"].as_u64(), Some(1), "{p}");
    assert_eq!(upload_offset(&env), 0, "the finished session is forgotten");
    // The registry assembled exactly the file, and the release verifies in place.
    let want = sha256_hex(&rel.0.join("weights.bin"));
    assert_eq!(sha256_hex(&reg.blob_file(&want)), want);
    let o = run(reg
        .assay(&env)
        .args(["verify", &reference, "--trusted-keys"])
        .arg(env.path("trusted")));
    assert_eq!(o.code, 0, "{}\n{}", o.stdout, o.stderr);
}

#[test]
fn a_registry_with_bearer_tokens_takes_pushes_and_serves_pulls() {
    let env = Env::new();
    let reg = Registry::start_with_tokens(&env);
    // Several upload chunks, each a request carrying the bearer token.
    let rel = release_with_side_file(&env, "1.0.0", "vocabulary.bin", 10 << 20);
    let reference = reg.reference("team/sample:1.0.0");
    let p = json_of(&push(&reg, &env, &rel, &reference));
    assert!(p["bytes_sent"].as_u64().unwrap() > 10 << 20, "{p}");
    let o = run(reg
        .assay(&env)
        .args(["verify", &reference, "--trusted-keys"])
        .arg(env.path("trusted")));
    assert_eq!(o.code, 0, "{}\n{}", o.stdout, o.stderr);

    // The gateway trades its [registry] credentials for a token of its own, then serves.
    let gw = Gateway::start(
        &env,
        "gw",
        &reg.gateway_config(&reg.dir.join("password")),
        &[],
    );
    json_of(&pull(&env, &gw, "sample", &reference));
    assert_eq!(infer_sample(&gw), (200, Some("1.0.0".into())));
    // The token server issued both kinds: push (with pull) for `assay push`, pull for the rest.
    let log = std::fs::read_to_string(reg.dir.join("tokens.log")).unwrap();
    assert!(
        log.contains("issued repository:team/sample:pull,push"),
        "{log}"
    );
    assert!(
        log.contains("issued repository:team/sample:pull\n"),
        "{log}"
    );

    // Wrong credentials: the token server refuses them, and the user is told.
    let wrong = reg.wrong_docker_config(&env);
    let o = run(reg
        .assay(&env)
        .env("DOCKER_CONFIG", &wrong)
        .args(["verify", &reference, "--trusted-keys"])
        .arg(env.path("trusted")));
    assert_eq!(o.code, 2, "{}", o.stderr);
    assert!(o.stderr.contains(&reg.host()), "{}", o.stderr);
}
