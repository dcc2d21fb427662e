//! Where the nodes really ran: a profiled run's trace says which execution provider
//! executed each node, which catches a "GPU" benchmark that ran mostly on the CPU.

use std::{collections::BTreeMap, path::Path};

use crate::error::{EngineError, Result};

/// Counts nodes per execution provider from an ONNX Runtime profile (a JSON array of
/// Chrome-trace events; node events carry `args.provider`).
pub(crate) fn nodes_by_provider(trace: &Path) -> Result<BTreeMap<String, u64>> {
    #[derive(serde::Deserialize)]
    struct Event {
        #[serde(default)]
        cat: String,
        #[serde(default)]
        name: String,
        #[serde(default)]
        args: Option<Args>,
    }
    #[derive(serde::Deserialize)]
    struct Args {
        #[serde(default)]
        provider: Option<String>,
    }
    let file = std::fs::File::open(trace).map_err(|e| EngineError::io(trace, e))?;
    let events: Vec<Event> = serde_json::from_reader(std::io::BufReader::new(file))
        .map_err(|e| EngineError::runtime("reading the placement profile", e))?;
    let mut seen = std::collections::HashSet::new();
    let mut counts = BTreeMap::new();
    for e in events {
        if e.cat != "Node" || !e.name.ends_with("_kernel_time") {
            continue;
        }
        if let Some(p) = e.args.and_then(|a| a.provider)
            && seen.insert(e.name)
        {
            *counts.entry(p).or_insert(0) += 1;
        }
    }
    Ok(counts)
}
