//! The gateway's own CPU profile: sampled with SIGPROF by `pprof` for a few seconds, then
//! given as pprof protobuf (for `go tool pprof`, Pyroscope, speedscope) or as folded stacks
//! (for flame graphs: the console, inferno, speedscope).

use std::{
    sync::atomic::{AtomicBool, Ordering},
    time::Duration,
};

use crate::error::GatewayError;

/// Samples per second: not a multiple of common timer rates, so periodic work is not
/// sampled in lockstep.
const FREQUENCY: i32 = 99;

/// The longest profile one request may ask for.
pub const MAX_SECONDS: u64 = 60;

/// One profile at a time: the sampler is process-wide.
static BUSY: AtomicBool = AtomicBool::new(false);

/// Holds [`BUSY`] while a profile is taken.
struct Busy;

impl Drop for Busy {
    fn drop(&mut self) {
        BUSY.store(false, Ordering::Release);
    }
}

/// A finished profile.
pub struct CpuProfile {
    report: pprof::Report,
}

impl CpuProfile {
    /// Samples the whole process for `seconds` (on a blocking thread: the tokio workers go
    /// on serving, and are what gets sampled).
    pub async fn take(seconds: u64) -> Result<CpuProfile, GatewayError> {
        if !(1..=MAX_SECONDS).contains(&seconds) {
            return Err(GatewayError::BadRequest(format!(
                "seconds={seconds}: a profile lasts 1 to {MAX_SECONDS} seconds"
            )));
        }
        if BUSY.swap(true, Ordering::AcqRel) {
            return Err(GatewayError::Conflict(
                "a profile is being taken already; try again when it is done".into(),
            ));
        }
        // Released by the sampling thread when it ends, even if the caller went away and
        // this future was dropped meanwhile.
        let busy = Busy;
        let result = tokio::task::spawn_blocking(move || {
            let _busy = busy;
            let guard = pprof::ProfilerGuardBuilder::default()
                .frequency(FREQUENCY)
                // Unwinding through these from a signal handler can deadlock.
                .blocklist(&["libc", "libgcc", "pthread", "vdso"])
                .build()
                .map_err(|e| GatewayError::internal("starting the CPU profiler", e))?;
            std::thread::sleep(Duration::from_secs(seconds));
            guard
                .report()
                .build()
                .map_err(|e| GatewayError::internal("building the CPU profile", e))
        })
        .await;
        let report = result.map_err(|e| GatewayError::internal("the profiler thread", e))??;
        Ok(CpuProfile { report })
    }

    /// pprof's protobuf (`profile.proto`), uncompressed.
    pub fn pprof(&self) -> Result<Vec<u8>, GatewayError> {
        use pprof::protos::Message;
        let profile = self
            .report
            .pprof()
            .map_err(|e| GatewayError::internal("encoding the CPU profile", e))?;
        let mut buf = Vec::with_capacity(profile.encoded_len());
        profile
            .encode(&mut buf)
            .map_err(|e| GatewayError::internal("encoding the CPU profile", e))?;
        Ok(buf)
    }

    /// Folded stacks, `thread;outermost;…;innermost samples`, one per line, sorted.
    pub fn folded(&self) -> String {
        let mut lines: Vec<String> = self
            .report
            .data
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(frames, n)| {
                let thread = if frames.thread_name.is_empty() {
                    format!("thread-{}", frames.thread_id)
                } else {
                    frames.thread_name.clone()
                };
                let mut stack = vec![thread];
                // pprof keeps the innermost frame first; inlined symbols innermost first too.
                for frame in frames.frames.iter().rev() {
                    for symbol in frame.iter().rev() {
                        // `;` separates frames, and a space the count.
                        stack.push(symbol.name().replace([';', ' '], "_"));
                    }
                }
                format!("{} {n}", stack.join(";"))
            })
            .collect();
        lines.sort();
        lines.join("\n") + "\n"
    }
}
