//! The gateway's HTTP layer and core through `router()` and `oneshot`, over a test backend
//! that needs no ONNX Runtime: the protocol, admin auth, limits and routing. Releases are
//! real (created and signed with `assay_release`) and go through the real upload API, so
//! verification and the durable state are exercised too. What needs a real runtime or a
//! real process (crashes, swaps under load, TLS, tritonclient) is in `process.rs`.

use std::{
    collections::HashSet,
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
    time::Duration,
};

use assay_engine::accuracy::Verdict;
use assay_gateway::{
    AppState, GatewayError,
    backend::{
        Backend, BackendError, BackendInfo, Datatype, Done, IoSpec, Job, LoadSpec, Loaded, Queue,
        Tensor,
    },
    config::{Config, Overrides},
    router,
};
use assay_release::{
    keys::PrivateKey,
    metadata::{AccuracyEvidence, AccuracyEvidenceRow},
    release::ReleaseSpec,
    signing,
};
use axum::{
    Router,
    body::Body,
    extract::connect_info::MockConnectInfo,
    http::{Request, StatusCode},
};
use serde_json::{Value, json};
use tower::ServiceExt;

const TOKEN: &str = "router-test-admin-token-0123456789";

/// Serves `y = sum(x row) + 100 × major version` for `x: FP32[-1, 4]`, so an answer says
/// which version served it. Versions in `broken` fail to load.
#[derive(Default)]
struct TestBackend {
    broken: Mutex<HashSet<String>>,
    loads: Mutex<Vec<String>>,
}

struct Sum {
    offset: f32,
}

impl Backend for TestBackend {
    fn describe(&self) -> BackendInfo {
        BackendInfo {
            runtime: "test".into(),
            version: "0".into(),
        }
    }

    fn load(&self, spec: LoadSpec<'_>) -> Result<Loaded, BackendError> {
        self.loads.lock().unwrap().push(spec.version.to_string());
        if self.broken.lock().unwrap().contains(spec.version) {
            return Err(BackendError::Unservable {
                name: "x".into(),
                what: "broken on purpose".into(),
            });
        }
        let major: f32 = spec.version.split('.').next().unwrap().parse().unwrap();
        let io = |name: &str, cols: i64| IoSpec {
            name: name.into(),
            datatype: Datatype::Fp32,
            shape: vec![-1, cols],
        };
        Ok(Loaded {
            inputs: vec![io("x", 4)],
            outputs: vec![io("y", 1)],
            notice: None,
            batching: None,
            queue: Box::new(Sum {
                offset: 100.0 * major,
            }),
        })
    }
}

impl Queue for Sum {
    fn submit(&self, job: Job) -> Result<(), GatewayError> {
        let x: Vec<f32> = job.inputs[0]
            .data
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
            .collect();
        let y: Vec<u8> = x
            .chunks(4)
            .flat_map(|row| (row.iter().sum::<f32>() + self.offset).to_le_bytes())
            .collect();
        let _ = job.reply.send(Ok(Done {
            outputs: vec![Tensor {
                name: "y".into(),
                datatype: Datatype::Fp32,
                shape: vec![job.rows as i64, 1],
                data: y,
            }],
            queue: Duration::ZERO,
            compute: Duration::ZERO,
            batch_rows: job.rows,
        }));
        Ok(())
    }
}

struct Fixture {
    dir: tempfile::TempDir,
    key: PrivateKey,
    backend: Arc<TestBackend>,
    state: AppState,
    app: Router,
}

struct Reply {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Value,
}

impl Reply {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

fn sample_model() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../assets/sample-mlp.onnx")
}

impl Fixture {
    /// A gateway over a fresh data folder, a trusted key and `config` as its TOML file.
    async fn new(config: &str) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let key = PrivateKey::generate();
        std::fs::create_dir_all(dir.path().join("trusted")).unwrap();
        std::fs::write(
            dir.path().join("trusted/release.pub.pem"),
            key.public().pem(),
        )
        .unwrap();
        let toml = dir.path().join("gateway.toml");
        std::fs::write(&toml, config).unwrap();
        let backend = Arc::new(TestBackend::default());
        let (state, app) = Self::open(dir.path(), &toml, backend.clone()).await;
        Fixture {
            dir,
            key,
            backend,
            state,
            app,
        }
    }

    async fn open(root: &Path, toml: &Path, backend: Arc<TestBackend>) -> (AppState, Router) {
        let config = Config::load(
            Some(toml),
            Overrides {
                data: Some(root.join("data")),
                trusted_keys: Some(root.join("trusted")),
                token: Some(TOKEN.into()),
                ..Default::default()
            },
        )
        .unwrap();
        let state = AppState::open(config, backend).await.unwrap();
        let app =
            router(state.clone()).layer(MockConnectInfo(SocketAddr::from(([127, 0, 0, 1], 40000))));
        (state, app)
    }

    /// The same data folder opened again, as after a restart.
    async fn restart(&mut self) {
        let (state, app) = Self::open(
            self.dir.path(),
            &self.dir.path().join("gateway.toml"),
            self.backend.clone(),
        )
        .await;
        self.state = state;
        self.app = app;
    }

    async fn call(&self, method: &str, path: &str, token: Option<&str>, body: Vec<u8>) -> Reply {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        self.send(req.body(Body::from(body)).unwrap()).await
    }

    /// One request through the router; the body as JSON (or as a string when it is not).
    async fn send(&self, req: Request<Body>) -> Reply {
        let resp = self.app.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()))
        };
        Reply {
            status,
            headers,
            body,
        }
    }

    async fn admin(&self, method: &str, path: &str, body: Value) -> Reply {
        let bytes = if body.is_null() {
            Vec::new()
        } else {
            body.to_string().into_bytes()
        };
        self.call(method, path, Some(TOKEN), bytes).await
    }

    async fn infer(&self, path: &str, rows: &[[f32; 4]], key: Option<&str>) -> Reply {
        let data: Vec<f32> = rows.iter().flatten().copied().collect();
        let body = json!({"inputs": [{"name": "x", "shape": [rows.len(), 4], "datatype": "FP32", "data": data}]});
        let mut req = Request::builder()
            .method("POST")
            .uri(path)
            .header("content-type", "application/json");
        if let Some(k) = key {
            req = req.header("x-assay-route-key", k);
        }
        self.send(req.body(Body::from(body.to_string())).unwrap())
            .await
    }

    /// Creates and signs a release of the sample model; returns (folder, signature).
    fn release(&self, name: &str, version: &str) -> (PathBuf, PathBuf) {
        let out = self.dir.path().join(format!("rel/{name}-{version}"));
        assay_release::release::create(&ReleaseSpec {
            model: sample_model(),
            name: name.into(),
            version: version.into(),
            notes: None,
            evidence: None,
            // Signed accuracy evidence, which the admin listing shows before activation.
            accuracy: Some(AccuracyEvidence {
                run_id: "9c1e0b7a".into(),
                reference: "sample-mlp.onnx on cpu".into(),
                reference_sha256: "ab".repeat(32),
                sets: 8,
                passed: true,
                candidates: vec![AccuracyEvidenceRow {
                    label: "sample-mlp.onnx on cuda".into(),
                    sha256: "ab".repeat(32),
                    verdict: Verdict::Pass,
                    worst_max_abs: 2.5e-6,
                    failed_outputs: Vec::new(),
                    diverging_node: None,
                }],
            }),
            serving_dims: Default::default(),
            serving_fills: Default::default(),
            include: Vec::new(),
            out: out.clone(),
        })
        .unwrap();
        let sig = self.dir.path().join(format!("rel/{name}-{version}.sig"));
        signing::sign(&out, &self.key, &sig, None, None).unwrap();
        (out, sig)
    }

    /// Pushes a release through the upload API (open, send every file, commit).
    async fn push(&self, rel: &(PathBuf, PathBuf), activate: bool) -> Reply {
        let bundle = std::fs::read(&rel.1).unwrap();
        let statement = signing::read_unverified(&bundle).unwrap();
        let files: Vec<(String, Vec<u8>)> = statement
            .manifest
            .files
            .keys()
            .map(|n| (n.clone(), std::fs::read(rel.0.join(n)).unwrap()))
            .collect();
        let bundle: Value = serde_json::from_slice(&bundle).unwrap();
        let open = self
            .admin(
                "POST",
                "/admin/v1/uploads",
                json!({"bundle": bundle, "files": files.iter().map(|(p, b)| json!({"path": p, "size": b.len()})).collect::<Vec<_>>()}),
            )
            .await;
        if open.status != StatusCode::OK {
            return open;
        }
        let id = open.body["upload"].as_str().unwrap().to_string();
        for (path, bytes) in files {
            let r = self
                .call(
                    "PUT",
                    &format!("/admin/v1/uploads/{id}/files/{path}?offset=0"),
                    Some(TOKEN),
                    bytes,
                )
                .await;
            assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.body);
        }
        self.admin(
            "POST",
            &format!("/admin/v1/uploads/{id}/commit?activate={activate}"),
            Value::Null,
        )
        .await
    }
}

fn y(r: &Reply) -> Vec<f64> {
    r.body["outputs"][0]["data"]
        .as_array()
        .unwrap_or_else(|| panic!("no outputs: {} {}", r.status, r.body))
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect()
}

#[tokio::test]
async fn the_protocol_describes_and_serves_a_pushed_release() {
    let fx = Fixture::new("").await;
    let r = fx.call("GET", "/v2/health/live", None, Vec::new()).await;
    assert_eq!(r.status, StatusCode::OK);
    let r = fx.call("GET", "/v2/models/lookup", None, Vec::new()).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    assert!(
        r.body["error"].as_str().unwrap().contains("lookup"),
        "{}",
        r.body
    );

    let pushed = fx.push(&fx.release("lookup", "1.0.0"), true).await;
    assert_eq!(pushed.status, StatusCode::OK, "{}", pushed.body);
    assert_eq!(pushed.body["activated"], true);
    // The release's signed accuracy evidence is in the admin listing, typed.
    let listed = fx.admin("GET", "/admin/v1/models", Value::Null).await;
    let list: assay_release::views::ModelList = serde_json::from_value(listed.body).unwrap();
    let evidence = list.models[0].releases[0].accuracy.as_ref().unwrap();
    assert!(evidence.passed);
    assert_eq!(evidence.run_id, "9c1e0b7a");
    assert_eq!(evidence.candidates[0].verdict, Verdict::Pass);
    assert_eq!(*fx.backend.loads.lock().unwrap(), ["1.0.0"]);

    let r = fx.call("GET", "/v2", None, Vec::new()).await;
    assert_eq!(r.body["name"], "assay-gateway");
    let r = fx.call("GET", "/v2/models/lookup", None, Vec::new()).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["versions"], json!(["1.0.0"]));
    assert_eq!(
        r.body["inputs"],
        json!([{"name": "x", "datatype": "FP32", "shape": [-1, 4]}])
    );
    assert_eq!(
        fx.call("GET", "/v2/models/lookup/ready", None, Vec::new())
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        fx.call("GET", "/v2/health/ready", None, Vec::new())
            .await
            .status,
        StatusCode::OK
    );

    let r = fx
        .infer(
            "/v2/models/lookup/infer",
            &[[1.0, 2.0, 3.0, 4.0], [0.5, 0.5, 0.5, 0.5]],
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(y(&r), [110.0, 102.0]);
    assert_eq!(r.body["outputs"][0]["shape"], json!([2, 1]));
    assert_eq!(r.header("x-assay-model-version"), "1.0.0");

    // Wrong shapes, names and types are the client's mistake, named precisely.
    let bad = |body: Value| {
        let fx = &fx;
        async move {
            fx.call(
                "POST",
                "/v2/models/lookup/infer",
                None,
                body.to_string().into_bytes(),
            )
            .await
        }
    };
    let r = bad(
        json!({"inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP32", "data": [1, 2, 3]}]}),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert!(
        r.body["error"].as_str().unwrap().contains("'x'"),
        "{}",
        r.body
    );
    let r = bad(json!({"inputs": [{"name": "z", "shape": [1, 4], "datatype": "FP32", "data": [1, 2, 3, 4]}]})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    let r = bad(
        json!({"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP32", "data": [1, 2, 3]}]}),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert!(
        r.body["error"]
            .as_str()
            .unwrap()
            .contains("holds 4 elements but data has 3"),
        "{}",
        r.body
    );
    let r = fx
        .call(
            "POST",
            "/v2/models/lookup/infer",
            None,
            b"{not json".to_vec(),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    let r = fx.call("GET", "/v2/nowhere", None, Vec::new()).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    // The state is durable: a restart serves the same version without a new push.
    let mut fx = fx;
    fx.restart().await;
    let r = fx
        .infer("/v2/models/lookup/infer", &[[1.0, 1.0, 1.0, 1.0]], None)
        .await;
    assert_eq!(y(&r), [104.0]);
}

#[tokio::test]
async fn every_admin_route_needs_the_admin_token() {
    let fx = Fixture::new("").await;
    let routes = [
        ("GET", "/admin/v1/status"),
        ("GET", "/admin/v1/models"),
        ("GET", "/admin/v1/models/m"),
        ("GET", "/admin/v1/models/m/releases/1.0.0"),
        ("DELETE", "/admin/v1/models/m/releases/1.0.0"),
        ("POST", "/admin/v1/models/m/activate"),
        ("POST", "/admin/v1/models/m/canary"),
        ("POST", "/admin/v1/models/m/promote"),
        ("POST", "/admin/v1/models/m/rollback"),
        ("GET", "/admin/v1/models/m/events"),
        ("GET", "/admin/v1/models/m/analysis"),
        ("POST", "/admin/v1/uploads"),
        ("GET", "/admin/v1/uploads/0123456789abcdef0123456789abcdef"),
        (
            "DELETE",
            "/admin/v1/uploads/0123456789abcdef0123456789abcdef",
        ),
        (
            "PUT",
            "/admin/v1/uploads/0123456789abcdef0123456789abcdef/files/m.onnx",
        ),
        (
            "POST",
            "/admin/v1/uploads/0123456789abcdef0123456789abcdef/commit",
        ),
        ("GET", "/admin/v1/no-such-route"),
    ];
    for (method, path) in routes {
        for token in [
            None,
            Some("wrong-token-of-some-length-000000000"),
            // A prefix of the right token is as wrong as any other.
            Some(&TOKEN[1..]),
        ] {
            let r = fx.call(method, path, token, b"{}".to_vec()).await;
            assert_eq!(
                r.status,
                StatusCode::UNAUTHORIZED,
                "{method} {path} with {token:?}: {}",
                r.body
            );
            assert_eq!(r.body["kind"], "unauthorized", "{method} {path}");
            assert!(!r.header("www-authenticate").is_empty(), "{method} {path}");
        }
        let r = fx.call(method, path, Some(TOKEN), b"{}".to_vec()).await;
        assert_ne!(
            r.status,
            StatusCode::UNAUTHORIZED,
            "{method} {path} with the right token"
        );
    }
    // With the token, the same routes answer (here: nothing is there yet).
    let r = fx.admin("GET", "/admin/v1/status", Value::Null).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["onnxruntime"], "0");
    let r = fx.admin("GET", "/admin/v1/models/m", Value::Null).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    assert_eq!(r.body["kind"], "not_found");
}

#[tokio::test]
async fn limits_refuse_large_requests_floods_and_foreign_releases() {
    let fx = Fixture::new(
        "[limits]\nmax_request_bytes = 512\nrate_limit_per_second = 1\nrate_limit_burst = 3\n",
    )
    .await;
    // A release signed by a key the gateway does not trust stores nothing.
    let stranger = Fixture::new("").await;
    let foreign = stranger.release("lookup", "1.0.0");
    let r = fx.push(&foreign, true).await;
    assert_eq!(r.status.as_u16(), 422, "{}", r.body);
    assert_eq!(r.body["kind"], "verification", "{}", r.body);
    assert!(
        fx.state.registry.state().models.is_empty(),
        "a refused release was listed"
    );

    assert_eq!(
        fx.push(&fx.release("lookup", "1.0.0"), true).await.status,
        StatusCode::OK
    );
    let big = vec![[1.0f32; 4]; 64];
    let r = fx.infer("/v2/models/lookup/infer", &big, None).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.body);
    // The burst passes, then the bucket is empty and the answer says when to retry.
    let mut codes = Vec::new();
    let mut retry = String::new();
    for _ in 0..5 {
        let r = fx.infer("/v2/models/lookup/infer", &[[0.0; 4]], None).await;
        if r.status == StatusCode::TOO_MANY_REQUESTS {
            retry = r.header("retry-after").to_string();
        }
        codes.push(r.status.as_u16());
    }
    // The refused large request took the burst's first token.
    assert_eq!(codes, [200, 200, 429, 429, 429]);
    assert!(
        retry.parse::<u64>().is_ok_and(|s| s >= 1),
        "retry-after {retry:?}"
    );
}

#[tokio::test]
async fn canaries_split_exactly_keys_stick_and_changes_route_at_once() {
    let fx = Fixture::new("").await;
    assert_eq!(
        fx.push(&fx.release("lookup", "1.0.0"), true).await.status,
        StatusCode::OK
    );
    let r = fx.push(&fx.release("lookup", "2.0.0"), true).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        r.body["activated"], false,
        "only a model's first release activates"
    );

    let r = fx
        .admin(
            "POST",
            "/admin/v1/models/lookup/canary",
            json!({"version": "2.0.0", "percent": 20}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let mut canary = 0;
    for _ in 0..500 {
        let r = fx.infer("/v2/models/lookup/infer", &[[0.0; 4]], None).await;
        let v = y(&r)[0];
        match r.header("x-assay-route") {
            "canary" => {
                canary += 1;
                assert_eq!(v, 200.0);
            }
            "stable" => assert_eq!(v, 100.0),
            other => panic!("route {other}"),
        }
    }
    assert!(
        (95..=105).contains(&canary),
        "{canary} of 500 on the canary"
    );
    // A key always lands on the same side.
    for user in ["alice", "bob", "carol"] {
        let first = fx
            .infer("/v2/models/lookup/infer", &[[0.0; 4]], Some(user))
            .await
            .header("x-assay-route")
            .to_string();
        for _ in 0..10 {
            let again = fx
                .infer("/v2/models/lookup/infer", &[[0.0; 4]], Some(user))
                .await;
            assert_eq!(again.header("x-assay-route"), first, "{user}");
        }
    }
    // A pinned version is served whatever the split.
    let r = fx
        .infer("/v2/models/lookup/versions/2.0.0/infer", &[[0.0; 4]], None)
        .await;
    assert_eq!((y(&r)[0], r.header("x-assay-route")), (200.0, "pinned"));

    // The stable release cannot be deleted, nor the canary; promotion and rollback route at once.
    let r = fx
        .admin(
            "DELETE",
            "/admin/v1/models/lookup/releases/1.0.0",
            Value::Null,
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    let r = fx
        .admin("POST", "/admin/v1/models/lookup/promote", Value::Null)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["state"]["stable"], "2.0.0");
    for _ in 0..20 {
        let r = fx.infer("/v2/models/lookup/infer", &[[0.0; 4]], None).await;
        assert_eq!(y(&r)[0], 200.0);
    }
    let r = fx
        .admin("POST", "/admin/v1/models/lookup/rollback", Value::Null)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = fx.infer("/v2/models/lookup/infer", &[[0.0; 4]], None).await;
    assert_eq!(y(&r)[0], 100.0);
    let r = fx
        .admin("GET", "/admin/v1/models/lookup/events", Value::Null)
        .await;
    let kinds: Vec<&str> = r.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["push", "activate", "push", "canary", "promote", "rollback"]
    );
}

#[tokio::test]
async fn a_version_that_cannot_load_never_takes_traffic() {
    let fx = Fixture::new("").await;
    assert_eq!(
        fx.push(&fx.release("lookup", "1.0.0"), true).await.status,
        StatusCode::OK
    );
    fx.backend.broken.lock().unwrap().insert("2.0.0".into());
    assert_eq!(
        fx.push(&fx.release("lookup", "2.0.0"), false).await.status,
        StatusCode::OK
    );
    for change in [
        ("activate", json!({"version": "2.0.0"})),
        ("canary", json!({"version": "2.0.0", "percent": 50})),
    ] {
        let r = fx
            .admin(
                "POST",
                &format!("/admin/v1/models/lookup/{}", change.0),
                change.1,
            )
            .await;
        assert_eq!(r.status.as_u16(), 422, "{}: {}", change.0, r.body);
        assert!(
            r.body["error"]
                .as_str()
                .unwrap()
                .contains("broken on purpose"),
            "{}",
            r.body
        );
    }
    for _ in 0..20 {
        let r = fx.infer("/v2/models/lookup/infer", &[[0.0; 4]], None).await;
        assert_eq!((y(&r)[0], r.header("x-assay-route")), (100.0, "stable"));
    }
    let r = fx
        .admin("GET", "/admin/v1/models/lookup/releases/2.0.0", Value::Null)
        .await;
    assert!(
        r.body["load_error"]
            .as_str()
            .is_some_and(|e| e.contains("broken on purpose")),
        "the reason is listed: {}",
        r.body
    );
}
