//! Peak resident memory of this process, per benchmark configuration.
//!
//! On Linux the kernel's high-water mark (`VmHWM`) can be reset by writing `5` to
//! `/proc/self/clear_refs`, so each configuration gets its own peak rather than the
//! process's lifetime maximum. Elsewhere the lifetime peak from `getrusage` is reported.

/// Starts a new peak-RSS window (best effort).
pub(crate) fn reset_peak() {
    #[cfg(target_os = "linux")]
    let _ = std::fs::write("/proc/self/clear_refs", b"5");
}

/// The peak resident set size since the last [`reset_peak`], in bytes.
pub(crate) fn peak_rss_bytes() -> Option<u64> {
    #[cfg(target_os = "linux")]
    if let Ok(status) = std::fs::read_to_string("/proc/self/status")
        && let Some(kb) = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
    {
        return Some(kb * 1024);
    }
    #[cfg(unix)]
    {
        // SAFETY: getrusage only writes into the struct we pass.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } == 0 {
            // Linux reports kilobytes, macOS bytes.
            let scale = if cfg!(target_os = "macos") { 1 } else { 1024 };
            return Some(usage.ru_maxrss as u64 * scale);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peak_grows_with_a_big_allocation() {
        reset_peak();
        let before = peak_rss_bytes().unwrap();
        let v = vec![1u8; 64 << 20];
        std::hint::black_box(&v);
        let after = peak_rss_bytes().unwrap();
        assert!(
            after >= before + (48 << 20),
            "before {before}, after {after}"
        );
    }
}
