//! ONNX Runtime–shaped profile traces of any size, for the benchmarks of the tools that read
//! traces (the streaming reader here, the viewer's trace view): real traces of a million
//! events take an hour of profiling to record, and their shape is all those tools care for.

use std::io::{BufWriter, Write};

/// Writes a trace shaped like ONNX Runtime's to `path`: per inference, a `model_run` event
/// and, per node, fence-before, kernel-time and fence-after events with the arguments
/// ONNX Runtime writes (shapes, provider, thread-pool statistics). Inferences go round-robin
/// to `threads` threads, as when several callers share a session. Returns the file's size
/// and the number of events written (`events`, give or take one inference's tail).
pub fn write_trace(
    path: &std::path::Path,
    events: usize,
    threads: usize,
) -> std::io::Result<(u64, usize)> {
    const NODES: usize = 40;
    const OPS: [&str; 4] = ["MatMul", "Add", "Gelu", "LayerNormalization"];
    let mut f = BufWriter::new(std::fs::File::create(path)?);
    f.write_all(b"[\n")?;
    let threads = threads.max(1);
    let mut clocks = vec![0u64; threads];
    let mut n = 0usize;
    let mut inference = 0usize;
    while n < events {
        let tid = 1000 + inference % threads;
        let ts = &mut clocks[inference % threads];
        let start = *ts;
        let mut body = Vec::with_capacity(NODES * 3);
        for k in 0..NODES {
            let name = format!("/encoder/layer.{}/block/op_{k}", k / 4);
            let op = OPS[k % OPS.len()];
            for (suffix, dur) in [
                ("_fence_before", 0),
                ("_kernel_time", 10 + (k * 7 + inference) % 23),
                ("_fence_after", 0),
            ] {
                body.push(format!(
                    r#"{{"cat":"Node","pid":1,"tid":{tid},"dur":{dur},"ts":{ts},"ph":"X","name":"{name}{suffix}","args":{{"op_name":"{op}","provider":"CPUExecutionProvider","input_type_shape":[{{"float":[1,512]}},{{"float":[512,768]}}],"output_type_shape":[{{"float":[1,768]}}],"thread_scheduling_stats":{{"main_thread":{{"thread_pool_name":"session-1-intra-op","thread_pool_size":2,"block_size":1,"dop":2,"distribution":[1,1],"distribution_enqueue":[0,0],"run":[2,3],"wait":[1,1],"wait_revoke":[0,0]}}}}}}}}"#
                ));
                *ts += dur as u64 + 1;
            }
        }
        // ONNX Runtime writes an inference's model_run after its kernels.
        body.push(format!(
            r#"{{"cat":"Session","pid":1,"tid":{tid},"dur":{},"ts":{start},"ph":"X","name":"model_run","args":{{}}}}"#,
            *ts - start
        ));
        *ts += 50;
        for e in body.into_iter().take(events - n) {
            if n > 0 {
                f.write_all(b",\n")?;
            }
            f.write_all(e.as_bytes())?;
            n += 1;
        }
        inference += 1;
    }
    f.write_all(b"\n]\n")?;
    f.flush()?;
    Ok((std::fs::metadata(path)?.len(), n))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::trace::for_each_threaded;

    #[test]
    fn writes_a_readable_trace_of_the_size_asked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.json");
        let (bytes, n) = write_trace(&path, 1000, 3).unwrap();
        assert_eq!(n, 1000);
        assert!(bytes > 100_000);
        let (mut runs, mut tids) = (0, std::collections::BTreeSet::new());
        let read = for_each_threaded(std::fs::File::open(&path).unwrap(), |e| {
            runs += e.is_model_run() as usize;
            tids.insert(e.tid);
        })
        .unwrap();
        assert_eq!(read, 1000);
        assert_eq!(runs, 1000 / 121);
        assert_eq!(tids.len(), 3);
    }
}
