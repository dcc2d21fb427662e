//! `make bench-profile` (part 1): the streaming trace reader on generated ONNX Runtime
//! traces of 250,000 and 1,000,000 events. Prints events/s and the peak resident memory
//! of each parse; memory must stay flat as the trace grows.
//!
//! Target: at least 1 M events/s, and memory flat in the trace size.

use std::time::Instant;

use assay_engine::profile::{aggregate::Aggregator, synthetic::write_trace, trace::for_each_event};

fn vm_hwm_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    println!(
        "{:>10} {:>10} {:>12} {:>14} {:>16}",
        "events", "trace MB", "parse s", "events/s", "peak RSS (MiB)"
    );
    for events in [250_000usize, 1_000_000] {
        let path = dir.path().join(format!("trace-{events}.json"));
        let (bytes, written) = write_trace(&path, events, 1).unwrap();
        let _ = std::fs::write("/proc/self/clear_refs", b"5");
        let start = Instant::now();
        let mut agg = Aggregator::default();
        let n = for_each_event(std::fs::File::open(&path).unwrap(), |e| agg.add(e)).unwrap();
        let (nodes, _) = agg.finish();
        let secs = start.elapsed().as_secs_f64();
        assert_eq!(n as usize, written);
        assert!(!nodes.is_empty());
        println!(
            "{written:>10} {:>10.1} {secs:>12.3} {:>14.0} {:>16.1}",
            bytes as f64 / 1e6,
            n as f64 / secs,
            vm_hwm_kib() as f64 / 1024.0
        );
    }
}
