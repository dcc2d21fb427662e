//! The conformance suite: real third-party models (tests/conformance/models.json, fetched by
//! scripts/setup.sh) through every path a user takes: inspect, bench, profile, compare,
//! release, sign, push, serve and infer through a real `assay-gateway` on 127.0.0.1. Each
//! path either works or is refused with a specific sentence; the list says which, per model.
//!
//! In the spirit of tract's suite: the same cases rerun on every change, so a model that
//! used to work and stops is a failing test, not a surprise for the next user.

mod common;
#[path = "../../assay-gateway/tests/process/harness.rs"]
mod harness;

use std::{collections::BTreeMap, path::Path};

use common::*;
use harness::*;
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Debug, Deserialize)]
struct List {
    models: Vec<Case>,
}

#[derive(Debug, Deserialize)]
struct Case {
    name: String,
    file: String,
    source: String,
    /// handle → (suggested value, source) as `assay inspect` must report them.
    suggested: BTreeMap<String, (i64, String)>,
    /// What a user types: these beat the suggestions.
    dims: BTreeMap<String, i64>,
    fills: BTreeMap<String, f64>,
    /// path → `ok`, `skip` or `refused: WORDS`.
    expect: BTreeMap<String, String>,
}

fn cases() -> Vec<Case> {
    let text = std::fs::read_to_string(root().join("tests/conformance/models.json")).unwrap();
    serde_json::from_str::<List>(&text).unwrap().models
}

/// `ok`, or `refused: <the one error line>`; a refusal must be exactly one sentence.
fn outcome(o: &Outcome) -> String {
    if o.code == 0 {
        return "ok".into();
    }
    let errors: Vec<&str> = o
        .stderr
        .lines()
        .filter(|l| l.starts_with("error: "))
        .collect();
    assert_eq!(errors.len(), 1, "one error line expected:\n{}", o.stderr);
    format!("refused: {}", &errors[0]["error: ".len()..])
}

fn matches(expected: &str, got: &str) -> bool {
    match expected.strip_prefix("refused: ") {
        Some(words) => got.starts_with("refused: ") && got.contains(words),
        None => expected == got,
    }
}

/// The KServe v2 datatype of an `inspect` element type.
fn datatype(element: &str) -> &'static str {
    match element {
        "float" => "FP32",
        "double" => "FP64",
        "int64" => "INT64",
        "int32" => "INT32",
        "uint8" => "UINT8",
        "bool" => "BOOL",
        other => panic!("no datatype for {other}"),
    }
}

struct Paths<'a> {
    env: &'a Env,
    gw: &'a Gateway,
    model: &'a Path,
    case: &'a Case,
    /// `--dim`/`--fill` flags: the user's values over the suggestions.
    flags: Vec<String>,
    /// The non-batch values sent with `--dim`.
    given: BTreeMap<String, i64>,
    /// Every dynamic dimension's value (the batch at its suggestion).
    bindings: BTreeMap<String, i64>,
}

impl Paths<'_> {
    fn bench(&self) -> (Outcome, Option<String>) {
        let o = run(self
            .env
            .assay()
            .arg("bench")
            .arg(self.model)
            .args(QUICK)
            .args(["--warmup", "2", "--iterations", "5", "--json"])
            .args(&self.flags));
        let id = (o.code == 0).then(|| json(&o.stdout)["run_id"].as_str().unwrap().to_string());
        if let Some(id) = &id {
            let report = json(&o.stdout);
            assert!(report["results"][0]["samples"].as_u64().unwrap() >= 5);
            let dims: BTreeMap<String, i64> =
                serde_json::from_value(report["settings"]["dims"].clone()).unwrap();
            assert_eq!(
                dims, self.given,
                "run {id} records the dimensions it was given"
            );
        }
        (o, id)
    }
}

/// Runs every path of one model and returns path → outcome.
fn every_path(p: &Paths) -> BTreeMap<&'static str, String> {
    let mut out = BTreeMap::new();
    let (bench, run_id) = p.bench();
    out.insert("bench", outcome(&bench));

    let prof_dir = p.env.path(&format!("prof-{}", p.case.name));
    let o = run(p
        .env
        .assay()
        .arg("profile")
        .arg(p.model)
        .args(QUICK)
        .args(["--profile-iterations", "3", "--json", "--out"])
        .arg(&prof_dir)
        .args(&p.flags));
    if o.code == 0 {
        let doc = json(&o.stdout);
        assert!(
            doc["nodes"].as_array().is_some_and(|n| !n.is_empty()),
            "{}: a profile names its nodes: {doc}",
            p.case.name
        );
    }
    out.insert("profile", outcome(&o));

    let (again, id2) = p.bench();
    out.insert(
        "compare",
        match (&run_id, &id2) {
            (Some(a), Some(b)) => {
                let o = run(p.env.assay().args(["compare", a, b, "--json"]));
                if o.code == 0 {
                    assert!(
                        json(&o.stdout)["rows"]
                            .as_array()
                            .is_some_and(|r| !r.is_empty())
                    );
                }
                outcome(&o)
            }
            _ => outcome(&again),
        },
    );

    let rel = p.env.path(&format!("rel/{}", p.case.name));
    let sig = p.env.path(&format!("rel/{}.sig", p.case.name));
    let mut create = p.env.assay();
    create
        .args(["release", "create"])
        .arg(p.model)
        .args([
            "--name",
            &p.case.name,
            "--version",
            "1.0.0",
            "--json",
            "--out",
        ])
        .arg(&rel);
    if let Some(id) = &run_id {
        create.args(["--evidence", id]);
    }
    let o = run(&mut create);
    out.insert("release", outcome(&o));
    if o.code != 0 {
        return out;
    }
    let meta = json(&o.stdout)["release"].clone();
    let serving: BTreeMap<String, i64> =
        serde_json::from_value(meta["serving"]["dims"].clone()).unwrap();
    assert_eq!(
        serving, p.bindings,
        "{}: the release's serving shapes are the evidence run's, completed by suggestions",
        p.case.name
    );
    let o = run(p
        .env
        .assay()
        .arg("sign")
        .arg(&rel)
        .args(["--key", "release", "--signature"])
        .arg(&sig));
    assert_eq!(o.code, 0, "{}", o.stderr);
    let o = p.env.push(p.gw, &(rel.clone(), sig.clone()), &["--json"]);
    let served = outcome(&o);
    if o.code == 0 {
        assert_eq!(json(&o.stdout)["activated"], true, "{}", o.stdout);
    }
    out.insert("serve", served);

    if p.case.expect.get("infer").map(String::as_str) != Some("skip") {
        out.insert("infer", infer_zeros(p, &meta));
    }
    out
}

/// One inference through the gateway on zeros at the release's serving shapes.
fn infer_zeros(p: &Paths, meta: &Value) -> String {
    let inputs: Vec<Value> = meta["signature"]["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            let shape: Vec<i64> = i["shape"]
                .as_array()
                .unwrap()
                .iter()
                .enumerate()
                .map(|(k, d)| match d {
                    Value::Number(n) if n.as_i64().unwrap() >= 0 => n.as_i64().unwrap(),
                    Value::String(s) => p.bindings.get(s).copied().unwrap_or(1),
                    _ => p
                        .bindings
                        .get(&format!("{}.{k}", i["name"].as_str().unwrap()))
                        .copied()
                        .unwrap_or(1),
                })
                .collect();
            let n: i64 = shape.iter().product();
            json!({"name": i["name"], "shape": shape, "datatype": datatype(i["element_type"].as_str().unwrap()), "data": vec![0; n as usize]})
        })
        .collect();
    let body = json!({ "inputs": inputs }).to_string().into_bytes();
    let r = infer(
        &agent(),
        p.gw,
        &format!("/v2/models/{}/infer", p.case.name),
        body,
        &[("Content-Type", "application/json".into())],
    );
    if r.status == 200
        && r.json()["outputs"]
            .as_array()
            .is_some_and(|o| !o.is_empty())
    {
        "ok".into()
    } else {
        format!("refused: HTTP {} {}", r.status, r.error())
    }
}

#[test]
fn real_models_work_or_are_refused_with_a_reason_on_every_path() {
    let env = Env::new();
    let gw = Gateway::start(&env, "gw", "", &[]);
    let mut report = Vec::new();
    let mut wrong = Vec::new();
    for case in cases() {
        let model = third_party(&case.file);
        // inspect: every dynamic dimension, with its suggestion and where it came from.
        let o = run(env.assay().args(["inspect", "--json"]).arg(&model));
        assert_eq!(o.code, 0, "{}: {}", case.name, o.stderr);
        let free = json(&o.stdout)["free_dims"].as_array().unwrap().clone();
        let suggested: BTreeMap<String, (i64, String)> = free
            .iter()
            .map(|d| {
                (
                    d["handle"].as_str().unwrap().to_string(),
                    (
                        d["value"].as_i64().unwrap(),
                        d["source"].as_str().unwrap().to_string(),
                    ),
                )
            })
            .collect();
        assert_eq!(suggested, case.suggested, "{} ({})", case.name, case.source);
        let text = run(env.assay().arg("inspect").arg(&model));
        for h in case.suggested.keys() {
            assert!(
                text.stdout.contains(h.as_str()),
                "inspect prints {h}:\n{}",
                text.stdout
            );
        }

        // What a user of the form sends: every non-batch dimension, theirs or suggested.
        let mut bindings = BTreeMap::new();
        let mut given = BTreeMap::new();
        let mut flags = Vec::new();
        for d in &free {
            let h = d["handle"].as_str().unwrap().to_string();
            let v = case
                .dims
                .get(&h)
                .copied()
                .unwrap_or(d["value"].as_i64().unwrap());
            bindings.insert(h.clone(), v);
            if !d["batch"].as_bool().unwrap() {
                flags.push(format!("--dim={h}={v}"));
                given.insert(h, v);
            }
        }
        for (k, v) in &case.fills {
            flags.push(format!("--fill={k}={v}"));
        }
        let paths = Paths {
            env: &env,
            gw: &gw,
            model: &model,
            case: &case,
            flags,
            given,
            bindings,
        };
        let got = every_path(&paths);
        for (path, outcome) in &got {
            let expected = case.expect.get(*path).map(String::as_str).unwrap_or("ok");
            report.push(format!("{:<24} {:<8} {outcome}", case.name, path));
            if !matches(expected, outcome) {
                wrong.push(format!(
                    "{} {path}: expected {expected}, got {outcome}",
                    case.name
                ));
            }
        }
    }
    println!("{}", report.join("\n"));
    assert!(
        wrong.is_empty(),
        "{}\n\nall:\n{}",
        wrong.join("\n"),
        report.join("\n")
    );
}

/// The detector a first real use found: warmed up at 1×1 it fails inside ONNX Runtime, so
/// it must stay listed with its reason (after restarts too) and activate with other shapes.
#[test]
fn a_version_that_cannot_warm_up_is_listed_with_its_reason_and_activates_with_other_shapes() {
    let env = Env::new();
    let model = third_party("nudenet-3.4.2/320n.onnx");
    let rel = env.path("rel/det");
    let sig = env.path("rel/det.sig");
    let o = run(env
        .assay()
        .args(["release", "create"])
        .arg(&model)
        .args([
            "--name",
            "det",
            "--version",
            "1.0.0",
            "--dim",
            "height=1",
            "--dim",
            "width=1",
            "--out",
        ])
        .arg(&rel));
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        o.stdout
            .contains("serving shapes: batch=1 height=1 width=1"),
        "{}",
        o.stdout
    );
    assert_eq!(
        run(env
            .assay()
            .arg("sign")
            .arg(&rel)
            .args(["--key", "release", "--signature"])
            .arg(&sig))
        .code,
        0
    );

    let gw = Gateway::start(&env, "gw", "", &[]);
    let o = env.push(&gw, &(rel.clone(), sig.clone()), &[]);
    let refusal = outcome(&o);
    assert!(
        refusal.contains("verified and stored, but not activated")
            && refusal.contains("warm-up inference at images=[1,3,1,1] failed"),
        "the refusal names the shapes it tried: {refusal}"
    );

    let listed = |gw: &Gateway| {
        let o = env.gateway(gw, &["releases", "--json"]);
        assert_eq!(o.code, 0, "{}", o.stderr);
        json(&o.stdout)["models"][0]["releases"][0].clone()
    };
    let r = listed(&gw);
    assert!(
        r["load_error"]
            .as_str()
            .is_some_and(|e| e.contains("images=[1,3,1,1]")),
        "{r}"
    );
    assert_eq!(
        r["serving_dims"],
        json!({"batch": 1, "height": 1, "width": 1})
    );

    // A restart keeps the reason: the version is not silently "stable none".
    gw.kill();
    let gw = Gateway::start(&env, "gw", "", &[]);
    assert!(
        listed(&gw)["load_error"].is_string(),
        "kept after a restart"
    );

    // A typo in a dimension is refused by name, before anything loads.
    let o = env.gateway(&gw, &["activate", "det", "1.0.0", "--dim", "height=abc"]);
    assert_eq!(o.code, 2, "{}", o.stderr);

    let o = env.gateway(
        &gw,
        &[
            "activate",
            "det",
            "1.0.0",
            "--dim",
            "height=320",
            "--dim",
            "width=320",
        ],
    );
    assert_eq!(o.code, 0, "retry with other shapes: {}", o.stderr);
    let r = listed(&gw);
    assert!(r["load_error"].is_null(), "cleared once it loads: {r}");
    assert_eq!(r["role"], "stable");
    assert_eq!(r["warm_dims"], json!({"height": 320, "width": 320}));
    let body = json!({"inputs": [{"name": "images", "shape": [1, 3, 320, 320], "datatype": "FP32", "data": vec![0; 3 * 320 * 320]}]});
    let reply = infer(
        &agent(),
        &gw,
        "/v2/models/det/infer",
        body.to_string().into_bytes(),
        &[],
    );
    assert_eq!(reply.status, 200, "{}", reply.error());

    // The gateway's config can give warm-up shapes too, over the release's.
    let gw2 = Gateway::start(
        &env,
        "gw2",
        "[models.det]\ndims = { height = 320, width = 320 }\n",
        &[],
    );
    let o = env.push(&gw2, &(rel, sig), &["--json"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(json(&o.stdout)["activated"], true);
}
