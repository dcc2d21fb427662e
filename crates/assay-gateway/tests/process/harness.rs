//! A real `assay-gateway` process on 127.0.0.1 for the tests, with its own data folder,
//! trusted key, admin token, and `assay` commands wired to it. Shared by the gateway's
//! process tests and the CLI's conformance suite, which each use part of it.

#![allow(dead_code)]

use std::{
    io::Read,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use crate::common::*;

pub const TOKEN: &str = "test-admin-token-0123456789abcdef";

/// Keys, releases and the `assay` side of the tests.
pub struct Env {
    pub dir: tempfile::TempDir,
}

impl Env {
    pub fn new() -> Env {
        let env = Env {
            dir: tempfile::tempdir().unwrap(),
        };
        std::fs::create_dir_all(env.path("trusted")).unwrap();
        std::fs::write(env.path("admin.token"), format!("{TOKEN}\n")).unwrap();
        let o = run(env.assay().args(["key", "generate", "release"]));
        assert_eq!(o.code, 0, "{}", o.stderr);
        let o = run(env
            .assay()
            .args(["key", "export-public", "release", "--out"])
            .arg(env.path("trusted/release.pub.pem")));
        assert_eq!(o.code, 0, "{}", o.stderr);
        env
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn assay(&self) -> assert_cmd::Command {
        let mut c = assay();
        c.env("ASSAY_ORT_DYLIB", runtime_library())
            .env("XDG_DATA_HOME", self.path("xdg"))
            .env("XDG_CACHE_HOME", self.path("cache"))
            .env("ASSAY_KEY_PASSPHRASE", "test passphrase")
            .env("ASSAY_KEYCHAIN", "off")
            .env_remove("ASSAY_GATEWAY_URL")
            .env_remove("ASSAY_GATEWAY_TOKEN");
        c
    }

    /// `assay gateway activate --force` as a background process (to be killed mid-way;
    /// forced, so a candidate with another signature gets as far as the crash).
    pub fn spawn_activate(&self, gw: &Gateway, model: &str, version: &str) -> Child {
        Command::new(assert_cmd::cargo::cargo_bin("assay"))
            .args([
                "gateway",
                "activate",
                model,
                version,
                "--force",
                "--gateway",
                &gw.url(),
                "--token-file",
            ])
            .arg(self.path("admin.token"))
            .env("XDG_DATA_HOME", self.path("xdg"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    }

    /// `assay release create` + `assay sign` with `key`; returns (folder, signature).
    pub fn release_with(
        &self,
        model: &Path,
        name: &str,
        version: &str,
        key: &str,
    ) -> (PathBuf, PathBuf) {
        let dir = self.path(&format!("rel/{name}-{version}-{key}"));
        let sig = self.path(&format!("rel/{name}-{version}-{key}.sig"));
        let o = run(self
            .assay()
            .args(["release", "create"])
            .arg(model)
            .args(["--name", name, "--version", version, "--out"])
            .arg(&dir));
        assert_eq!(o.code, 0, "{}", o.stderr);
        let o = run(self
            .assay()
            .arg("sign")
            .arg(&dir)
            .args(["--key", key, "--signature"])
            .arg(&sig));
        assert_eq!(o.code, 0, "{}", o.stderr);
        (dir, sig)
    }

    pub fn release(&self, model: &Path, name: &str, version: &str) -> (PathBuf, PathBuf) {
        self.release_with(model, name, version, "release")
    }

    /// `assay push` to `gw`.
    pub fn push(&self, gw: &Gateway, rel: &(PathBuf, PathBuf), extra: &[&str]) -> Outcome {
        run(self
            .assay()
            .arg("push")
            .arg(&rel.0)
            .arg("--signature")
            .arg(&rel.1)
            .args(["--gateway", &gw.url(), "--token-file"])
            .arg(self.path("admin.token"))
            .args(extra))
    }

    /// `assay gateway <args> --gateway … --token-file …`.
    pub fn gateway(&self, gw: &Gateway, args: &[&str]) -> Outcome {
        run(self
            .assay()
            .arg("gateway")
            .args(args)
            .args(["--gateway", &gw.url(), "--token-file"])
            .arg(self.path("admin.token")))
    }
}

/// A running gateway. Killed (SIGKILL) when dropped.
pub struct Gateway {
    pub child: Child,
    pub port: u16,
    pub data: PathBuf,
    pub log: PathBuf,
    pub scheme: &'static str,
    /// The gRPC port, when started with `--grpc-listen`.
    pub grpc_port: Option<u16>,
}

/// The gateway under test: the binary cargo built for this test when the test belongs to the
/// gateway's package; otherwise (the CLI's conformance suite) the workspace's debug build,
/// refused when it is older than the gateway's sources.
pub fn gateway_binary() -> PathBuf {
    if let Some(p) = option_env!("CARGO_BIN_EXE_assay-gateway") {
        return PathBuf::from(p);
    }
    let p = root().join("target/debug/assay-gateway");
    assert!(
        p.exists(),
        "{} is missing: run `cargo build -p assay-gateway`",
        p.display()
    );
    let built = std::fs::metadata(&p).and_then(|m| m.modified()).unwrap();
    if let Some(newer) =
        newest_source(&root().join("crates/assay-gateway/src")).filter(|(t, _)| *t > built)
    {
        panic!(
            "{} is older than {}: run `cargo build -p assay-gateway`",
            p.display(),
            newer.1.display()
        );
    }
    p
}

/// The most recently modified file under `dir`.
fn newest_source(dir: &Path) -> Option<(std::time::SystemTime, PathBuf)> {
    let mut newest: Option<(std::time::SystemTime, PathBuf)> = None;
    for e in std::fs::read_dir(dir).ok()?.flatten() {
        let path = e.path();
        let candidate = if path.is_dir() {
            newest_source(&path)
        } else {
            e.metadata()
                .and_then(|m| m.modified())
                .ok()
                .map(|t| (t, path))
        };
        if let Some(c) = candidate
            && newest.as_ref().is_none_or(|n| c.0 > n.0)
        {
            newest = Some(c);
        }
    }
    newest
}

impl Gateway {
    /// Starts a gateway over `env`'s trusted key and token, with `config` as its TOML file.
    pub fn start(env: &Env, data: &str, config: &str, extra_env: &[(&str, &str)]) -> Gateway {
        Self::start_with(env, data, config, extra_env, &[])
    }

    pub fn start_with(
        env: &Env,
        data: &str,
        config: &str,
        extra_env: &[(&str, &str)],
        args: &[&str],
    ) -> Gateway {
        let data = env.path(data);
        std::fs::create_dir_all(&data).unwrap();
        let cfg = env.path(&format!(
            "{}.toml",
            data.file_name().unwrap().to_string_lossy()
        ));
        std::fs::write(&cfg, config).unwrap();
        let n = std::fs::read_dir(env.dir.path()).unwrap().count();
        let log = env.path(&format!("gateway-{n}.log"));
        let mut cmd = Command::new(gateway_binary());
        cmd.arg("--config")
            .arg(&cfg)
            .args(["--listen", "127.0.0.1:0", "--data"])
            .arg(&data)
            .arg("--trusted-keys")
            .arg(env.path("trusted"))
            .arg("--token-file")
            .arg(env.path("admin.token"))
            .args(args)
            .env("ASSAY_ORT_DYLIB", runtime_library())
            .env_remove("ASSAY_GATEWAY_TOKEN")
            .env_remove("ASSAY_GATEWAY_FAILPOINTS")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap());
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        let started = Instant::now();
        loop {
            let read = std::fs::read_to_string(&log).unwrap_or_default();
            // Only whole lines: the gateway may be half-way through writing one.
            let text = &read[..read.rfind('\n').map_or(0, |i| i + 1)];
            let grpc_line = text
                .lines()
                .find(|l| l.starts_with("assay-gateway: gRPC listening on "));
            let grpc_wanted = args.contains(&"--grpc-listen");
            if let Some(line) = text
                .lines()
                .find(|l| l.starts_with("assay-gateway: listening on "))
                && (grpc_line.is_some() || !grpc_wanted)
            {
                let grpc_port = grpc_line.map(|l| l.rsplit(':').next().unwrap().parse().unwrap());
                let addr = line.rsplit('/').next().unwrap();
                let port = addr.rsplit(':').next().unwrap().parse().unwrap();
                let scheme = if line.contains("https://") {
                    "https"
                } else {
                    "http"
                };
                return Gateway {
                    child,
                    port,
                    data,
                    log,
                    scheme,
                    grpc_port,
                };
            }
            if started.elapsed() > Duration::from_secs(30)
                || child.try_wait().ok().flatten().is_some()
            {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the gateway did not start:\n{text}");
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    pub fn url(&self) -> String {
        format!("{}://127.0.0.1:{}", self.scheme, self.port)
    }

    /// A model's statistics (`GET /v2/models/{model}/stats`, the Triton extension).
    pub fn stats(&self, model: &str) -> serde_json::Value {
        http(
            &agent(),
            "GET",
            &format!("{}/v2/models/{model}/stats", self.url()),
            None,
            &[],
            None,
        )
        .json()
    }

    /// One scrape of `/metrics`.
    pub fn metrics_text(&self) -> String {
        String::from_utf8(
            http(
                &agent(),
                "GET",
                &format!("{}/metrics", self.url()),
                None,
                &[],
                None,
            )
            .body,
        )
        .unwrap()
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILL, as a crash would.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Waits until `needle` shows in the log.
    pub fn wait_for_log(&self, needle: &str, within: Duration) {
        let started = Instant::now();
        while !self.log_text().contains(needle) {
            assert!(
                started.elapsed() < within,
                "'{needle}' never showed in the log:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(25));
        }
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP exchange.
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
    pub fn error(&self) -> String {
        self.json()["error"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

/// `method url` with optional bearer token, headers and body.
pub fn http(
    agent: &ureq::Agent,
    method: &str,
    url: &str,
    token: Option<&str>,
    headers: &[(&str, String)],
    body: Option<Vec<u8>>,
) -> Reply {
    let mut b = ureq::http::Request::builder().method(method).uri(url);
    if let Some(t) = token {
        b = b.header("Authorization", format!("Bearer {t}"));
    }
    for (k, v) in headers {
        b = b.header(*k, v);
    }
    let req = b.body(body.unwrap_or_default()).unwrap();
    let mut resp = agent
        .run(req)
        .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let headers = resp
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    let mut body = Vec::new();
    resp.body_mut().as_reader().read_to_end(&mut body).unwrap();
    Reply {
        status: resp.status().as_u16(),
        headers,
        body,
    }
}

/// A JSON infer request for the `lookup` models (x: float[rows, 4]).
pub fn lookup_request(rows: &[[f32; 4]]) -> Vec<u8> {
    let data: Vec<f32> = rows.iter().flatten().copied().collect();
    serde_json::json!({"inputs": [{"name": "x", "shape": [rows.len(), 4], "datatype": "FP32", "data": data}]})
        .to_string()
        .into_bytes()
}

pub fn infer(
    agent: &ureq::Agent,
    gw: &Gateway,
    path: &str,
    body: Vec<u8>,
    headers: &[(&str, String)],
) -> Reply {
    http(
        agent,
        "POST",
        &format!("{}{path}", gw.url()),
        None,
        headers,
        Some(body),
    )
}
