//! The free dimensions of a model's inputs: every symbolic (`dim_param`) or unnamed
//! dimension, each with a stable handle and a suggested value that says where it came from.
//!
//! One concept for every front end: `assay inspect` prints them, the console's Benchmark and
//! Profile forms show one field per handle, a release records the values it was measured at
//! (its serving shapes), and the gateway warms up with them. Values travel as
//! [`DimBindings`], keyed by handle, so `height=640` and `x.3=320` (an unnamed
//! dimension: input `x`, axis 3) mean the same thing everywhere.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::inspect::{Dim, TensorSignature};

/// Values for free dimensions, by handle.
pub type DimBindings = BTreeMap<String, i64>;

/// True when a `dim_param` is not a real name: an empty name, or a placeholder that some
/// converters write instead (paddle2onnx writes `?`). Such a dimension is bound per axis.
pub fn is_placeholder_symbol(s: &str) -> bool {
    matches!(s.trim(), "" | "?" | "-1")
}

/// The handle of an unnamed dimension: `input.axis`.
pub fn unnamed_handle(input: &str, axis: usize) -> String {
    format!("{input}.{axis}")
}

/// The handle of dynamic axis `axis` of `input` whose `dim_param` is `symbol`: the symbol,
/// or `input.axis` when it is empty or a placeholder.
pub fn axis_handle(input: &str, axis: usize, symbol: &str) -> String {
    if is_placeholder_symbol(symbol) {
        unnamed_handle(input, axis)
    } else {
        symbol.to_string()
    }
}

/// Where a suggested value came from, strongest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, PartialOrd, Ord, ts_rs::TS)]
#[ts(export)]
#[serde(rename_all = "lowercase")]
pub enum DimSource {
    /// Given by the user (a flag, a form field, a release's serving shapes).
    User,
    /// The model's own metadata (an entry named like the dimension, or `imgsz`).
    Metadata,
    /// The value last used for this model (by digest) in the run history.
    Remembered,
    /// Assay's default for a dimension of that kind.
    Default,
}

impl DimSource {
    pub fn as_str(self) -> &'static str {
        match self {
            DimSource::User => "user",
            DimSource::Metadata => "metadata",
            DimSource::Remembered => "remembered",
            DimSource::Default => "default",
        }
    }
}

/// Where a free dimension appears.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct DimUse {
    pub input: String,
    pub axis: usize,
}

/// One free dimension and its suggested value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct FreeDim {
    /// The `dim_param`, or `input.axis` for an unnamed dimension.
    pub handle: String,
    /// Whether the model names it (a `dim_param`); unnamed ones are bound per input axis.
    pub named: bool,
    /// Every input axis it sizes (a named dimension may appear in several inputs).
    pub uses: Vec<DimUse>,
    /// The batch dimension: axis 0 of the first input whose leading axis is free.
    pub batch: bool,
    pub value: i64,
    pub source: DimSource,
    /// Why this value, in a few words (`metadata 'imgsz'`, `spatial axis`).
    pub reason: String,
}

/// Lists the free dimensions of `inputs` in input order, each with a value: the user's, else
/// the model metadata's, else the remembered one, else a default for its kind.
pub fn free_dims(
    inputs: &[TensorSignature],
    metadata: &BTreeMap<String, String>,
    user: &DimBindings,
    remembered: &DimBindings,
) -> Vec<FreeDim> {
    let mut out: Vec<FreeDim> = Vec::new();
    let mut batch_taken = false;
    for input in inputs {
        let Some(shape) = &input.shape else { continue };
        for (axis, d) in shape.iter().enumerate() {
            let (handle, named) = match d {
                Dim::Fixed(v) if *v >= 0 => continue,
                Dim::Symbolic(s) => (s.clone(), true),
                _ => (unnamed_handle(&input.name, axis), false),
            };
            let use_ = DimUse {
                input: input.name.clone(),
                axis,
            };
            if let Some(existing) = out.iter_mut().find(|f| f.handle == handle) {
                existing.uses.push(use_);
                continue;
            }
            let batch = axis == 0 && !batch_taken;
            batch_taken |= axis == 0;
            let kind = DimKind::guess(&handle, axis, shape.len(), batch);
            let (value, source, reason) = if let Some(&v) = user.get(&handle) {
                (v, DimSource::User, "given".to_string())
            } else if let Some((v, key)) = from_metadata(metadata, &handle, kind) {
                (v, DimSource::Metadata, format!("metadata '{key}'"))
            } else if let Some(&v) = remembered.get(&handle) {
                (v, DimSource::Remembered, "last run of this model".into())
            } else {
                (kind.default_value(), DimSource::Default, kind.describe())
            };
            out.push(FreeDim {
                handle,
                named,
                uses: vec![use_],
                batch,
                value,
                source,
                reason,
            });
        }
    }
    out
}

/// The bindings of `dims` (handle → value).
pub fn bindings(dims: &[FreeDim]) -> DimBindings {
    dims.iter().map(|d| (d.handle.clone(), d.value)).collect()
}

/// `height=640 width=640`, for messages and flags.
pub fn format_bindings(b: &DimBindings) -> String {
    b.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// What a free dimension most likely measures, from its name and position.
#[derive(Debug, Clone, Copy, PartialEq)]
enum DimKind {
    Batch,
    Height,
    Width,
    Spatial,
    Sequence,
    Other,
}

impl DimKind {
    fn guess(handle: &str, axis: usize, rank: usize, batch: bool) -> DimKind {
        let h = handle.to_ascii_lowercase();
        let word = |w: &str| {
            h == w
                || h.split(|c: char| !c.is_ascii_alphanumeric())
                    .any(|p| p == w)
        };
        if batch || word("batch") || word("n") || h.contains("batch") {
            return DimKind::Batch;
        }
        if h.contains("height") || word("h") {
            return DimKind::Height;
        }
        if h.contains("width") || word("w") {
            return DimKind::Width;
        }
        if ["seq", "len", "time", "token", "step", "frame", "sample"]
            .iter()
            .any(|w| h.contains(w))
        {
            return DimKind::Sequence;
        }
        if h.contains("size") || h.contains("img") || h.contains("image") {
            return DimKind::Spatial;
        }
        // An image-like input (N, C, H, W): the last two axes are spatial.
        if rank == 4 && axis == 2 {
            return DimKind::Height;
        }
        if rank == 4 && axis == 3 {
            return DimKind::Width;
        }
        DimKind::Other
    }

    fn default_value(self) -> i64 {
        match self {
            DimKind::Batch | DimKind::Other => 1,
            // A multiple of 32 and 64 strides stay whole; 1 breaks most detectors.
            DimKind::Height | DimKind::Width | DimKind::Spatial => 224,
            DimKind::Sequence => 128,
        }
    }

    fn describe(self) -> String {
        match self {
            DimKind::Batch => "batch",
            DimKind::Height | DimKind::Width | DimKind::Spatial => "spatial axis",
            DimKind::Sequence => "sequence axis",
            DimKind::Other => "free axis",
        }
        .into()
    }
}

/// A value from the model's metadata: an entry named like the dimension (`height: 640`), or
/// an image size (`imgsz: [640, 640]`, as Ultralytics exports write it) for a spatial axis.
fn from_metadata(
    metadata: &BTreeMap<String, String>,
    handle: &str,
    kind: DimKind,
) -> Option<(i64, String)> {
    let numbers = |s: &str| -> Vec<i64> {
        s.split(|c: char| !c.is_ascii_digit())
            .filter(|p| !p.is_empty())
            .filter_map(|p| p.parse().ok())
            .collect()
    };
    for (k, v) in metadata {
        if k.eq_ignore_ascii_case(handle)
            && let Ok(n) = v.trim().parse::<i64>()
            && n > 0
        {
            return Some((n, k.clone()));
        }
    }
    if kind == DimKind::Batch {
        return None;
    }
    for key in ["imgsz", "img_size", "image_size", "input_size"] {
        let Some((k, v)) = metadata.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)) else {
            continue;
        };
        let n = numbers(v);
        let pick = match (kind, n.as_slice()) {
            (_, [one]) => Some(*one),
            (DimKind::Height | DimKind::Spatial, [h, _, ..]) => Some(*h),
            (DimKind::Width, [_, w, ..]) => Some(*w),
            _ => None,
        };
        if let Some(v) = pick.filter(|&v| v > 0) {
            return Some((v, k.clone()));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_axis_is_named_by_its_symbol_unless_it_is_a_placeholder() {
        assert_eq!(axis_handle("images", 0, "batch"), "batch");
        assert_eq!(axis_handle("images", 2, "?"), "images.2");
        assert_eq!(axis_handle("images", 3, ""), "images.3");
        assert_eq!(axis_handle("images", 1, " -1 "), "images.1");
    }

    fn input(name: &str, dims: &[Dim]) -> TensorSignature {
        TensorSignature {
            name: name.into(),
            element_type: "float".into(),
            shape: Some(dims.to_vec()),
        }
    }

    fn sym(s: &str) -> Dim {
        Dim::Symbolic(s.into())
    }

    #[test]
    fn detector_dims_get_spatial_defaults_and_metadata() {
        let inputs = [input(
            "images",
            &[sym("batch"), Dim::Fixed(3), sym("height"), sym("width")],
        )];
        let none = DimBindings::new();
        let d = free_dims(&inputs, &BTreeMap::new(), &none, &none);
        let got: Vec<(&str, i64, bool)> = d
            .iter()
            .map(|f| (f.handle.as_str(), f.value, f.batch))
            .collect();
        assert_eq!(
            got,
            [
                ("batch", 1, true),
                ("height", 224, false),
                ("width", 224, false)
            ]
        );
        assert!(d.iter().all(|f| f.source == DimSource::Default));

        let meta = BTreeMap::from([("imgsz".to_string(), "[640, 480]".to_string())]);
        let d = free_dims(&inputs, &meta, &none, &none);
        assert_eq!((d[1].value, d[1].source), (640, DimSource::Metadata));
        assert_eq!(d[2].value, 480);
        assert_eq!(d[0].value, 1, "imgsz never sizes the batch");

        // The user beats metadata, metadata beats memory.
        let user = DimBindings::from([("height".to_string(), 320)]);
        let mem = DimBindings::from([("width".to_string(), 96), ("height".to_string(), 99)]);
        let d = free_dims(&inputs, &meta, &user, &mem);
        assert_eq!((d[1].value, d[1].source), (320, DimSource::User));
        assert_eq!((d[2].value, d[2].source), (480, DimSource::Metadata));
        let d = free_dims(&inputs, &BTreeMap::new(), &none, &mem);
        assert_eq!((d[2].value, d[2].source), (96, DimSource::Remembered));
    }

    #[test]
    fn unnamed_and_shared_dims() {
        let inputs = [
            input(
                "x",
                &[Dim::Unknown, Dim::Fixed(3), Dim::Fixed(48), Dim::Unknown],
            ),
            input("mask", &[sym("p2o.DynamicDimension.1"), sym("seq_len")]),
            input("ids", &[sym("p2o.DynamicDimension.1"), Dim::Fixed(-1)]),
        ];
        let none = DimBindings::new();
        let d = free_dims(&inputs, &BTreeMap::new(), &none, &none);
        let handles: Vec<&str> = d.iter().map(|f| f.handle.as_str()).collect();
        assert_eq!(
            handles,
            ["x.0", "x.3", "p2o.DynamicDimension.1", "seq_len", "ids.1"]
        );
        assert!(d[0].batch && !d[0].named);
        assert_eq!(d[1].value, 224, "the last axis of an NCHW input is a width");
        assert!(!d[2].batch, "only the first free leading axis is the batch");
        assert_eq!(d[2].uses.len(), 2);
        assert_eq!(d[3].value, 128);
        assert_eq!(format_bindings(&bindings(&d[..2])), "x.0=1 x.3=224");
    }
}
