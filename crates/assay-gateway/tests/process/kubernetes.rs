//! deploy/kubernetes/ checked without a cluster: every manifest against the Kubernetes
//! schema with PyPI's kubernetes-validate (strict: unknown fields fail), the ConfigMap's
//! gateway.toml against the gateway's own config types, and every metric the HPA's adapter
//! rule and the Argo AnalysisTemplate query against what a real gateway exports.

use std::process::Command;

use crate::{common::*, harness::*};

fn deploy() -> std::path::PathBuf {
    root().join("deploy/kubernetes")
}

fn manifests() -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(deploy())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    v.sort();
    v
}

#[test]
fn the_manifests_validate_against_the_kubernetes_schema() {
    let tool = root().join(".cache/venv-k8s/bin/kubernetes-validate");
    assert!(
        tool.exists(),
        "{} is missing: run `make setup`",
        tool.display()
    );
    let o = Command::new(&tool)
        .args(["--strict", "--kubernetes-version", "1.34.0"])
        .args(manifests())
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{out}");
    for resource in [
        "deployment/assay-gateway",
        "service/assay-gateway",
        "poddisruptionbudget/assay-gateway",
        "horizontalpodautoscaler/assay-gateway",
        "configmap/assay-gateway",
        "secret/assay-gateway-trusted-keys",
        "configmap/prometheus-adapter-assay-gateway",
    ] {
        assert!(
            out.contains(&format!("passed for resource {resource} ")),
            "{resource} was not validated:\n{out}"
        );
    }
    // The one custom resource (Argo Rollouts') has no schema offline; it is checked below.
    assert!(!out.contains("ERROR") && !out.contains("failed"), "{out}");
}

/// The `gateway.toml` the ConfigMap carries, read with PyYAML (kubernetes-validate's own
/// dependency).
fn configmap_toml() -> String {
    let py = root().join(".cache/venv-k8s/bin/python");
    let o = Command::new(py)
        .args([
            "-c",
            "import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))['data']['gateway.toml'])",
        ])
        .arg(deploy().join("configmap.yaml"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

#[test]
fn the_configmap_is_a_gateway_config_and_every_queried_metric_exists() {
    let text = configmap_toml();
    let cfg: assay_gateway::config::FileConfig =
        toml::from_str(&text).unwrap_or_else(|e| panic!("the ConfigMap's gateway.toml: {e}"));
    assert_eq!(cfg.watch.len(), 1, "every replica follows the repository");
    assert!(cfg.registry.ca_cert.is_some());
    // The Deployment mounts what the config names.
    let deployment = std::fs::read_to_string(deploy().join("deployment.yaml")).unwrap();
    for path in [
        "/etc/assay/trusted-keys",
        "/etc/assay/admin",
        "/etc/assay/registry",
        "/var/lib/assay-gateway",
    ] {
        assert!(text.contains(path) && deployment.contains(path), "{path}");
    }

    // A real gateway's metrics after one request.
    let env = Env::new();
    let gw = Gateway::start(&env, "gw", "", &[]);
    let rel = env.release(&fixture("lookup.onnx"), "lookup", "1.0.0");
    assert_eq!(env.push(&gw, &rel, &[]).code, 0);
    let r = infer(
        &agent(),
        &gw,
        "/v2/models/lookup/infer",
        lookup_request(&[[1.0, 0.0, 1.0, 2.0]]),
        &[],
    );
    assert_eq!(r.status, 200);
    let r = infer(&agent(), &gw, "/v2/models/lookup/infer", b"{".to_vec(), &[]);
    assert_eq!(r.status, 400);
    let metrics = gw.metrics_text();

    let mut names = std::collections::BTreeSet::new();
    for f in [
        "argo-analysis-template.yaml",
        "prometheus-adapter.yaml",
        "hpa.yaml",
    ] {
        let t = std::fs::read_to_string(deploy().join(f)).unwrap();
        let mut rest = t.as_str();
        while let Some(i) = rest.find("assay_") {
            let tail = &rest[i..];
            let end = tail
                .find(|c: char| !(c.is_ascii_lowercase() || c == '_'))
                .unwrap_or(tail.len());
            names.insert(tail[..end].to_string());
            rest = &tail[end..];
        }
    }
    // The HPA's name is the adapter's output, not a gateway series.
    names.remove("assay_pending_requests_per_pod");
    assert!(names.len() >= 4, "{names:?}");
    for n in &names {
        let series: Vec<&str> = metrics
            .lines()
            .filter(|l| l.starts_with(&format!("{n}{{")))
            .collect();
        assert!(
            !series.is_empty(),
            "{n} is queried but not exported:\n{metrics}"
        );
        assert!(
            series.iter().any(|l| l.contains("model=\"lookup\"")),
            "{n} has no model label: {series:?}"
        );
        if n != "assay_pending_requests" {
            assert!(
                series.iter().any(|l| l.contains("version=\"1.0.0\"")),
                "{n} has no version label: {series:?}"
            );
        }
    }
}
