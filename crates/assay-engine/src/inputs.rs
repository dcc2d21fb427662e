//! Input tensors for a run (a benchmark, an output comparison): shapes resolved from the
//! model plus dimension bindings, whole shapes and the batch, filled with seeded synthetic
//! data (in a range per input, or a constant) or read from `.npy`/`.npz` files.

use std::{
    collections::BTreeMap,
    io::Read,
    path::{Path, PathBuf},
};

use rand::{Rng, SeedableRng, rngs::StdRng};

use crate::{
    dtype::ElementType,
    error::{EngineError, Result},
    tensor::{HostTensor, TensorData},
};

/// A value given for one input: a constant (a sample rate), or a range its synthetic
/// values are drawn from (pixels in 0..1).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fill {
    Constant(f64),
    /// Half-open `[low, high)`.
    Range(f64, f64),
}

/// How a run's inputs are made: what the user gave for the model's inputs.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct InputPlan {
    /// The symbolic dimension that is the batch (default: the first dynamic dimension).
    pub batch_dim: Option<String>,
    /// Values for dynamic dimensions (`NAME=VALUE`), by handle: the symbol, or
    /// `input.axis` for an unnamed one.
    pub dims: BTreeMap<String, i64>,
    /// Values used for this model before (from the run history), offered in errors only:
    /// a run never uses a shape nobody asked for.
    #[serde(skip)]
    pub remembered_dims: BTreeMap<String, i64>,
    /// Full shapes for inputs (`INPUT=1x3x224x224`).
    pub shapes: BTreeMap<String, Vec<i64>>,
    /// Real data: input name → `.npy`, or `*` → an `.npz` holding arrays by input name.
    pub input_files: BTreeMap<String, PathBuf>,
    /// Constant fills (`NAME=VALUE`), e.g. a sample-rate input.
    pub fills: BTreeMap<String, f64>,
    /// Ranges of synthetic values (`NAME=LOW..HIGH`, half-open), by input.
    pub ranges: BTreeMap<String, (f64, f64)>,
    /// Seed of the synthetic input generator.
    pub seed: u64,
    /// Half-open range for synthetic integer inputs (token ids, indices) without a range.
    pub int_range: (i64, i64),
}

impl Default for InputPlan {
    fn default() -> Self {
        InputPlan {
            batch_dim: None,
            dims: BTreeMap::new(),
            remembered_dims: BTreeMap::new(),
            shapes: BTreeMap::new(),
            input_files: BTreeMap::new(),
            fills: BTreeMap::new(),
            ranges: BTreeMap::new(),
            seed: 0x5eed,
            int_range: (0, 10),
        }
    }
}

impl InputPlan {
    /// Checks the values that do not need the model.
    pub fn validate(&self) -> Result<()> {
        use crate::setting::Setting;
        if let Some((n, v)) = self.dims.iter().find(|(_, v)| **v < 0) {
            return Err(EngineError::invalid(
                Setting::Dim,
                format!("{n}={v}: a dimension cannot be negative"),
            ));
        }
        if self.int_range.0 >= self.int_range.1 {
            return Err(EngineError::invalid(
                Setting::IntRange,
                format!("{}..{} is empty", self.int_range.0, self.int_range.1),
            ));
        }
        if let Some((n, (lo, hi))) = self
            .ranges
            .iter()
            .find(|(_, (lo, hi))| !(lo.is_finite() && hi.is_finite() && lo < hi))
        {
            return Err(EngineError::invalid(
                Setting::Fill,
                format!("{n}={lo}..{hi}: a range needs finite ends, low below high"),
            ));
        }
        if let Some(n) = self.ranges.keys().find(|n| self.fills.contains_key(*n)) {
            return Err(EngineError::invalid(
                Setting::Fill,
                format!("input '{n}' has both a constant and a range"),
            ));
        }
        Ok(())
    }
}

/// A model input as ONNX Runtime reports it: `None` dims are dynamic, with their symbol.
#[derive(Debug, Clone)]
pub(crate) struct InputSpec {
    pub name: String,
    pub ty: ElementType,
    /// `(Some(size), _)` fixed, `(None, symbol)` dynamic; the symbol may be empty.
    pub dims: Vec<(Option<i64>, String)>,
}

impl InputSpec {
    pub fn from_outlets(outlets: &[ort::value::Outlet]) -> Result<Vec<InputSpec>> {
        outlets
            .iter()
            .map(|o| match o.dtype() {
                ort::value::ValueType::Tensor {
                    ty,
                    shape,
                    dimension_symbols,
                } => Ok(InputSpec {
                    name: o.name().to_string(),
                    ty: ElementType::from_ort(*ty),
                    dims: shape
                        .iter()
                        .zip(dimension_symbols.iter())
                        .map(|(&d, s)| {
                            // A placeholder name counts as unnamed. The dimension is then
                            // bound as `input.axis`.
                            let s = if crate::model::is_placeholder_symbol(s) {
                                String::new()
                            } else {
                                s.clone()
                            };
                            (if d >= 0 { Some(d) } else { None }, s)
                        })
                        .collect(),
                }),
                other => Err(EngineError::Unsupported(format!(
                    "input '{}' is a {other:?}; only tensor inputs can be benchmarked",
                    o.name()
                ))),
            })
            .collect()
    }

    /// The input as `inspect` describes it, for [`crate::model::free_dims`].
    pub fn signature(&self) -> crate::model::TensorSignature {
        use crate::model::Dim;
        crate::model::TensorSignature {
            name: self.name.clone(),
            element_type: self.ty.name().into_owned(),
            shape: Some(
                self.dims
                    .iter()
                    .map(|(v, s)| match (v, s.is_empty()) {
                        (Some(v), _) => Dim::Fixed(*v),
                        (None, false) => Dim::Symbolic(s.clone()),
                        (None, true) => Dim::Unknown,
                    })
                    .collect(),
            ),
        }
    }

    pub(crate) fn shape_text(&self) -> String {
        let d: Vec<String> = self
            .dims
            .iter()
            .map(|(v, s)| match v {
                Some(v) => v.to_string(),
                None if s.is_empty() => "?".into(),
                None => s.clone(),
            })
            .collect();
        format!("[{}]", d.join(", "))
    }
}

/// The batch dimension: which symbol it is, or "dim 0 of each input" when it has no name.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum BatchDim {
    Symbol(String),
    Leading,
    None,
}

/// Picks the batch dimension: the one named by the plan, or the leading axis of the first input whose
/// leading axis is dynamic (the same rule as [`crate::model::free_dims`]).
pub(crate) fn batch_dim(specs: &[InputSpec], plan: &InputPlan) -> Result<BatchDim> {
    if let Some(name) = &plan.batch_dim {
        check_dimension(specs, name)?;
        return Ok(BatchDim::Symbol(name.clone()));
    }
    for s in specs {
        if plan.shapes.contains_key(&s.name) {
            continue;
        }
        if let Some((None, sym)) = s.dims.first() {
            return Ok(if sym.is_empty() {
                BatchDim::Leading
            } else {
                BatchDim::Symbol(sym.clone())
            });
        }
    }
    Ok(BatchDim::None)
}

/// Refuses a batch size other than 1 when no input batches: the model has no dynamic leading
/// axis, or every input that has one was given its whole shape (`--shape`), batch included.
/// Batch 1 is what such a model runs anyway (forms send it).
pub(crate) fn check_batch(
    specs: &[InputSpec],
    plan: &InputPlan,
    batch: Option<i64>,
    batch_dim: &BatchDim,
) -> Result<()> {
    let Some(b) = batch.filter(|&b| b != 1) else {
        return Ok(());
    };
    if *batch_dim != BatchDim::None {
        return Ok(());
    }
    let shaped: Vec<String> = specs
        .iter()
        .filter(|s| matches!(s.dims.first(), Some((None, _))))
        .filter_map(|s| {
            let shape = plan.shapes.get(&s.name)?;
            let dims: Vec<String> = shape.iter().map(i64::to_string).collect();
            Some(format!("{}={}", s.name, dims.join("x")))
        })
        .collect();
    let why = if shaped.is_empty() {
        "the model has no batch dimension (no input has a dynamic leading axis); give its other dynamic dimensions a value instead".to_string()
    } else {
        format!(
            "batch {b} conflicts with --shape {}, which sets the whole shape, batch included; give the batch in the shape, or bind the other dimensions with --dim",
            shaped.join(", --shape ")
        )
    };
    Err(EngineError::invalid(crate::setting::Setting::Batch, why))
}

/// The batch a row reports: the bound batch dimension; when no input batches, the leading
/// dimension of the first input: a fixed-shape model's, or one given whole with `--shape`
/// (`bytes=4x2048` is 4 rows a call, and rows per second count them).
pub(crate) fn effective_batch(prepared: &[PreparedInput], batch_dim: &BatchDim, bound: i64) -> i64 {
    match batch_dim {
        BatchDim::None => prepared
            .first()
            .and_then(|p| p.tensor.shape.first().copied())
            .unwrap_or(1)
            .max(1),
        _ => bound,
    }
}

/// The handle of axis `k` of `spec` when it is dynamic: its symbol, or `input.axis`.
fn handle(spec: &InputSpec, k: usize, sym: &str) -> String {
    crate::model::axis_handle(&spec.name, k, sym)
}

/// A dimension binding's or batch dimension's name must be the handle of a dynamic dimension: a symbol, or
/// `input.axis` for an unnamed one.
fn check_dimension(specs: &[InputSpec], name: &str) -> Result<()> {
    if known_handles(specs).iter().any(|h| h == name) {
        return Ok(());
    }
    let known = known_handles(specs);
    Err(EngineError::UnknownName {
        what: "dimension",
        name: name.to_string(),
        known: if known.is_empty() {
            "no dynamic dimensions".into()
        } else {
            known.join(", ")
        },
    })
}

fn known_handles(specs: &[InputSpec]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in specs {
        for (k, (fixed, sym)) in s.dims.iter().enumerate() {
            let h = handle(s, k, sym);
            if fixed.is_none() && !out.contains(&h) {
                out.push(h);
            }
        }
    }
    out
}

/// Checks that every name in the dimension bindings, shapes, input files and fills exists in the model.
pub(crate) fn check_names(specs: &[InputSpec], plan: &InputPlan) -> Result<()> {
    let inputs = || {
        specs
            .iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    for name in plan
        .shapes
        .keys()
        .chain(plan.input_files.keys().filter(|k| *k != "*"))
        .chain(plan.fills.keys())
        .chain(plan.ranges.keys())
    {
        if !specs.iter().any(|s| &s.name == name) {
            return Err(EngineError::UnknownName {
                what: "input",
                name: name.clone(),
                known: inputs(),
            });
        }
    }
    for name in plan.dims.keys() {
        check_dimension(specs, name)?;
    }
    Ok(())
}

/// One resolved input: its spec and its tensor.
#[derive(Debug, Clone)]
pub(crate) struct PreparedInput {
    pub spec: InputSpec,
    pub tensor: HostTensor,
}

impl PreparedInput {
    /// Builds the ONNX Runtime value.
    pub fn to_value(&self) -> Result<ort::value::DynValue> {
        self.tensor.to_value(&format!("input '{}'", self.spec.name))
    }
}

/// Resolves shapes for a batch size and produces every input's data. Without a batch size,
/// a batch given by an input file binds the other inputs too; otherwise it is 1. Returns the
/// inputs and the batch size used.
pub(crate) fn prepare(
    specs: &[InputSpec],
    model: &Path,
    plan: &InputPlan,
    batch: Option<i64>,
    batch_dim: &BatchDim,
) -> Result<(Vec<PreparedInput>, i64)> {
    let npz = plan
        .input_files
        .get("*")
        .map(|p| read_npz(p).map(|a| (p.clone(), a)))
        .transpose()?;
    let mut files = Vec::with_capacity(specs.len());
    for spec in specs {
        files.push(match plan.input_files.get(&spec.name) {
            Some(path) => Some((path.clone(), read_npy_file(path)?)),
            None => npz.as_ref().and_then(|(path, arrays)| {
                arrays.get(&spec.name).map(|a| (path.clone(), a.clone()))
            }),
        });
    }
    let from_files = || {
        specs.iter().zip(&files).find_map(|(spec, f)| {
            let (_, a) = f.as_ref()?;
            let k =
                spec.dims.iter().enumerate().position(|(k, (fixed, sym))| {
                    fixed.is_none() && is_batch_dim(batch_dim, k, sym)
                })?;
            a.shape.get(k).copied()
        })
    };
    let batch = batch.or_else(from_files).unwrap_or(1);
    let mut out = Vec::with_capacity(specs.len());
    for (i, (spec, file)) in specs.iter().zip(files).enumerate() {
        if let Some((path, array)) = file {
            out.push(from_array(spec, &path, array, Some(batch), batch_dim)?);
            continue;
        }
        let shape = resolve_shape(specs, model, spec, plan, Some(batch), batch_dim)?;
        let elements: u64 = shape.iter().map(|&d| d as u64).product();
        let seed = plan.seed ^ (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let data = match plan.fills.get(&spec.name) {
            Some(&v) => fill(spec, elements, v)?,
            None => {
                let range = match plan.ranges.get(&spec.name) {
                    Some(&r) => Range::Given(r),
                    None => Range::Default(plan.int_range),
                };
                synthetic(spec, elements, seed, range)?
            }
        };
        out.push(PreparedInput {
            spec: spec.clone(),
            tensor: HostTensor {
                ty: spec.ty,
                shape,
                data,
            },
        });
    }
    Ok((out, batch))
}

/// An input as a server describes it in its Open Inference Protocol metadata: a dimension
/// of `-1` is dynamic (and has no symbol, so it is bound as `input.axis`).
#[derive(Debug, Clone, PartialEq)]
pub struct ServedInput {
    pub name: String,
    pub ty: ElementType,
    pub shape: Vec<i64>,
}

/// The inputs of a served model (`assay load`), made by the rules of a local run: synthetic
/// data or `.npy`/`.npz` files, dynamic dimensions bound by the plan, the batch given or
/// taken from the files (else 1). `what` names the model in errors (its URL). Returns the
/// tensors in the server's input order, and the batch a request carries (as `assay bench`
/// reports it: [`effective_batch`]).
pub fn prepare_served(
    inputs: &[ServedInput],
    what: &Path,
    plan: &InputPlan,
    batch: Option<i64>,
) -> Result<(Vec<HostTensor>, i64)> {
    let specs: Vec<InputSpec> = inputs
        .iter()
        .map(|i| InputSpec {
            name: i.name.clone(),
            ty: i.ty,
            dims: i
                .shape
                .iter()
                .map(|&d| ((d >= 0).then_some(d), String::new()))
                .collect(),
        })
        .collect();
    plan.validate()?;
    check_names(&specs, plan)?;
    let batch_dim = batch_dim(&specs, plan)?;
    check_batch(&specs, plan, batch, &batch_dim)?;
    let (prepared, bound) = prepare(&specs, what, plan, batch, &batch_dim)?;
    let batch = effective_batch(&prepared, &batch_dim, bound);
    Ok((prepared.into_iter().map(|p| p.tensor).collect(), batch))
}

fn is_batch_dim(batch_dim: &BatchDim, k: usize, sym: &str) -> bool {
    match batch_dim {
        BatchDim::Symbol(b) => b == sym,
        BatchDim::Leading => k == 0,
        BatchDim::None => false,
    }
}

fn resolve_shape(
    specs: &[InputSpec],
    model: &Path,
    spec: &InputSpec,
    plan: &InputPlan,
    batch: Option<i64>,
    batch_dim: &BatchDim,
) -> Result<Vec<i64>> {
    if let Some(shape) = plan.shapes.get(&spec.name) {
        if shape.len() != spec.dims.len() {
            return Err(EngineError::invalid(
                crate::setting::Setting::Shape,
                format!(
                    "{}={:?} has rank {} but the model's input is {} (rank {})",
                    spec.name,
                    shape,
                    shape.len(),
                    spec.shape_text(),
                    spec.dims.len()
                ),
            ));
        }
        for (k, ((fixed, _), &got)) in spec.dims.iter().zip(shape).enumerate() {
            if let Some(f) = fixed
                && *f != got
            {
                return Err(EngineError::invalid(
                    crate::setting::Setting::Shape,
                    format!(
                        "{}: dimension {k} is fixed at {f} in the model ({}), got {got}",
                        spec.name,
                        spec.shape_text()
                    ),
                ));
            }
        }
        return Ok(shape.clone());
    }
    spec.dims
        .iter()
        .enumerate()
        .map(|(k, (fixed, sym))| {
            if let Some(v) = fixed {
                return Ok(*v);
            }
            if is_batch_dim(batch_dim, k, sym)
                && let Some(b) = batch
            {
                return Ok(b);
            }
            if let Some(v) = plan.dims.get(&handle(spec, k, sym)) {
                return Ok(*v);
            }
            Err(unbound(specs, model, plan))
        })
        .collect()
}

/// The error for a dynamic dimension with no value. It names every unbound one at once,
/// with the values Assay suggests (from the model's metadata, the last run or defaults), as
/// flags to copy.
fn unbound(specs: &[InputSpec], model: &Path, plan: &InputPlan) -> EngineError {
    let signatures: Vec<crate::model::TensorSignature> =
        specs.iter().map(InputSpec::signature).collect();
    let metadata = crate::model::read_metadata(model).unwrap_or_default();
    let free = crate::model::free_dims(&signatures, &metadata, &plan.dims, &plan.remembered_dims);
    let missing: Vec<&crate::model::FreeDim> = free
        .iter()
        .filter(|d| !d.batch && !plan.dims.contains_key(&d.handle))
        .filter(|d| !d.uses.iter().all(|u| plan.shapes.contains_key(&u.input)))
        .collect();
    EngineError::UnboundDimension {
        dims: missing
            .iter()
            .map(|d| {
                let inputs: Vec<&str> = d.uses.iter().map(|u| u.input.as_str()).collect();
                format!("{} (input {})", d.handle, inputs.join(", "))
            })
            .collect::<Vec<_>>()
            .join(", "),
        suggested: missing
            .iter()
            .map(|d| (d.handle.clone(), d.value))
            .collect(),
        sources: missing
            .iter()
            .map(|d| format!("{}: {}", d.handle, d.reason))
            .collect::<Vec<_>>()
            .join("; "),
    }
}

fn from_array(
    spec: &InputSpec,
    path: &Path,
    a: HostTensor,
    batch: Option<i64>,
    batch_dim: &BatchDim,
) -> Result<PreparedInput> {
    let mismatch = |message: String| EngineError::InputMismatch {
        input: spec.name.clone(),
        file: path.to_path_buf(),
        message,
    };
    let want = spec.ty.numpy_descr().ok_or_else(|| {
        mismatch(format!(
            "inputs of type {} cannot be read from .npy files",
            spec.ty
        ))
    })?;
    if a.ty != spec.ty {
        return Err(mismatch(format!(
            "the array has dtype '{}' but the model expects {} ('{want}')",
            a.ty.numpy_descr().unwrap_or("?"),
            spec.ty
        )));
    }
    if a.shape.len() != spec.dims.len() {
        return Err(mismatch(format!(
            "the array has shape {:?} (rank {}) but the model expects {} (rank {})",
            a.shape,
            a.shape.len(),
            spec.shape_text(),
            spec.dims.len()
        )));
    }
    for (k, ((fixed, sym), &got)) in spec.dims.iter().zip(&a.shape).enumerate() {
        if let Some(f) = fixed
            && *f != got
        {
            return Err(mismatch(format!(
                "dimension {k} is {got} but the model fixes it at {f} (expects {})",
                spec.shape_text()
            )));
        }
        if let (true, Some(b), None) = (is_batch_dim(batch_dim, k, sym), batch, fixed)
            && b != got
        {
            return Err(mismatch(format!(
                "the array's batch dimension is {got} but the batch size asked for is {b}"
            )));
        }
    }
    Ok(PreparedInput {
        spec: spec.clone(),
        tensor: a,
    })
}

fn read_npy_file(path: &Path) -> Result<HostTensor> {
    if path.extension().is_some_and(|e| e == "npz") {
        return Err(EngineError::invalid(
            crate::setting::Setting::Input,
            format!(
                "{} is an .npz archive: give it alone, for all inputs (not as one input's file)",
                path.display()
            ),
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => EngineError::NotFound {
            path: path.to_path_buf(),
        },
        _ => EngineError::io(path, e),
    })?;
    HostTensor::from_npy(&bytes).map_err(|message| EngineError::TensorFile {
        path: path.to_path_buf(),
        message,
    })
}

/// Every array of an `.npz` archive, by name.
pub(crate) fn read_npz(path: &Path) -> Result<BTreeMap<String, HostTensor>> {
    let file = std::fs::File::open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => EngineError::NotFound {
            path: path.to_path_buf(),
        },
        _ => EngineError::io(path, e),
    })?;
    let bad = |message: String| EngineError::TensorFile {
        path: path.to_path_buf(),
        message,
    };
    let mut zip =
        zip::ZipArchive::new(file).map_err(|e| bad(format!("not an .npz (zip) archive: {e}")))?;
    let mut arrays = BTreeMap::new();
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).map_err(|e| bad(e.to_string()))?;
        let Some(name) = entry.name().strip_suffix(".npy").map(str::to_string) else {
            continue;
        };
        let mut bytes = Vec::with_capacity(entry.size() as usize);
        entry
            .read_to_end(&mut bytes)
            .map_err(|e| bad(format!("{name}: {e}")))?;
        arrays.insert(
            name.clone(),
            HostTensor::from_npy(&bytes).map_err(|m| bad(format!("{name}: {m}")))?,
        );
    }
    if arrays.is_empty() {
        return Err(bad("the archive holds no .npy arrays".into()));
    }
    Ok(arrays)
}

fn fill(spec: &InputSpec, elements: u64, v: f64) -> Result<TensorData> {
    if spec.ty == ElementType::String {
        return Ok(TensorData::Strings(vec![format!("{v}"); elements as usize]));
    }
    spec.ty
        .filled(elements as usize, v)
        .map(TensorData::Bytes)
        .ok_or_else(|| {
            EngineError::invalid(
                crate::setting::Setting::Fill,
                format!(
                    "input '{}' has type {}, which a constant fill does not support",
                    spec.name, spec.ty
                ),
            )
        })
}

/// Seeded synthetic data: floats uniform in [-1, 1), integers uniform in `int_range`,
/// booleans fair coin flips, strings short tokens. Other types get random bytes.
/// The range synthetic values of one input are drawn from.
#[derive(Debug, Clone, Copy)]
enum Range {
    /// None given: floats in [-1, 1), integers in the plan's integer range.
    Default((i64, i64)),
    /// `NAME=LOW..HIGH`: every type in [LOW, HIGH) (integers: the whole numbers in it).
    Given((f64, f64)),
}

fn synthetic(spec: &InputSpec, elements: u64, seed: u64, range: Range) -> Result<TensorData> {
    let mut r = StdRng::seed_from_u64(seed);
    let n = elements as usize;
    let (lo, hi) = match range {
        Range::Default(ints) => ints,
        Range::Given((lo, hi)) => (
            lo.ceil() as i64,
            (hi.ceil() as i64).max(lo.ceil() as i64 + 1),
        ),
    };
    let (flo, fhi) = match range {
        Range::Default(_) => (-1.0f64, 1.0f64),
        Range::Given(r) => r,
    };
    let mut int = || r.random_range(lo..hi);
    let bytes: Vec<u8> = match spec.ty {
        ElementType::Int64 => (0..n).flat_map(|_| int().to_le_bytes()).collect(),
        ElementType::Int32 => (0..n).flat_map(|_| (int() as i32).to_le_bytes()).collect(),
        ElementType::Int16 => (0..n).flat_map(|_| (int() as i16).to_le_bytes()).collect(),
        ElementType::Int8 => (0..n).map(|_| int() as i8 as u8).collect(),
        ElementType::Uint64 => (0..n)
            .flat_map(|_| (int().max(0) as u64).to_le_bytes())
            .collect(),
        ElementType::Uint32 => (0..n)
            .flat_map(|_| (int().max(0) as u32).to_le_bytes())
            .collect(),
        ElementType::Uint16 => (0..n)
            .flat_map(|_| (int().max(0) as u16).to_le_bytes())
            .collect(),
        ElementType::Uint8 => (0..n).map(|_| int().max(0) as u8).collect(),
        ElementType::String => {
            return Ok(TensorData::Strings(
                (0..n)
                    .map(|i| format!("tok{}", (i as u64 ^ seed) % 97))
                    .collect(),
            ));
        }
        _ => {
            let mut r = StdRng::seed_from_u64(seed);
            // Drawn as f32 whatever the type, so a seed gives the same values in every width.
            let mut f = || r.random_range(flo as f32..fhi as f32);
            match spec.ty {
                ElementType::Float => (0..n).flat_map(|_| f().to_le_bytes()).collect(),
                ElementType::Double => (0..n).flat_map(|_| (f() as f64).to_le_bytes()).collect(),
                ElementType::Float16 => (0..n)
                    .flat_map(|_| half::f16::from_f32(f()).to_le_bytes())
                    .collect(),
                ElementType::Bfloat16 => (0..n)
                    .flat_map(|_| half::bf16::from_f32(f()).to_le_bytes())
                    .collect(),
                ElementType::Bool => (0..n).map(|_| (f() > 0.0) as u8).collect(),
                other => {
                    let len = other.byte_size(elements).ok_or_else(|| {
                        EngineError::Unsupported(format!(
                            "input '{}' has type {other}, which Assay cannot synthesize",
                            spec.name
                        ))
                    })?;
                    let mut v = vec![0u8; len as usize];
                    r.fill(v.as_mut_slice());
                    v
                }
            }
        }
    };
    Ok(TensorData::Bytes(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str, ty: ElementType, dims: &[(Option<i64>, &str)]) -> InputSpec {
        InputSpec {
            name: name.into(),
            ty,
            dims: dims.iter().map(|(v, s)| (*v, s.to_string())).collect(),
        }
    }

    #[test]
    fn batch_binds_the_first_dynamic_dimension() {
        let specs = vec![spec("x", ElementType::Float, &[(None, "N"), (Some(4), "")])];
        let plan = InputPlan::default();
        let bd = batch_dim(&specs, &plan).unwrap();
        assert_eq!(bd, BatchDim::Symbol("N".into()));
        assert_eq!(
            resolve_shape(&specs, Path::new("m"), &specs[0], &plan, Some(8), &bd).unwrap(),
            vec![8, 4]
        );
    }

    #[test]
    fn unbound_dimension_is_named() {
        let specs = vec![spec(
            "tokens",
            ElementType::Int64,
            &[(None, "batch"), (None, "seq")],
        )];
        let plan = InputPlan::default();
        let bd = batch_dim(&specs, &plan).unwrap();
        let e = resolve_shape(&specs, Path::new("m"), &specs[0], &plan, Some(1), &bd).unwrap_err();
        let text = e.to_string();
        assert!(text.contains("seq (input tokens)"), "{text}");
        assert!(text.contains("seq=128"), "{text}");
        // An unnamed axis is bound by its `input.axis` handle.
        let specs = vec![spec("x", ElementType::Float, &[(None, ""), (None, "")])];
        let mut plan = InputPlan::default();
        let bd = batch_dim(&specs, &plan).unwrap();
        assert_eq!(bd, BatchDim::Leading);
        let e = resolve_shape(&specs, Path::new("m"), &specs[0], &plan, Some(2), &bd).unwrap_err();
        assert!(e.to_string().contains("x.1=1"), "{e}");
        plan.dims.insert("x.1".into(), 48);
        check_names(&specs, &plan).unwrap();
        assert_eq!(
            resolve_shape(&specs, Path::new("m"), &specs[0], &plan, Some(2), &bd).unwrap(),
            vec![2, 48]
        );
    }

    /// A served model's batch is what a request carries, however it is given: `--batch`, or a
    /// whole shape (magika's `bytes: [-1, 2048]` as `bytes=4x2048` is 4 rows, not 1); both at
    /// once, disagreeing or not, is refused rather than one silently winning.
    #[test]
    fn served_batch_is_what_a_request_carries() {
        let served = [ServedInput {
            name: "bytes".into(),
            ty: ElementType::Int32,
            shape: vec![-1, 2048],
        }];
        let model = Path::new("http://h/v2/models/magika");
        let (t, batch) = prepare_served(&served, model, &InputPlan::default(), None).unwrap();
        assert_eq!((t[0].shape.clone(), batch), (vec![1, 2048], 1));
        let (t, batch) = prepare_served(&served, model, &InputPlan::default(), Some(3)).unwrap();
        assert_eq!((t[0].shape.clone(), batch), (vec![3, 2048], 3));
        let mut plan = InputPlan::default();
        plan.shapes.insert("bytes".into(), vec![4, 2048]);
        let (t, batch) = prepare_served(&served, model, &plan, None).unwrap();
        assert_eq!((t[0].shape.clone(), batch), (vec![4, 2048], 4));
        let e = prepare_served(&served, model, &plan, Some(2)).unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("batch 2 conflicts with --shape bytes=4x2048"),
            "{text}"
        );
        assert_eq!(e.kind(), crate::ErrorKind::Usage, "{text}");
        // A model with no batch dimension at all keeps its own sentence.
        let fixed = [ServedInput {
            name: "x".into(),
            ty: ElementType::Float,
            shape: vec![1, 8],
        }];
        let e = prepare_served(&fixed, model, &InputPlan::default(), Some(2)).unwrap_err();
        assert!(e.to_string().contains("no batch dimension"), "{e}");
    }

    #[test]
    fn synthetic_data_is_seeded_and_in_range() {
        let s = spec("ids", ElementType::Int64, &[(Some(100), "")]);
        let a = synthetic(&s, 100, 7, Range::Default((0, 5))).unwrap();
        let b = synthetic(&s, 100, 7, Range::Given((0.0, 5.0))).unwrap();
        let (TensorData::Bytes(a), TensorData::Bytes(b)) = (a, b) else {
            panic!()
        };
        assert_eq!(a, b);
        assert!(
            a.chunks(8)
                .all(|c| (0..5).contains(&i64::from_le_bytes(c.try_into().unwrap())))
        );
        let x = spec("x", ElementType::Float, &[(Some(1000), "")]);
        let TensorData::Bytes(f) = synthetic(&x, 1000, 7, Range::Given((2.0, 3.0))).unwrap() else {
            panic!()
        };
        let values: Vec<f32> = f
            .chunks(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
            .collect();
        assert!(values.iter().all(|v| (2.0..3.0).contains(v)));
        assert!(values.iter().any(|v| *v > 2.9) && values.iter().any(|v| *v < 2.1));
    }
}
