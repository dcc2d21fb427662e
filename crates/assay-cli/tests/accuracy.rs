//! `assay accuracy`, run as a process on the real ONNX Runtime: identical models, a weight
//! changed at a known node, FP16 and INT8 conversions, Polygraphy's numbers and files, and
//! every kind of bad input.

mod common;

use std::{path::Path, process::Command as Std};

use common::*;
use serde_json::Value;

fn accuracy_json(args: &[&str]) -> Value {
    let o = run(assay().arg("accuracy").args(args).arg("--json"));
    assert_eq!(o.code, 0, "{}", o.stderr);
    let r = json(&o.stdout);
    assert_eq!(r["schema"], "assay.accuracy/1");
    r
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn output<'a>(r: &'a Value, candidate: usize, name: &str) -> &'a Value {
    r["candidates"][candidate]["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == name)
        .unwrap_or_else(|| panic!("no output {name}"))
}

fn venv_python() -> std::path::PathBuf {
    root().join(".cache/venv/bin/python")
}

#[test]
fn identical_models_have_zero_error_and_a_deterministic_reference() {
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("copy.onnx");
    std::fs::copy(fixture("convnet.onnx"), &copy).unwrap();
    let r = accuracy_json(&[
        s(&fixture("convnet.onnx")),
        "--candidate",
        s(&copy),
        "--sets",
        "6",
        "--fail-on-mismatch",
    ]);
    assert_eq!(r["inputs"]["sets"], 6);
    assert_eq!(r["noise"]["sets"], 4);
    assert_eq!(r["noise"]["deterministic"], true);
    assert_eq!(r["passed"], true);
    let o = output(&r, 0, "scores");
    assert_eq!(o["verdict"], "pass");
    // 6 sets of a [1, 10] output, every element equal.
    assert_eq!(o["stats"]["elements"], 60);
    assert_eq!(o["stats"]["exact"], 60);
    assert_eq!(o["stats"]["max_abs"], 0.0);
    assert_eq!(o["stats"]["outside_tolerance"], 0);
    assert_eq!(o["stats"]["cosine"], 1.0);
    assert_eq!(o["stats"]["top"]["top1"], 1.0);
    assert!(r["candidates"][0]["divergence"].is_null());
    assert!(r["reference"]["mean_ms"].as_f64().unwrap() > 0.0);
}

#[test]
fn a_changed_weight_is_found_at_its_node_with_numpys_error() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = dir.path().join("inputs.npz");
    let reference = fixture("convnet.onnx");
    let perturbed = fixture("convnet_perturbed.onnx");
    let r = accuracy_json(&[
        s(&reference),
        "--candidate",
        s(&perturbed),
        "--sets",
        "3",
        "--locate-batch",
        "2",
        "--save-inputs",
        s(&inputs),
    ]);
    assert_eq!(r["passed"], false);
    let c = &r["candidates"][0];
    assert_eq!(c["verdict"], "fail");
    let d = &c["divergence"];
    assert_eq!(d["node"], "/features/block.1/conv/Conv", "{d:#}");
    assert_eq!(d["op_type"], "Conv");
    assert_eq!(d["scope"], "/features/block.1/conv");
    // Bisection with two tensors a round, never everything at once.
    assert!(d["max_exposed"].as_u64().unwrap() <= 2, "{d:#}");
    assert!(d["rounds"].as_u64().unwrap() >= 3, "{d:#}");
    // Its weight is the one changed (by 0.25), its activation input is untouched.
    let weight = d["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "features.1.weight")
        .unwrap();
    assert_eq!(weight["source"], "initializer");
    assert_eq!(weight["outside_tolerance"], 1);
    assert!((weight["max_abs"].as_f64().unwrap() - 0.25).abs() < 1e-6);
    let act = &d["inputs"][0];
    assert_eq!(act["source"], "activation");
    assert_eq!(act["max_abs"], 0.0);

    // NumPy on the same tensors: ONNX Runtime in Python with the Conv's output exposed, on
    // the saved input set the search used.
    let set = d["set"].as_u64().unwrap();
    let script = r#"
import sys, numpy as np, onnx, onnxruntime as ort
ref, cand, npz, set_index, tensor = sys.argv[1:6]
arrays = np.load(npz)
feed = {k.split("/", 1)[1]: v for k, v in arrays.items() if k.startswith(set_index + "/")}
def run(path):
    m = onnx.load(path)
    m.graph.output.append(onnx.ValueInfoProto(name=tensor))
    s = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    return s.run([tensor, "scores"], feed)
(a, sa), (b, sb) = run(ref), run(cand)
print(float(np.max(np.abs(b - a))), float(np.max(np.abs(sb - sa))))
"#;
    let out = Std::new(venv_python())
        .args(["-c", script])
        .args([s(&reference), s(&perturbed), s(&inputs)])
        .arg(set.to_string())
        .arg("/features/block.1/conv/Conv_output_0")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let numpy: Vec<f64> = text
        .split_whitespace()
        .map(|v| v.parse().unwrap())
        .collect();
    let ours = d["outputs"][0]["max_abs"].as_f64().unwrap();
    assert!(
        (ours - numpy[0]).abs() <= 1e-6 * numpy[0].max(1.0),
        "assay {ours} vs numpy {}",
        numpy[0]
    );
    assert!(numpy[0] > 0.01, "the change must show: {}", numpy[0]);

    // --fail-on-mismatch makes it exit 6, with one error line.
    expect_error(
        assay()
            .args(["accuracy", s(&reference), "--candidate", s(&perturbed)])
            .args(["--sets", "2", "--no-locate", "--fail-on-mismatch"]),
        6,
        "outside tolerance",
    );
}

#[test]
fn fp16_is_within_fp16_bounds_and_fails_a_tight_tolerance() {
    let reference = fixture("convnet.onnx");
    let fp16 = fixture("convnet_fp16.onnx");
    let tight = accuracy_json(&[s(&reference), "--candidate", s(&fp16), "--no-locate"]);
    let o = output(&tight, 0, "scores");
    let max_abs = o["stats"]["max_abs"].as_f64().unwrap();
    // FP16 keeps about 3 decimal digits: errors above float32's, well below 1e-2 here.
    assert!(max_abs > 1e-6 && max_abs < 1e-2, "max abs {max_abs}");
    assert_eq!(o["verdict"], "fail");
    assert_eq!(tight["passed"], false);
    assert_eq!(o["stats"]["top"]["top1"], 1.0);
    let loose = accuracy_json(&[
        s(&reference),
        "--candidate",
        s(&fp16),
        "--atol",
        "1e-2",
        "--rtol",
        "1e-2",
    ]);
    assert_eq!(output(&loose, 0, "scores")["verdict"], "pass");
    assert_eq!(loose["passed"], true);
}

#[test]
fn int8_qdq_runs_end_to_end() {
    let reference = fixture("convnet.onnx");
    let int8 = fixture("convnet_int8.onnx");
    let r = accuracy_json(&[
        s(&reference),
        "--candidate",
        s(&int8),
        "--fill",
        "image=-1..1",
        "--sets",
        "4",
    ]);
    let o = output(&r, 0, "scores");
    let stats = &o["stats"];
    assert_eq!(stats["elements"], 40);
    let max_abs = stats["max_abs"].as_f64().unwrap();
    assert!(max_abs > 0.0 && max_abs < 1.0, "max abs {max_abs}");
    assert!(stats["cosine"].as_f64().unwrap() > 0.9);
    assert_eq!(stats["nonfinite"]["one_sided"], 0);
    assert_eq!(
        r["inputs"]["ranges"]["image"],
        serde_json::json!([-1.0, 1.0])
    );
    // The QDQ graph renames its activations, so the search names a node it shares.
    assert!(r["candidates"][0]["subject"]["mean_ms"].as_f64().unwrap() > 0.0);
}

#[test]
fn polygraphy_reports_the_same_max_abs_error_and_its_files_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let poly = root().join(".cache/venv/bin/polygraphy");
    assert!(poly.exists(), "polygraphy is installed by scripts/setup.sh");
    let reference = fixture("convnet.onnx");
    let fp16 = fixture("convnet_fp16.onnx");
    let (pin, pout) = (dir.path().join("in.json"), dir.path().join("out.json"));
    let saved = Std::new(&poly)
        .args(["run", s(&reference), "--onnxrt", "--iterations", "3"])
        .args(["--save-inputs", s(&pin), "--save-outputs", s(&pout)])
        .output()
        .unwrap();
    assert!(
        saved.status.success(),
        "{}",
        String::from_utf8_lossy(&saved.stderr)
    );
    let compared = Std::new(&poly)
        .args(["run", s(&fp16), "--onnxrt"])
        .args(["--load-inputs", s(&pin), "--load-outputs", s(&pout)])
        .output()
        .unwrap();
    // Polygraphy fails the comparison at its default tolerance, and prints each set's max.
    let text = String::from_utf8_lossy(&compared.stdout).to_string()
        + &String::from_utf8_lossy(&compared.stderr);
    let maxima: Vec<f64> = text
        .lines()
        .filter(|l| l.contains("Absolute Difference | Stats:"))
        .map(|l| {
            let m = l.split("max=").nth(1).unwrap();
            m.split_whitespace().next().unwrap().parse::<f64>().unwrap()
        })
        .collect();
    assert_eq!(maxima.len(), 3, "{text}");
    let polygraphy = maxima.iter().copied().fold(0.0, f64::max);

    // Assay on Polygraphy's inputs and outputs.
    let r = accuracy_json(&[
        s(&fp16),
        "--load-inputs",
        s(&pin),
        "--load-outputs",
        s(&pout),
    ]);
    assert_eq!(r["inputs"]["sets"], 3);
    let ours = output(&r, 0, "scores")["stats"]["max_abs"]
        .as_f64()
        .unwrap();
    // Polygraphy prints five significant digits.
    assert!(
        (ours - polygraphy).abs() <= 1e-4 * polygraphy,
        "assay {ours} vs polygraphy {polygraphy}"
    );
    // And computing the reference itself on the same inputs gives the same figure.
    let r = accuracy_json(&[
        s(&reference),
        "--candidate",
        s(&fp16),
        "--load-inputs",
        s(&pin),
        "--no-locate",
    ]);
    let own = output(&r, 0, "scores")["stats"]["max_abs"]
        .as_f64()
        .unwrap();
    assert!((own - ours).abs() <= 1e-9, "{own} vs {ours}");
}

#[test]
fn golden_inputs_and_outputs_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let (gin, gout) = (dir.path().join("in.npz"), dir.path().join("out.npz"));
    let model = sample_model();
    let o = run(assay().args(["accuracy", s(&model), "--sets", "5"]).args([
        "--save-inputs",
        s(&gin),
        "--save-outputs",
        s(&gout),
    ]));
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        o.stdout.contains("reference outputs saved to"),
        "{}",
        o.stdout
    );
    // NumPy reads what was saved: 5 sets under SET/NAME.
    let check = Std::new(venv_python())
        .args([
            "-c",
            "import sys, numpy as np; a=np.load(sys.argv[1]); print(sorted(a.keys())[:2], a['4/input'].shape, a['4/input'].dtype)",
            s(&gin),
        ])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&check.stdout).trim(),
        "['0/input', '1/input'] (1, 64) float32"
    );
    // The same model against its golden outputs: zero error.
    let r = accuracy_json(&[
        s(&model),
        "--load-inputs",
        s(&gin),
        "--load-outputs",
        s(&gout),
    ]);
    assert_eq!(r["inputs"]["sets"], 5);
    assert_eq!(output(&r, 0, "logits")["stats"]["max_abs"], 0.0);
    assert_eq!(r["passed"], true);
}

#[test]
fn bad_input_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let model = sample_model();
    // Names that differ: the conv net has other inputs and outputs.
    expect_error(
        assay().args([
            "accuracy",
            s(&model),
            "--candidate",
            s(&fixture("convnet.onnx")),
        ]),
        1,
        "inputs only the reference has: input; inputs only the candidate has: image; outputs only the reference has: logits",
    );
    // Same names, other shapes.
    expect_error(
        assay().args([
            "accuracy",
            s(&model),
            "--candidate",
            s(&fixture("mlp.onnx")),
        ]),
        1,
        "input 'input' is float [batch, 64] on the reference and float [batch, 512] on the candidate",
    );
    // A candidate that cannot load.
    expect_error(
        assay().args([
            "accuracy",
            s(&model),
            "--candidate",
            s(&fixture("unsupported_op.onnx")),
        ]),
        1,
        "ONNX Runtime cannot load this model",
    );
    // A corrupt .npz.
    let corrupt = dir.path().join("corrupt.npz");
    std::fs::write(&corrupt, b"PK\x03\x04 this is not a zip").unwrap();
    expect_error(
        assay()
            .args(["accuracy", s(&model), "--candidate", "cpu:opt=disable"])
            .args(["--load-inputs", s(&corrupt)]),
        1,
        "not an .npz (zip) archive",
    );
    // Tolerances that cannot parse, and one for an output the model does not have.
    expect_error(
        assay().args([
            "accuracy",
            s(&model),
            "--candidate",
            "cpu",
            "--atol",
            "tiny",
        ]),
        2,
        "'tiny' is not a number",
    );
    expect_error(
        assay().args([
            "accuracy",
            s(&model),
            "--candidate",
            "cpu",
            "--check",
            "mode",
        ]),
        2,
        "not a check statistic",
    );
    expect_error(
        assay().args([
            "accuracy",
            s(&model),
            "--candidate",
            "cpu",
            "--atol",
            "probs=1e-3",
        ]),
        2,
        "no output named probs; its outputs are logits",
    );
    // Nothing to compare.
    expect_error(assay().args(["accuracy", s(&model)]), 2, "--candidate");
    // Saved outputs that do not match the inputs' set count.
    let (gin, gout) = (dir.path().join("in.npz"), dir.path().join("out.npz"));
    let o = run(assay().args(["accuracy", s(&model), "--sets", "2"]).args([
        "--save-inputs",
        s(&gin),
        "--save-outputs",
        s(&gout),
    ]));
    assert_eq!(o.code, 0, "{}", o.stderr);
    expect_error(
        assay().args([
            "accuracy",
            s(&model),
            "--sets",
            "3",
            "--load-outputs",
            s(&gout),
        ]),
        1,
        "it holds 2 sets of outputs but there are 3 input sets",
    );
}

#[test]
fn comparisons_are_recorded_listed_reported_and_removed() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("history.db");
    let reference = fixture("convnet.onnx");
    let perturbed = fixture("convnet_perturbed.onnx");
    let o = run(on(&db)
        .args(["accuracy", s(&reference), "--candidate", s(&perturbed)])
        .args(["--sets", "2"]));
    assert_eq!(o.code, 0, "{}", o.stderr);
    let id = o
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("saved as run "))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("no run id in:\n{}", o.stdout))
        .to_string();

    // Listed with the timing runs, and alone with --kind accuracy.
    let o = run(on(&db).args(["runs", "list"]));
    assert!(
        o.stdout.contains(&id) && o.stdout.contains("FAIL"),
        "{}",
        o.stdout
    );
    let list = json(&run(on(&db).args(["runs", "list", "--kind", "accuracy", "--json"])).stdout);
    assert_eq!(list[0]["id"], id.as_str());
    assert_eq!(list[0]["passed"], false);
    assert_eq!(list[0]["candidates"], 1);
    assert!(
        list[0]["labels"]
            .as_str()
            .unwrap()
            .contains("convnet_perturbed.onnx on cpu")
    );
    assert!(list[0]["worst_max_abs"].as_f64().unwrap() > 0.0);

    // The stored document is the whole report, found by a prefix of its id.
    let shown = json(&run(on(&db).args(["runs", "show", &id[..6], "--json"])).stdout);
    assert_eq!(shown["schema"], "assay.accuracy/1");
    assert_eq!(shown["run_id"], id.as_str());
    assert_eq!(
        shown["candidates"][0]["divergence"]["node"],
        "/features/block.1/conv/Conv"
    );

    // The HTML report: verdicts, the node, and one error chart per output.
    let html = dir.path().join("r.html");
    let charts = dir.path().join("charts");
    let o = run(on(&db).args(["report", &id, "--out", s(&html), "--charts", s(&charts)]));
    assert_eq!(o.code, 0, "{}", o.stderr);
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(
        page.contains("Assay accuracy report: FAILED"),
        "report heading"
    );
    assert!(page.contains("/features/block.1/conv/Conv"));
    assert_eq!(page.matches("<svg").count(), 1, "one output, one chart");
    assert!(page.contains("|error| of scores"));
    let mut files: Vec<String> = std::fs::read_dir(&charts)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(files, ["errors-1-scores.png", "errors-1-scores.svg"]);

    // Signed into a release as accuracy evidence, with each candidate's verdict.
    let rel = dir.path().join("rel");
    let o = run(on(&db)
        .args(["release", "create", s(&perturbed), "--name", "conv"])
        .args([
            "--version",
            "1.0.0",
            "--evidence",
            &id,
            "--out",
            s(&rel),
            "--json",
        ]));
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(!o.stderr.contains("did not check"), "{}", o.stderr);
    let created = json(&o.stdout);
    let acc = &created["release"]["accuracy"];
    assert_eq!(acc["run_id"], id.as_str());
    assert_eq!(acc["passed"], false);
    assert_eq!(acc["candidates"][0]["verdict"], "fail");
    assert_eq!(
        acc["candidates"][0]["failed_outputs"],
        serde_json::json!(["scores"])
    );
    assert_eq!(
        acc["candidates"][0]["diverging_node"],
        "/features/block.1/conv/Conv"
    );
    let on_disk = json(&std::fs::read_to_string(rel.join("assay-release.json")).unwrap());
    assert_eq!(on_disk["accuracy"], *acc);
    expect_error(
        on(&db)
            .args(["release", "create", s(&perturbed), "--name", "conv"])
            .args([
                "--version",
                "1.0.1",
                "--evidence",
                &id,
                "--evidence",
                &id,
                "--out",
                s(&dir.path().join("rel2")),
            ]),
        2,
        "one output comparison",
    );

    // Removed like any run.
    let o = run(on(&db).args(["runs", "rm", &id]));
    assert_eq!(o.code, 0, "{}", o.stderr);
    expect_error(on(&db).args(["runs", "show", &id]), 1, &id);
}

#[test]
fn bench_check_against_puts_accuracy_next_to_every_row() {
    let db = tempfile::tempdir().unwrap();
    let dbp = db.path().join("h.db");
    let perturbed = fixture("convnet_perturbed.onnx");
    let original = fixture("convnet.onnx");
    // The perturbed copy benchmarked against the original: every row fails, and rows that
    // differ only in concurrency share one comparison.
    let o = run(assay()
        .env("ASSAY_DB", &dbp)
        .args(["bench", s(&perturbed), "--check-against", s(&original)])
        .args(["--batch", "1,2", "--concurrency", "1,2", "--json"])
        .args(QUICK));
    assert_eq!(o.code, 0, "{}", o.stderr);
    let r = json(&o.stdout);
    let rows = r["results"].as_array().unwrap();
    assert_eq!(rows.len(), 4);
    let mut ids = std::collections::BTreeMap::new();
    for row in rows {
        let a = &row["accuracy"];
        assert_eq!(a["verdict"], "fail", "{row}");
        assert_eq!(a["reference"], "convnet.onnx on cpu");
        assert_eq!(a["worst_output"], "scores");
        assert_eq!(a["sets"], 4);
        assert!(a["max_abs"].as_f64().unwrap() > 1e-4, "{a}");
        // Rows of one batch size share a comparison; another batch size has its own.
        let id = a["comparison_id"].as_str().unwrap().to_string();
        let batch = row["batch"].as_i64().unwrap();
        assert_eq!(*ids.entry(id).or_insert(batch), batch, "{row}");
    }
    assert_eq!(ids.len(), 2, "one comparison per batch size: {ids:?}");
    // Batch 1's figure is the plain comparison's on the same four seeded sets.
    let plain = accuracy_json(&[
        s(&original),
        "--candidate",
        s(&perturbed),
        "--sets",
        "4",
        "--no-save",
    ]);
    let batch1 = rows.iter().find(|r| r["batch"] == 1).unwrap();
    assert_eq!(
        batch1["accuracy"]["max_abs"],
        output(&plain, 0, "scores")["stats"]["max_abs"]
    );
    // The comparisons are in the history, each at its row's batch size.
    for (id, batch) in &ids {
        let shown = run(assay()
            .env("ASSAY_DB", &dbp)
            .args(["runs", "show", id, "--json"]));
        assert_eq!(shown.code, 0, "{}", shown.stderr);
        let c = json(&shown.stdout);
        assert_eq!(c["schema"], "assay.accuracy/1");
        assert_eq!(c["candidates"][0]["verdict"], "fail");
        assert_eq!(c["inputs"]["shapes"]["image"][0], *batch, "{id}");
    }

    // The model against itself on CPU: pass with zero error; the table has the columns.
    let o = run(assay()
        .args(["bench", s(&original), "--check-against", "cpu", "--no-save"])
        .args(QUICK));
    assert_eq!(o.code, 0, "{}", o.stderr);
    let header = o.stdout.lines().find(|l| l.contains("provider")).unwrap();
    assert!(
        header.contains("accuracy") && header.contains("max abs err"),
        "{}",
        o.stdout
    );
    let row = o.stdout.lines().find(|l| l.contains("│ cpu")).unwrap();
    assert!(row.contains("pass") && row.contains("0.000e0"), "{row}");
    assert!(
        o.stdout
            .contains("outputs checked against convnet.onnx on cpu on 4 input sets")
    );

    // Without a check there are no such columns, and tolerances need one.
    let o = run(assay()
        .args(["bench", s(&original), "--no-save"])
        .args(QUICK));
    assert!(!o.stdout.contains("max abs err"), "{}", o.stdout);
    let o = run(assay().args(["bench", s(&original), "--atol", "1e-3"]));
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("--check-against"), "{}", o.stderr);
    let o = run(assay().args([
        "bench",
        s(&original),
        "--check-against",
        "cpu",
        "--check-sets",
        "0",
    ]));
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("--check-sets"), "{}", o.stderr);
    // A check that cannot run loses nothing: the row is measured, and says why it has no
    // accuracy (here a tolerance for an output the model does not have).
    let o = run(assay()
        .args([
            "bench",
            s(&original),
            "--check-against",
            "cpu",
            "--atol",
            "nope=1e-3",
        ])
        .args(["--no-save", "--json"])
        .args(QUICK));
    assert_eq!(o.code, 0, "{}", o.stderr);
    let r = json(&o.stdout);
    let row = &r["results"][0];
    assert!(row["samples"].as_u64().unwrap() >= 20, "{row}");
    assert!(row.get("accuracy").is_none(), "{row}");
    assert!(
        row["warnings"]
            .to_string()
            .contains("the accuracy check could not run")
            && row["warnings"].to_string().contains("nope"),
        "{row}"
    );
    // A reference that does not exist is said before anything is measured.
    let o = run(assay().args(["bench", s(&original), "--check-against", "missing.onnx"]));
    assert_ne!(o.code, 0);
    assert!(o.stderr.contains("missing.onnx"), "{}", o.stderr);
}
