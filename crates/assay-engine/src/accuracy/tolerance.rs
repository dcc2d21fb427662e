//! Tolerances: how far a candidate's output may be from the reference's, per output.
//!
//! The elementwise rule is NumPy's `isclose` (`|a − b| ≤ atol + rtol·|b|`, `b` the
//! reference), so a count of elements outside tolerance is the count `~np.isclose` gives.
//! The other check statistics apply the same rule to one statistic of the errors:
//! `stat(|a − b|) ≤ atol + rtol·stat(|b|)` with `stat` the mean, median or max.

use std::{collections::BTreeMap, fmt, str::FromStr};

use serde::{Deserialize, Serialize};

/// Which statistic of the errors is checked against the tolerance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
#[serde(rename_all = "lowercase")]
pub enum CheckStat {
    /// Every element (NumPy's `allclose`).
    #[default]
    Elementwise,
    Mean,
    Median,
    Max,
}

impl FromStr for CheckStat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "elementwise" | "elemwise" => Ok(CheckStat::Elementwise),
            "mean" => Ok(CheckStat::Mean),
            "median" => Ok(CheckStat::Median),
            "max" => Ok(CheckStat::Max),
            other => Err(format!(
                "'{other}' is not a check statistic (elementwise, mean, median or max)"
            )),
        }
    }
}

impl fmt::Display for CheckStat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CheckStat::Elementwise => "elementwise",
            CheckStat::Mean => "mean",
            CheckStat::Median => "median",
            CheckStat::Max => "max",
        })
    }
}

/// One output's tolerance.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct Tolerance {
    pub atol: f64,
    pub rtol: f64,
    pub check: CheckStat,
}

impl Default for Tolerance {
    /// Polygraphy's defaults (1e-5 both), so a comparison judged by either tool agrees.
    fn default() -> Self {
        Tolerance {
            atol: 1e-5,
            rtol: 1e-5,
            check: CheckStat::Elementwise,
        }
    }
}

impl Tolerance {
    /// NumPy's `isclose` for one element pair (NaN is never close, as with
    /// `equal_nan=False`; equal infinities are).
    pub fn is_close(&self, candidate: f64, reference: f64) -> bool {
        if candidate == reference {
            return true;
        }
        (candidate - reference).abs() <= self.atol + self.rtol * reference.abs()
    }
}

/// The tolerance of every output: a default and per-output overrides.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct Tolerances {
    pub default: Tolerance,
    /// Overrides by output name; a field an override leaves out is the default's, whatever
    /// order the values were given in.
    pub outputs: BTreeMap<String, ToleranceOverride>,
}

/// The fields of one output's tolerance that differ from the default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct ToleranceOverride {
    pub atol: Option<f64>,
    pub rtol: Option<f64>,
    pub check: Option<CheckStat>,
}

/// Which part of a tolerance a value sets.
#[derive(Debug, Clone, Copy)]
pub enum ToleranceField {
    Atol,
    Rtol,
    Check,
}

impl Tolerances {
    /// The tolerance of output `name`.
    pub fn of(&self, name: &str) -> Tolerance {
        let d = self.default;
        match self.outputs.get(name) {
            Some(o) => Tolerance {
                atol: o.atol.unwrap_or(d.atol),
                rtol: o.rtol.unwrap_or(d.rtol),
                check: o.check.unwrap_or(d.check),
            },
            None => d,
        }
    }

    /// Applies one value in the form `VALUE` (every output) or `OUTPUT=VALUE` (one output).
    /// Outputs named this way are checked against the model later, by the caller.
    pub fn set(&mut self, field: ToleranceField, text: &str) -> Result<(), String> {
        let (output, value) = match text.rsplit_once('=') {
            Some((o, v)) if !o.trim().is_empty() => (Some(o.trim().to_string()), v.trim()),
            Some(_) => return Err(format!("'{text}': the output name before '=' is empty")),
            None => (None, text.trim()),
        };
        let number = || -> Result<f64, String> {
            let v: f64 = value
                .parse()
                .map_err(|_| format!("'{value}' is not a number"))?;
            if !v.is_finite() || v < 0.0 {
                return Err(format!("'{value}': a tolerance is a finite number ≥ 0"));
            }
            Ok(v)
        };
        match (output, field) {
            (None, ToleranceField::Atol) => self.default.atol = number()?,
            (None, ToleranceField::Rtol) => self.default.rtol = number()?,
            (None, ToleranceField::Check) => self.default.check = value.parse()?,
            (Some(o), ToleranceField::Atol) => {
                let v = number()?;
                self.outputs.entry(o).or_default().atol = Some(v);
            }
            (Some(o), ToleranceField::Rtol) => {
                let v = number()?;
                self.outputs.entry(o).or_default().rtol = Some(v);
            }
            (Some(o), ToleranceField::Check) => {
                let v = value.parse()?;
                self.outputs.entry(o).or_default().check = Some(v);
            }
        }
        Ok(())
    }

    /// Output names with an override that are not in `known`.
    pub fn unknown_outputs<'a>(&'a self, known: &[String]) -> Vec<&'a str> {
        self.outputs
            .keys()
            .filter(|k| !known.contains(k))
            .map(String::as_str)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn isclose_matches_numpy() {
        let t = Tolerance {
            atol: 1e-3,
            rtol: 1e-2,
            check: CheckStat::Elementwise,
        };
        // np.isclose(1.011, 1.0, rtol=1e-2, atol=1e-3) -> True; 1.0115 -> False
        assert!(t.is_close(1.011, 1.0));
        assert!(!t.is_close(1.0115, 1.0));
        // relative to the reference (second argument), not symmetric
        assert!(t.is_close(0.0, 0.0005));
        assert!(!t.is_close(f64::NAN, f64::NAN));
        assert!(t.is_close(f64::INFINITY, f64::INFINITY));
        assert!(!t.is_close(f64::INFINITY, 1.0));
    }

    #[test]
    fn values_parse_per_output_and_refuse_garbage() {
        let mut t = Tolerances::default();
        t.set(ToleranceField::Atol, "1e-3").unwrap();
        t.set(ToleranceField::Atol, "logits=0.5").unwrap();
        t.set(ToleranceField::Check, "logits=max").unwrap();
        // A default given after an override still reaches the fields it left out.
        t.set(ToleranceField::Rtol, "1e-4").unwrap();
        assert_eq!(t.of("other").atol, 1e-3);
        assert_eq!(t.of("logits").atol, 0.5);
        assert_eq!(t.of("logits").check, CheckStat::Max);
        assert_eq!(t.of("logits").rtol, 1e-4);
        for bad in ["abc", "x=", "=1e-3", "-1", "x=nan", "inf"] {
            assert!(t.set(ToleranceField::Atol, bad).is_err(), "{bad}");
        }
        assert!(t.set(ToleranceField::Check, "mode").is_err());
        assert_eq!(t.unknown_outputs(&["logits".into()]), Vec::<&str>::new());
        assert_eq!(t.unknown_outputs(&["probs".into()]), vec!["logits"]);
    }
}
