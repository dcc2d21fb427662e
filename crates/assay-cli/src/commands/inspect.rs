//! `assay inspect MODEL`

use assay_engine::model::{self, ModelReport};
use comfy_table::{Table, presets::UTF8_BORDERS_ONLY};

use crate::{
    cli::{Cli, InspectArgs},
    format,
};

pub fn run(cli: &Cli, args: &InspectArgs) -> anyhow::Result<()> {
    let mut report = model::inspect(&args.model)?;
    // Values this model was last benchmarked with, when a history exists (inspect never
    // creates one).
    if let Some(remembered) = super::store::History::remembered_dims(cli, &report.file.sha256)
        && !remembered.is_empty()
    {
        report.free_dims = model::suggest_dims(&args.model, &Default::default(), &remembered)?;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_human(&report);
    }
    Ok(())
}

fn print_human(r: &ModelReport) {
    println!("{}", r.file.path.display());
    println!(
        "  size        {} ({} bytes)",
        format::bytes(r.file.size_bytes),
        format::count(r.file.size_bytes)
    );
    println!("  sha256      {}", r.file.sha256);
    let producer = format!("{} {}", r.model.producer_name, r.model.producer_version);
    println!(
        "  producer    {}",
        if producer.trim().is_empty() {
            "(not recorded)"
        } else {
            producer.trim()
        }
    );
    println!("  ir_version  {}", r.model.ir_version);
    let opsets: Vec<String> = r
        .model
        .opsets
        .iter()
        .map(|o| format!("{} {}", o.domain, o.version))
        .collect();
    println!("  opsets      {}", opsets.join(", "));
    if !r.model.doc_string.is_empty() {
        println!(
            "  doc         {}",
            r.model.doc_string.lines().next().unwrap_or("")
        );
    }

    let mut io = Table::new();
    io.load_preset(UTF8_BORDERS_ONLY)
        .set_header(vec!["", "name", "type", "shape"]);
    for (kind, list) in [("input", &r.inputs), ("output", &r.outputs)] {
        for t in list.iter() {
            let shape = match &t.shape {
                Some(d) => format!(
                    "[{}]",
                    d.iter()
                        .map(|d| d.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                None => "(unknown rank)".into(),
            };
            io.add_row(vec![
                kind.to_string(),
                t.name.clone(),
                t.element_type.clone(),
                shape,
            ]);
        }
    }
    println!("\n{io}");

    if !r.free_dims.is_empty() {
        let mut t = Table::new();
        t.load_preset(UTF8_BORDERS_ONLY).set_header(vec![
            "dynamic dimension",
            "in",
            "suggested",
            "from",
        ]);
        for d in &r.free_dims {
            let uses: Vec<String> = d
                .uses
                .iter()
                .map(|u| format!("{}[{}]", u.input, u.axis))
                .collect();
            t.add_row(vec![
                format!("{}{}", d.handle, if d.batch { " (batch)" } else { "" }),
                uses.join(", "),
                d.value.to_string(),
                format!("{} ({})", d.source.as_str(), d.reason),
            ]);
        }
        println!("\n{t}");
        let flags: Vec<String> = r
            .free_dims
            .iter()
            .filter(|d| !d.batch)
            .map(|d| format!("--dim {}={}", d.handle, d.value))
            .collect();
        if !flags.is_empty() {
            println!("  bench with: {}", flags.join(" "));
        }
    }

    if !r.metadata.is_empty() {
        println!("\nmetadata");
        for (k, v) in &r.metadata {
            println!("  {k} = {v}");
        }
    }

    let g = &r.graph;
    println!("\ngraph '{}'", g.name);
    println!(
        "  nodes       {}{}",
        format::count(g.node_count),
        if g.subgraph_count > 0 {
            format!(" (including {} subgraphs)", g.subgraph_count)
        } else {
            String::new()
        }
    );
    println!(
        "  parameters  {} in {} tensors ({})",
        format::count(g.parameter_count),
        g.initializer_count,
        format::bytes(g.parameter_bytes)
    );
    let mut ops: Vec<(&String, &u64)> = g.operators.iter().collect();
    ops.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let mut t = Table::new();
    t.load_preset(UTF8_BORDERS_ONLY)
        .set_header(vec!["operator", "count"]);
    for (op, n) in ops {
        t.add_row(vec![op.clone(), n.to_string()]);
    }
    println!("{t}");
    if !g.external_data.is_empty() {
        println!("external data");
        for f in &g.external_data {
            let size = f
                .size_on_disk
                .map(format::bytes)
                .unwrap_or_else(|| "-".into());
            let problem = f
                .problem
                .as_deref()
                .map(|p| format!("  ⚠ {p}"))
                .unwrap_or_default();
            println!(
                "  {}  {} tensors, reads {}, file {}{}",
                f.location,
                f.tensors,
                format::bytes(f.referenced_bytes),
                size,
                problem
            );
        }
    }
}
