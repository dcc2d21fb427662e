//! Flame graphs of a model's scope hierarchy.
//!
//! Exporters name nodes by their module path (`/encoder/layer.0/attn/MatMul`), so the path
//! is the stack: `encoder;layer.0;attn;MatMul`. Nodes without a scope group under their op
//! type (`Gemm;gemm_3`). Each stack is weighted by its node's mean kernel time per
//! inference in nanoseconds, so the widest frames are the costliest blocks of one inference.

use std::io::Write;

use serde_json::json;

use super::aggregate::NodeStats;

/// The folded stack (frames joined by `;`) of a node.
pub fn stack_of(node: &str, op_type: &str) -> String {
    let clean = |s: &str| s.replace([';', ' '], "_");
    // ONNX Runtime names fused nodes "fused <original name>": keep the original scope.
    let node = node.strip_prefix("fused ").unwrap_or(node);
    let scope = crate::model::graph::scope_of(node);
    if node.starts_with('/') && node.len() > 1 {
        let leaf = node.rsplit('/').find(|p| !p.is_empty()).unwrap_or(node);
        scope
            .into_iter()
            .chain([leaf])
            .map(clean)
            .collect::<Vec<_>>()
            .join(";")
    } else {
        format!("{};{}", clean(op_type), clean(node))
    }
}

/// Folded stacks (`frame;frame;leaf weight`), weights in ns per inference, sorted.
pub fn folded(nodes: &[NodeStats]) -> String {
    let mut lines: Vec<String> = nodes
        .iter()
        .map(|n| {
            (
                stack_of(&n.name, &n.op_type),
                (n.per_inference_us * 1e3).round() as u64,
            )
        })
        .filter(|(_, w)| *w > 0)
        .map(|(s, w)| format!("{s} {w}"))
        .collect();
    lines.sort();
    lines.join("\n") + "\n"
}

fn options<'a>(title: &str, subtitle: String) -> inferno::flamegraph::Options<'a> {
    let mut o = inferno::flamegraph::Options::default();
    o.title = title.to_string();
    o.subtitle = Some(subtitle);
    o.count_name = "ns per inference".into();
    o.name_type = "Block:".into();
    o
}

/// Renders folded stacks as an interactive SVG (zoom, search, hover details).
pub fn render_svg(
    folded: &str,
    title: &str,
    subtitle: String,
    out: impl Write,
) -> std::io::Result<()> {
    let mut opt = options(title, subtitle);
    inferno::flamegraph::from_lines(
        &mut opt,
        folded.lines().filter(|l| !l.trim().is_empty()),
        out,
    )
}

/// A differential flame graph of B against A: frame widths are B's, red where B spends more
/// time than A, blue where it spends less.
pub fn render_diff_svg(
    folded_a: &str,
    folded_b: &str,
    title: &str,
    subtitle: String,
    out: impl Write,
) -> std::io::Result<()> {
    let mut diff = Vec::new();
    inferno::differential::from_readers(
        inferno::differential::Options::default(),
        folded_a.as_bytes(),
        folded_b.as_bytes(),
        &mut diff,
    )?;
    let diff = String::from_utf8_lossy(&diff).into_owned();
    let mut opt = options(title, subtitle);
    inferno::flamegraph::from_lines(&mut opt, diff.lines().filter(|l| !l.trim().is_empty()), out)
}

/// The differential flame graph of two recorded runs: red where run `b` spends more time
/// than run `a`, blue where it spends less.
pub fn render_runs_diff_svg(
    a_id: &str,
    folded_a: &str,
    b_id: &str,
    folded_b: &str,
    out: impl Write,
) -> std::io::Result<()> {
    let subtitle = format!(
        "run {a_id} → run {b_id}: red where {b_id} spends more time, blue where it spends less"
    );
    render_diff_svg(
        folded_a,
        folded_b,
        "Assay: differential flame graph",
        subtitle,
        out,
    )
}

/// The same stacks as a speedscope "sampled" profile (weights in nanoseconds).
pub fn speedscope(folded: &str, name: &str) -> serde_json::Value {
    let mut frames: Vec<String> = Vec::new();
    let mut index = std::collections::HashMap::new();
    let (mut samples, mut weights) = (Vec::new(), Vec::new());
    for line in folded.lines() {
        let Some((stack, w)) = line.rsplit_once(' ') else {
            continue;
        };
        let Ok(w) = w.parse::<u64>() else { continue };
        let ids: Vec<usize> = stack
            .split(';')
            .map(|f| {
                *index.entry(f.to_string()).or_insert_with(|| {
                    frames.push(f.to_string());
                    frames.len() - 1
                })
            })
            .collect();
        samples.push(ids);
        weights.push(w);
    }
    let total: u64 = weights.iter().sum();
    json!({
        "$schema": "https://www.speedscope.app/file-format-schema.json",
        "exporter": format!("assay {}", env!("CARGO_PKG_VERSION")),
        "name": name,
        "activeProfileIndex": 0,
        "shared": {"frames": frames.iter().map(|f| json!({"name": f})).collect::<Vec<_>>()},
        "profiles": [{
            "type": "sampled",
            "name": format!("{name}: mean kernel time per inference"),
            "unit": "nanoseconds",
            "startValue": 0,
            "endValue": total,
            "samples": samples,
            "weights": weights,
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_become_frames() {
        assert_eq!(
            stack_of("/encoder/layer.0/attn/MatMul", "MatMul"),
            "encoder;layer.0;attn;MatMul"
        );
        assert_eq!(stack_of("gemm_3", "Gemm"), "Gemm;gemm_3");
        assert_eq!(
            stack_of("fused /l.1/fc/MatMul/MatMulAddFusion", "FusedGemm"),
            "l.1;fc;MatMul;MatMulAddFusion"
        );
        assert_eq!(stack_of("/a b/c;d", "X"), "a_b;c_d");
    }

    #[test]
    fn speedscope_shares_frames() {
        let s = speedscope("a;b 10\na;c 5\n", "m");
        assert_eq!(s["shared"]["frames"].as_array().unwrap().len(), 3);
        assert_eq!(s["profiles"][0]["samples"], json!([[0, 1], [0, 2]]));
        assert_eq!(s["profiles"][0]["endValue"], 15);
    }
}
