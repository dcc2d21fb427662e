//! Coordinated omission: a client that waits for each answer before sending the next one
//! stops sending while the server stalls, so the stall shows up as one slow sample instead
//! of the many slow requests real users would have seen. Two remedies:
//!
//! - **Open loop**: requests are sent on a schedule, and each latency is measured from the
//!   *scheduled* send time, so a late send (the client waiting for a free connection) is
//!   charged too. No correction is needed afterwards.
//! - **Closed loop**: HdrHistogram's `recordValueWithExpectedInterval`. With an expected
//!   interval `I` between one worker's requests (here the level's median round trip), a
//!   sample `L > I` stands for the requests that would have been sent during it, which would
//!   have waited `L − I`, `L − 2I`, … down to `I`. Those are added to the percentiles (and
//!   counted), never to the stored samples, which stay the measured round trips.

/// The largest number of requests one stall can stand for: a 30 s timeout at a 1 µs
/// interval must not make 30 million samples.
pub const MAX_FILL_PER_SAMPLE: u64 = 100_000;

/// The samples a stalled closed-loop client omitted, for `expected_ns` between requests.
pub fn omitted(samples_ns: &[u64], expected_ns: u64) -> Vec<u64> {
    let mut out = Vec::new();
    if expected_ns == 0 {
        return out;
    }
    for &l in samples_ns {
        let mut missing = l.saturating_sub(expected_ns);
        let mut n = 0;
        while missing >= expected_ns && n < MAX_FILL_PER_SAMPLE {
            out.push(missing);
            missing -= expected_ns;
            n += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stall_stands_for_the_requests_it_kept_from_being_sent() {
        // 1 ms round trips, and one 5 ms stall: 4, 3, 2 and 1 ms were omitted.
        let samples = [1_000_000, 1_000_000, 5_000_000, 1_000_000];
        assert_eq!(
            omitted(&samples, 1_000_000),
            vec![4_000_000, 3_000_000, 2_000_000, 1_000_000]
        );
        // Nothing slower than the interval: nothing added.
        assert!(omitted(&[900, 1_000, 1_999], 1_000).is_empty());
        assert!(omitted(&samples, 0).is_empty());
        // A huge stall is capped.
        assert_eq!(omitted(&[u64::MAX], 1).len() as u64, MAX_FILL_PER_SAMPLE);
    }
}
