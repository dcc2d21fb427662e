//! Compact sample storage: nanosecond latencies in measurement order, each stored as the
//! zigzag-encoded difference from the previous one in LEB128. Consecutive latencies are
//! close, so most samples take 2–3 bytes instead of 8, and the order (which the latency
//! over time chart needs) is kept exactly.

/// The `samples.encoding` value of this codec.
pub const ENCODING: &str = "ns-delta-zigzag-leb128";

pub fn encode(samples: &[u64]) -> Vec<u8> {
    let mut out = Vec::with_capacity(samples.len() * 3);
    let mut prev = 0i64;
    for &s in samples {
        let v = s as i64;
        let d = v.wrapping_sub(prev);
        prev = v;
        let mut z = ((d << 1) ^ (d >> 63)) as u64;
        loop {
            let byte = (z & 0x7f) as u8;
            z >>= 7;
            if z == 0 {
                out.push(byte);
                break;
            }
            out.push(byte | 0x80);
        }
    }
    out
}

pub fn decode(bytes: &[u8], count: usize) -> Result<Vec<u64>, String> {
    let mut out = Vec::with_capacity(count);
    let mut prev = 0i64;
    let mut i = 0;
    while i < bytes.len() {
        let (mut z, mut shift) = (0u64, 0u32);
        loop {
            let b = *bytes.get(i).ok_or("sample data ends inside a value")?;
            i += 1;
            if shift > 63 {
                return Err("a sample value is too long".into());
            }
            z |= ((b & 0x7f) as u64) << shift;
            shift += 7;
            if b & 0x80 == 0 {
                break;
            }
        }
        let d = ((z >> 1) as i64) ^ -((z & 1) as i64);
        prev = prev.wrapping_add(d);
        out.push(prev as u64);
    }
    if out.len() != count {
        return Err(format!("expected {count} samples, found {}", out.len()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_is_compact() {
        let s: Vec<u64> = (0..10_000u64).map(|i| 70_000 + (i * 7919) % 3000).collect();
        let e = encode(&s);
        assert_eq!(decode(&e, s.len()).unwrap(), s);
        assert!(
            e.len() < s.len() * 3,
            "{} bytes for {} samples",
            e.len(),
            s.len()
        );
        assert_eq!(
            decode(&encode(&[0, u64::MAX >> 1, 5]), 3).unwrap(),
            vec![0, u64::MAX >> 1, 5]
        );
    }

    #[test]
    fn damage_is_detected() {
        let e = encode(&[1000, 2000, 3000]);
        assert!(decode(&e[..e.len() - 1], 3).is_err());
        assert!(decode(&[0x80], 1).is_err());
    }
}
