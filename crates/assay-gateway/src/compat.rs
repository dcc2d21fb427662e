//! Whether a candidate version still fits the clients of the stable one: its input and
//! output signature against the stable's, before it may take traffic (activate, canary).
//!
//! A break is anything an existing client would trip on: an input or output gone (removed
//! or renamed), a datatype changed, a fixed dimension changed, a rank changed, an input
//! dimension made fixed (callers sending other sizes would be refused), an output dimension
//! made dynamic (callers sized for the fixed one would misread it), and a new input (every
//! input the gateway lists is required). What old clients never see passes: new outputs,
//! input dimensions made dynamic, output dimensions made fixed.

use std::fmt;

use crate::model::IoSpec;

/// Which side of the signature a break is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Input,
    Output,
}

impl Side {
    fn as_str(self) -> &'static str {
        match self {
            Side::Input => "input",
            Side::Output => "output",
        }
    }
}

/// One way a candidate breaks the stable's clients; displayed as a sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Break {
    /// A name of the stable's that the candidate lacks; `maybe` is a new name of the same
    /// datatype and rank, which is probably what it was renamed to.
    Gone {
        side: Side,
        name: String,
        maybe: Option<String>,
    },
    Datatype {
        side: Side,
        name: String,
        from: &'static str,
        to: &'static str,
    },
    Rank {
        side: Side,
        name: String,
        from: Vec<i64>,
        to: Vec<i64>,
    },
    FixedChanged {
        side: Side,
        name: String,
        axis: usize,
        from: i64,
        to: i64,
    },
    MadeFixed {
        name: String,
        axis: usize,
        to: i64,
    },
    MadeDynamic {
        name: String,
        axis: usize,
        from: i64,
    },
    NewInput {
        name: String,
    },
}

impl fmt::Display for Break {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Break::Gone { side, name, maybe } => {
                let s = side.as_str();
                write!(f, "{s} '{name}' is gone")?;
                if let Some(m) = maybe {
                    write!(f, " (renamed to '{m}'?)")?;
                }
                match side {
                    Side::Input => write!(f, ", so clients that send it would be refused"),
                    Side::Output => write!(f, ", so clients that ask for it would be refused"),
                }
            }
            Break::Datatype {
                side,
                name,
                from,
                to,
            } => write!(
                f,
                "{} '{name}' changed datatype from {from} to {to}",
                side.as_str()
            ),
            Break::Rank {
                side,
                name,
                from,
                to,
            } => write!(
                f,
                "{} '{name}' changed rank from {} to {} (shape {from:?} to {to:?})",
                side.as_str(),
                from.len(),
                to.len()
            ),
            Break::FixedChanged {
                side,
                name,
                axis,
                from,
                to,
            } => write!(
                f,
                "{} '{name}' dimension {axis} changed from {from} to {to}",
                side.as_str()
            ),
            Break::MadeFixed { name, axis, to } => write!(
                f,
                "input '{name}' dimension {axis} was dynamic and is now fixed at {to}, so clients sending other sizes would be refused"
            ),
            Break::MadeDynamic { name, axis, from } => write!(
                f,
                "output '{name}' dimension {axis} was fixed at {from} and is now dynamic, so clients sized for {from} could misread it"
            ),
            Break::NewInput { name } => write!(
                f,
                "new required input '{name}', which clients of the stable release do not send"
            ),
        }
    }
}

/// A version's signature, as the protocol describes it.
#[derive(Clone, Copy)]
pub struct Signature<'a> {
    pub inputs: &'a [IoSpec],
    pub outputs: &'a [IoSpec],
}

/// Every break of `candidate` against `stable`, inputs first, in the stable's order.
pub fn check(stable: Signature<'_>, candidate: Signature<'_>) -> Vec<Break> {
    let mut breaks = Vec::new();
    side(Side::Input, stable.inputs, candidate.inputs, &mut breaks);
    side(Side::Output, stable.outputs, candidate.outputs, &mut breaks);
    breaks
}

/// The breaks joined into one sentence for a refusal.
pub fn describe(breaks: &[Break]) -> String {
    breaks
        .iter()
        .map(Break::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

fn side(side: Side, old: &[IoSpec], new: &[IoSpec], breaks: &mut Vec<Break>) {
    let find = |list: &'_ [IoSpec], name: &str| list.iter().position(|s| s.name == name);
    // New names that might be renames of vanished ones: same datatype and rank.
    let added: Vec<&IoSpec> = new
        .iter()
        .filter(|n| find(old, &n.name).is_none())
        .collect();
    for o in old {
        let Some(i) = find(new, &o.name) else {
            let maybe = added
                .iter()
                .find(|n| n.datatype == o.datatype && n.shape.len() == o.shape.len())
                .map(|n| n.name.clone());
            breaks.push(Break::Gone {
                side,
                name: o.name.clone(),
                maybe,
            });
            continue;
        };
        let n = &new[i];
        if n.datatype != o.datatype {
            breaks.push(Break::Datatype {
                side,
                name: o.name.clone(),
                from: o.datatype.name(),
                to: n.datatype.name(),
            });
        }
        if n.shape.len() != o.shape.len() {
            breaks.push(Break::Rank {
                side,
                name: o.name.clone(),
                from: o.shape.clone(),
                to: n.shape.clone(),
            });
            continue;
        }
        for (axis, (&was, &now)) in o.shape.iter().zip(&n.shape).enumerate() {
            let name = o.name.clone();
            match (was >= 0, now >= 0) {
                (true, true) if was != now => breaks.push(Break::FixedChanged {
                    side,
                    name,
                    axis,
                    from: was,
                    to: now,
                }),
                (false, true) if side == Side::Input => breaks.push(Break::MadeFixed {
                    name,
                    axis,
                    to: now,
                }),
                (true, false) if side == Side::Output => breaks.push(Break::MadeDynamic {
                    name,
                    axis,
                    from: was,
                }),
                _ => {}
            }
        }
    }
    if side == Side::Input {
        for n in added {
            breaks.push(Break::NewInput {
                name: n.name.clone(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::Datatype;

    fn io(name: &str, datatype: Datatype, shape: &[i64]) -> IoSpec {
        IoSpec {
            name: name.into(),
            datatype,
            shape: shape.to_vec(),
        }
    }

    fn sig<'a>(inputs: &'a [IoSpec], outputs: &'a [IoSpec]) -> Signature<'a> {
        Signature { inputs, outputs }
    }

    #[test]
    fn each_break_is_named_and_additions_pass() {
        let x = io("x", Datatype::Fp32, &[-1, 4]);
        let y = io("y", Datatype::Fp32, &[-1, 2]);
        let stable_in = [x.clone()];
        let stable_out = [y.clone()];
        let stable = sig(&stable_in, &stable_out);
        let same = check(stable, stable);
        assert!(same.is_empty(), "{same:?}");

        // Additive: a new output, an input dimension made dynamic, an output made fixed.
        let more_out = [y.clone(), io("score", Datatype::Fp32, &[-1])];
        let looser_in = [io("x", Datatype::Fp32, &[-1, -1])];
        assert!(check(stable, sig(&looser_in, &more_out)).is_empty());
        let fixed_out = [io("y", Datatype::Fp32, &[-1, 2])];
        assert!(check(stable, sig(&stable_in, &fixed_out)).is_empty());

        let renamed = [io("input", Datatype::Fp32, &[-1, 4])];
        let b = check(stable, sig(&renamed, &stable_out));
        assert_eq!(b.len(), 2, "{b:?}");
        assert_eq!(
            b[0].to_string(),
            "input 'x' is gone (renamed to 'input'?), so clients that send it would be refused"
        );
        assert_eq!(
            b[1].to_string(),
            "new required input 'input', which clients of the stable release do not send"
        );

        let fp16 = [io("x", Datatype::Fp16, &[-1, 4])];
        assert_eq!(
            describe(&check(stable, sig(&fp16, &stable_out))),
            "input 'x' changed datatype from FP32 to FP16"
        );
        let wider = [io("x", Datatype::Fp32, &[-1, 8])];
        assert_eq!(
            describe(&check(stable, sig(&wider, &stable_out))),
            "input 'x' dimension 1 changed from 4 to 8"
        );
        let fixed_batch = [io("x", Datatype::Fp32, &[1, 4])];
        assert_eq!(
            describe(&check(stable, sig(&fixed_batch, &stable_out))),
            "input 'x' dimension 0 was dynamic and is now fixed at 1, so clients sending other sizes would be refused"
        );
        let no_out: [IoSpec; 0] = [];
        assert_eq!(
            describe(&check(stable, sig(&stable_in, &no_out))),
            "output 'y' is gone, so clients that ask for it would be refused"
        );
        let rank = [io("x", Datatype::Fp32, &[-1, 4, 1])];
        assert_eq!(
            describe(&check(stable, sig(&rank, &stable_out))),
            "input 'x' changed rank from 2 to 3 (shape [-1, 4] to [-1, 4, 1])"
        );
        let dyn_out = [io("y", Datatype::Fp32, &[-1, -1])];
        assert_eq!(
            describe(&check(stable, sig(&stable_in, &dyn_out))),
            "output 'y' dimension 1 was fixed at 2 and is now dynamic, so clients sized for 2 could misread it"
        );
    }
}
