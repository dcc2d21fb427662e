//! Golden data: input sets and reference outputs saved to compare against later, in Assay's
//! `.npz` layout or as Polygraphy's JSON (`polygraphy run --save-inputs/--save-outputs`), so
//! golden data a team already has keeps working.
//!
//! Assay's `.npz`: one set is stored under the tensor names (what `assay bench --input`
//! reads); several sets as `SET/NAME` (`0/input`, `1/input`, ...), read back in set order.

use std::{
    collections::BTreeMap,
    io::Write,
    path::{Path, PathBuf},
};

use base64::Engine as _;
use serde::Deserialize;

use crate::{
    error::{EngineError, Result},
    tensor::HostTensor,
};

/// Tensors by name: one input set, or the outputs of one run.
pub type TensorSet = BTreeMap<String, HostTensor>;

fn bad(path: &Path, message: impl Into<String>) -> EngineError {
    EngineError::TensorFile {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

fn is_json(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
}

/// Reads saved input sets: Assay's `.npz`, or Polygraphy's JSON list of feed dicts.
pub fn load_inputs(path: &Path) -> Result<Vec<TensorSet>> {
    if is_json(path) {
        #[derive(Deserialize)]
        struct Feeds(Vec<BTreeMap<String, PolyArray>>);
        let Feeds(feeds) = read_json(path)?;
        if feeds.is_empty() {
            return Err(bad(path, "the file holds no input sets"));
        }
        return feeds
            .into_iter()
            .map(|feed| decode_feed(path, feed))
            .collect();
    }
    read_npz_sets(path)
}

/// Reads saved reference outputs: Assay's `.npz`, or Polygraphy's `RunResults` JSON (the
/// first runner's iterations, one set each).
pub fn load_outputs(path: &Path) -> Result<Vec<TensorSet>> {
    if is_json(path) {
        #[derive(Deserialize)]
        struct RunResults {
            lst: Vec<(String, Vec<Iteration>)>,
        }
        #[derive(Deserialize)]
        struct Iteration {
            outputs: BTreeMap<String, PolyArray>,
        }
        let results: RunResults = read_json(path)?;
        let Some((_, iterations)) = results.lst.into_iter().next() else {
            return Err(bad(path, "the file holds no runner's results"));
        };
        return iterations
            .into_iter()
            .map(|it| decode_feed(path, it.outputs))
            .collect();
    }
    read_npz_sets(path)
}

/// An array in Polygraphy's JSON: `{"array": base64 of np.save}`, possibly wrapped in a
/// `LazyArray` (`{"values": {...}}`).
#[derive(Deserialize)]
#[serde(untagged)]
enum PolyArray {
    Lazy { values: Box<PolyArray> },
    Array { array: String },
}

fn decode_feed(path: &Path, feed: BTreeMap<String, PolyArray>) -> Result<TensorSet> {
    feed.into_iter()
        .map(|(name, mut a)| {
            let b64 = loop {
                match a {
                    PolyArray::Lazy { values } => a = *values,
                    PolyArray::Array { array } => break array,
                }
            };
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .map_err(|e| bad(path, format!("{name}: the array is not base64: {e}")))?;
            let t = HostTensor::from_npy(&bytes).map_err(|m| bad(path, format!("{name}: {m}")))?;
            Ok((name, t))
        })
        .collect()
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T> {
    let bytes = std::fs::read(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => EngineError::NotFound {
            path: path.to_path_buf(),
        },
        _ => EngineError::io(path, e),
    })?;
    serde_json::from_slice(&bytes).map_err(|e| {
        bad(
            path,
            format!("not Polygraphy's saved inputs or outputs ({e}); Assay reads its JSON files and .npz"),
        )
    })
}

fn read_npz_sets(path: &Path) -> Result<Vec<TensorSet>> {
    let arrays = crate::inputs::read_npz(path)?;
    if !arrays.keys().any(|k| k.contains('/')) {
        return Ok(vec![arrays]);
    }
    let mut sets: BTreeMap<usize, TensorSet> = BTreeMap::new();
    for (key, t) in arrays {
        let (set, name) = key
            .split_once('/')
            .and_then(|(s, n)| Some((s.parse::<usize>().ok()?, n)))
            .ok_or_else(|| {
                bad(
                    path,
                    format!("array '{key}' is not named SET/NAME like the others (0/input)"),
                )
            })?;
        sets.entry(set).or_default().insert(name.to_string(), t);
    }
    let expected: Vec<usize> = (0..sets.len()).collect();
    if sets.keys().copied().collect::<Vec<_>>() != expected {
        return Err(bad(
            path,
            "the sets are not numbered 0, 1, 2, ... without gaps",
        ));
    }
    Ok(sets.into_values().collect())
}

/// Writes sets to an `.npz` as they come (stored, as `np.savez` does), so saving 200 sets
/// holds one in memory. The file appears only when [`NpzWriter::finish`] succeeds.
pub struct NpzWriter {
    zip: zip::ZipWriter<std::fs::File>,
    staged: tempfile::TempPath,
    path: PathBuf,
    single: bool,
    written: usize,
}

impl NpzWriter {
    /// `sets`: how many will be written (one set keeps plain names).
    pub fn create(path: &Path, sets: usize) -> Result<Self> {
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let file = tempfile::Builder::new()
            .prefix(".assay-npz-")
            .tempfile_in(dir)
            .map_err(|e| EngineError::io(dir, e))?;
        let (file, staged) = file.into_parts();
        Ok(NpzWriter {
            zip: zip::ZipWriter::new(file),
            staged,
            path: path.to_path_buf(),
            single: sets == 1,
            written: 0,
        })
    }

    /// Appends the next set. Tensors NumPy has no dtype for (strings) are skipped and named
    /// in the returned list.
    pub fn add(&mut self, set: &TensorSet) -> Result<Vec<String>> {
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored)
            .large_file(true);
        let mut skipped = Vec::new();
        for (name, t) in set {
            let Some(npy) = t.to_npy() else {
                skipped.push(name.clone());
                continue;
            };
            let key = if self.single {
                format!("{name}.npy")
            } else {
                format!("{}/{name}.npy", self.written)
            };
            let io = |e: std::io::Error| EngineError::io(&self.path, e);
            self.zip
                .start_file(key, options)
                .map_err(|e| bad(&self.path, e.to_string()))?;
            self.zip.write_all(&npy).map_err(io)?;
        }
        self.written += 1;
        Ok(skipped)
    }

    /// Finishes the archive and moves it into place.
    pub fn finish(self) -> Result<PathBuf> {
        let file = self
            .zip
            .finish()
            .map_err(|e| bad(&self.path, e.to_string()))?;
        file.sync_all()
            .map_err(|e| EngineError::io(&self.path, e))?;
        self.staged
            .persist(&self.path)
            .map_err(|e| EngineError::io(&self.path, e.error))?;
        Ok(self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{dtype::ElementType, tensor::TensorData};

    fn tensor(v: f32) -> HostTensor {
        HostTensor {
            ty: ElementType::Float,
            shape: vec![1, 2],
            data: TensorData::Bytes([v, -v].iter().flat_map(|x| x.to_le_bytes()).collect()),
        }
    }

    #[test]
    fn sets_round_trip_through_npz() {
        let dir = tempfile::tempdir().unwrap();
        for n in [1usize, 3] {
            let path = dir.path().join(format!("sets{n}.npz"));
            let sets: Vec<TensorSet> = (0..n)
                .map(|i| TensorSet::from([("x".to_string(), tensor(i as f32))]))
                .collect();
            let mut w = NpzWriter::create(&path, n).unwrap();
            for s in &sets {
                assert!(w.add(s).unwrap().is_empty());
            }
            w.finish().unwrap();
            assert_eq!(load_inputs(&path).unwrap(), sets);
        }
    }

    #[test]
    fn polygraphy_json_reads_and_garbage_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let b64 = base64::engine::general_purpose::STANDARD.encode(tensor(2.0).to_npy().unwrap());
        let inputs = dir.path().join("in.json");
        std::fs::write(
            &inputs,
            format!(r#"[{{"x": {{"array": "{b64}", "polygraphy_class": "ndarray"}}}}]"#),
        )
        .unwrap();
        assert_eq!(load_inputs(&inputs).unwrap()[0]["x"], tensor(2.0));
        let outputs = dir.path().join("out.json");
        std::fs::write(
            &outputs,
            format!(
                r#"{{"lst": [["onnxrt-runner", [{{"outputs": {{"y": {{"values": {{"array": "{b64}"}}, "polygraphy_class": "LazyArray"}}}}, "runtime": 0.1}}]]], "polygraphy_class": "RunResults"}}"#
            ),
        )
        .unwrap();
        assert_eq!(load_outputs(&outputs).unwrap()[0]["y"], tensor(2.0));
        std::fs::write(&outputs, b"{\"lst\": 3}").unwrap();
        let e = load_outputs(&outputs).unwrap_err().to_string();
        assert!(e.contains("not Polygraphy's saved"), "{e}");
        let corrupt = dir.path().join("c.npz");
        std::fs::write(&corrupt, b"PK\x03\x04 not really").unwrap();
        assert!(load_inputs(&corrupt).is_err());
    }
}
