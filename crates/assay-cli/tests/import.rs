//! Merging histories (`assay runs import`), in a test binary of its own: its benchmarks
//! would otherwise run beside the timing-sensitive comparisons in history.rs.

mod common;

use common::*;

/// Two histories become one (the console's old database joining the CLI's): every run, its
/// samples and its profile come across once, and importing again doubles nothing.
#[test]
fn another_history_is_imported_once_with_everything_in_it() {
    let dir = tempfile::tempdir().unwrap();
    let old = dir.path().join("console.db");
    let shared = dir.path().join("shared.db");
    let model = sample_model();
    let a = bench_run(&old, &model, &["--batch", "1,4"]);
    let p = profile_run(&old, &model, &dir.path().join("prof"), &[]);
    let mine = bench_run(&shared, &model, &[]);

    let o = run(on(&shared).args(["runs", "import", "--json"]).arg(&old));
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(json(&o.stdout)["imported"], 2, "{}", o.stdout);
    let list = json(&run(on(&shared).args(["runs", "list", "--json"])).stdout);
    let ids: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    for id in [a.as_str(), mine.as_str(), p["run_id"].as_str().unwrap()] {
        assert!(ids.contains(&id), "{id} in {ids:?}");
    }
    // Samples and the profile came with the run.
    let e = json(&run(on(&shared).args(["runs", "export", &a])).stdout);
    assert_eq!(e["run"]["samples_ns"].as_array().unwrap().len(), 2);
    assert!(!e["run"]["samples_ns"][1].as_array().unwrap().is_empty());
    let shown = run(on(&shared).args(["runs", "show", p["run_id"].as_str().unwrap()]));
    assert!(shown.stdout.contains("profile"), "{}", shown.stdout);

    let again = run(on(&shared).args(["runs", "import", "--json"]).arg(&old));
    assert_eq!(json(&again.stdout)["imported"], 0, "nothing is doubled");
    assert_eq!(
        json(&run(on(&shared).args(["runs", "list", "--json"])).stdout)
            .as_array()
            .unwrap()
            .len(),
        3
    );
    expect_error(
        on(&shared)
            .args(["runs", "import"])
            .arg(dir.path().join("nope.db")),
        2,
        "no such database file",
    );
}
