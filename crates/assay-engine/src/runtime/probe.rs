//! Asking an ONNX Runtime library about itself.

use std::{
    ffi::{CStr, c_char},
    path::Path,
};

use crate::error::{EngineError, Result};

/// The version string of an ONNX Runtime library, read without handing it to `ort`.
///
/// The library is opened with `dlopen`, asked `OrtGetApiBase()->GetVersionString()`, and
/// closed again, so a wrong version can be refused before it is committed to the process.
pub fn library_version(path: &Path) -> Result<String> {
    let load_err = |message: String| EngineError::RuntimeLoad {
        path: path.to_path_buf(),
        message,
    };
    // SAFETY: loading runs the library's initializers; this is the library the user chose to
    // run models with, and loading it is the purpose of the call.
    let lib = unsafe { libloading::Library::new(path) }.map_err(|e| {
        let detail = std::error::Error::source(&e)
            .map(|s| s.to_string())
            .unwrap_or_default();
        load_err(format!(
            "not a loadable shared library ({e}{}{detail})",
            if detail.is_empty() { "" } else { ": " }
        ))
    })?;
    // SAFETY: the symbol has this signature in every ONNX Runtime release (it is the stable
    // entry point of the C API).
    let base = unsafe {
        let get_base: libloading::Symbol<unsafe extern "C" fn() -> *const ort::sys::OrtApiBase> =
            lib.get(b"OrtGetApiBase\0").map_err(|_| {
                load_err("not an ONNX Runtime library (no OrtGetApiBase symbol)".into())
            })?;
        get_base()
    };
    if base.is_null() {
        return Err(load_err("OrtGetApiBase returned null".into()));
    }
    // SAFETY: `base` is non-null and points at the library's static API base table.
    let raw: *const c_char = unsafe { ((*base).GetVersionString)() };
    if raw.is_null() {
        return Err(load_err("the library reports no version".into()));
    }
    // SAFETY: ONNX Runtime returns a static NUL-terminated string.
    let version = unsafe { CStr::from_ptr(raw) }
        .to_string_lossy()
        .into_owned();
    Ok(version)
}

/// The execution providers compiled into the loaded library.
pub(crate) fn available_providers() -> ort::Result<Vec<String>> {
    let api = ort::api();
    let mut list: *mut *mut c_char = std::ptr::null_mut();
    let mut n: std::ffi::c_int = 0;
    // SAFETY: the C API fills `list` with `n` NUL-terminated strings that we release below.
    let status = unsafe { (api.GetAvailableProviders)(&mut list, &mut n) };
    // SAFETY: `status` came straight from the C API call above.
    unsafe { ort::Error::result_from_status(status) }?;
    let mut out = Vec::with_capacity(n.max(0) as usize);
    if !list.is_null() {
        for i in 0..n as usize {
            // SAFETY: `i < n` entries are valid C strings.
            out.push(
                unsafe { CStr::from_ptr(*list.add(i)) }
                    .to_string_lossy()
                    .into_owned(),
            );
        }
        // SAFETY: releasing exactly what GetAvailableProviders allocated.
        let status = unsafe { (api.ReleaseAvailableProviders)(list, n) };
        // SAFETY: `status` came straight from the C API call above.
        unsafe { ort::Error::result_from_status(status) }?;
    }
    Ok(out)
}
