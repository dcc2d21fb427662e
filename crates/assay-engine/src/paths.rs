//! Where Assay keeps its files: one data folder shared by the runtimes, the run history and
//! the keys, so every front end finds the same ones.

use std::path::PathBuf;

/// `$XDG_DATA_HOME/assay` when set, else the platform's data directory plus `assay`
/// (`~/.local/share/assay` on Linux). `None` when neither can be determined.
pub fn data_dir() -> Option<PathBuf> {
    std::env::var_os("XDG_DATA_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(dirs::data_dir)
        .map(|d| d.join("assay"))
}

/// The sentence used when [`data_dir`] is `None`.
pub const NO_DATA_DIR: &str = "cannot tell where the user data directory is (set XDG_DATA_HOME)";
