//! Reads the samples the Gateways view charts out of a gateway's `/metrics` (OpenMetrics
//! text): request successes and failures, the request-duration histogram and the canary
//! share, each with its labels. Rates and quantiles come from the difference of two
//! scrapes, in the front end.

use std::collections::BTreeMap;

use serde::Serialize;

/// Metric families the console charts.
const WANTED: [&str; 4] = [
    "assay_request_success_total",
    "assay_request_failure_total",
    "assay_request_duration_seconds_bucket",
    "assay_canary_percent",
];

/// One sample line.
#[derive(Debug, Clone, PartialEq, Serialize, ts_rs::TS)]
#[ts(export, rename = "MetricSample")]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// The wanted samples of a scrape; lines that do not parse are skipped, not fatal.
pub fn samples(text: &str) -> Vec<Sample> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(parse_line)
        .filter(|s| WANTED.contains(&s.name.as_str()))
        .collect()
}

fn parse_line(line: &str) -> Option<Sample> {
    let (series, rest) = match line.find('{') {
        Some(open) => {
            let close = open + line[open..].find('}')?;
            (&line[..close + 1], &line[close + 1..])
        }
        None => line.split_at(line.find(' ')?),
    };
    let value: f64 = rest.split_whitespace().next()?.parse().ok()?;
    let (name, labels) = match series.find('{') {
        Some(open) => (
            &series[..open],
            labels(&series[open + 1..series.len() - 1])?,
        ),
        None => (series, BTreeMap::new()),
    };
    Some(Sample {
        name: name.to_string(),
        labels,
        value,
    })
}

/// `a="x",b="y\"z"`: values are quoted with `\\`, `\"` and `\n` escapes.
fn labels(s: &str) -> Option<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    let mut rest = s.trim();
    while !rest.is_empty() {
        let eq = rest.find('=')?;
        let key = rest[..eq].trim().to_string();
        let mut chars = rest[eq + 1..].char_indices();
        if chars.next()?.1 != '"' {
            return None;
        }
        let mut value = String::new();
        let mut end = None;
        let mut escaped = false;
        for (i, c) in chars {
            match (escaped, c) {
                (true, 'n') => (value.push('\n'), escaped = false).1,
                (true, c) => (value.push(c), escaped = false).1,
                (false, '\\') => escaped = true,
                (false, '"') => {
                    end = Some(eq + 1 + i + 1);
                    break;
                }
                (false, c) => value.push(c),
            }
        }
        out.insert(key, value);
        rest = rest[end?..].trim_start_matches(',').trim();
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_labelled_counters_and_buckets_and_skips_the_rest() {
        let text = "# TYPE assay_request_success counter\n\
            assay_request_success_total{model=\"mlp\",version=\"1.0.0\"} 42\n\
            assay_request_duration_seconds_bucket{le=\"0.005\",model=\"mlp\",version=\"1.1.0\"} 7\n\
            assay_request_failure_total{model=\"m,\\\"x\\\"\",version=\"1\",reason=\"timeout\"} 3\n\
            assay_batch_size_sum{model=\"mlp\"} 9\n\
            garbage line\n\
            # EOF\n";
        let s = samples(text);
        assert_eq!(s.len(), 3);
        assert_eq!(s[0].value, 42.0);
        assert_eq!(s[0].labels["version"], "1.0.0");
        assert_eq!(s[1].labels["le"], "0.005");
        assert_eq!(s[2].labels["model"], "m,\"x\"");
        assert_eq!(s[2].labels["reason"], "timeout");
    }
}
