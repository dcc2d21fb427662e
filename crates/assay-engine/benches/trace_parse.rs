//! `make bench-profile` (part 1): the streaming trace reader on generated ONNX Runtime
//! traces of 250,000 and 1,000,000 events. Prints events/s and the peak resident memory
//! of each parse; memory must stay flat as the trace grows.
//!
//! Target: at least 1 M events/s, and memory flat in the trace size.

use std::{io::Write, time::Instant};

use assay_engine::profile::{aggregate::Aggregator, trace::for_each_event};

/// Writes a trace shaped like ONNX Runtime's: per inference, a `model_run` event and, per
/// node, fence-before, kernel-time and fence-after events with realistic arguments.
fn write_trace(path: &std::path::Path, events: usize) -> (u64, usize) {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    f.write_all(b"[\n").unwrap();
    let nodes = 40;
    let mut n = 0usize;
    let mut ts = 0u64;
    let mut first = true;
    let mut sep = |f: &mut std::io::BufWriter<std::fs::File>| {
        if !first {
            f.write_all(b",\n").unwrap();
        }
        first = false;
    };
    while n < events {
        sep(&mut f);
        write!(f, r#"{{"cat":"Session","pid":1,"tid":1,"dur":900,"ts":{ts},"ph":"X","name":"model_run","args":{{}}}}"#).unwrap();
        n += 1;
        for k in 0..nodes {
            if n >= events {
                break;
            }
            let name = format!("/encoder/layer.{}/block/op_{k}", k / 4);
            for (suffix, dur) in [
                ("_fence_before", 0),
                ("_kernel_time", 10 + k),
                ("_fence_after", 0),
            ] {
                sep(&mut f);
                write!(
                    f,
                    r#"{{"cat":"Node","pid":1,"tid":1,"dur":{dur},"ts":{ts},"ph":"X","name":"{name}{suffix}","args":{{"op_name":"MatMul","provider":"CPUExecutionProvider","input_type_shape":[{{"float":[1,512]}},{{"float":[512,768]}}],"output_type_shape":[{{"float":[1,768]}}],"thread_scheduling_stats":{{"main_thread":{{"thread_pool_name":"session-1-intra-op","thread_pool_size":2,"block_size":1,"dop":2,"distribution":[1,1],"distribution_enqueue":[0,0],"run":[2,3],"wait":[1,1],"wait_revoke":[0,0]}}}}}}}}"#
                )
                .unwrap();
                n += 1;
                ts += 1;
            }
        }
    }
    f.write_all(b"\n]\n").unwrap();
    f.flush().unwrap();
    (std::fs::metadata(path).unwrap().len(), n)
}

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
        let (bytes, written) = write_trace(&path, events);
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
