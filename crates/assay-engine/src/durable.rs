//! Durable file writes: the one way Assay puts a file on disk.
//!
//! Every writer in the workspace (reports, signatures, keys, the gateway's state, the
//! console's exports) goes through [`write`] or [`write_with`], so they all behave the same:
//!
//! 1. a temporary file in the destination's own folder (a rename never crosses a file system);
//! 2. the content, then the mode set explicitly ([`Mode`]), so a file's permissions never
//!    depend on the umask or on the temporary file's private 0600;
//! 3. `fsync` of the file, so a power cut cannot leave a renamed but empty file;
//! 4. the rename over the destination (or, with [`Replace::Never`], a rename that refuses to
//!    replace an existing file: keys are never overwritten);
//! 5. `fsync` of the folder, so the new name itself survives a power cut.
//!
//! A reader therefore sees the old file or the new one, never half of either.

use std::fs::File;
use std::io::{self, Write};
use std::path::Path;

/// Who may read the written file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// 0644: reports, exports, signatures and other documents meant to be shared.
    Shared,
    /// 0600: secrets (private keys, tokens) and private state.
    Private,
}

impl Mode {
    #[cfg_attr(not(unix), allow(dead_code))]
    fn bits(self) -> u32 {
        match self {
            Mode::Shared => 0o644,
            Mode::Private => 0o600,
        }
    }
}

/// What to do when the destination already exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replace {
    /// Replace it atomically.
    Always,
    /// Fail with [`io::ErrorKind::AlreadyExists`] and leave it untouched.
    Never,
}

/// Writes `bytes` to `path` durably and atomically, replacing any existing file.
pub fn write(path: &Path, bytes: &[u8], mode: Mode) -> io::Result<()> {
    write_with(path, mode, Replace::Always, |f| f.write_all(bytes))
}

/// Like [`write`] but refuses to replace an existing file.
pub fn create(path: &Path, bytes: &[u8], mode: Mode) -> io::Result<()> {
    write_with(path, mode, Replace::Never, |f| f.write_all(bytes))
}

/// The general form: `fill` writes the content into the temporary file (streaming, a copy, a
/// failpoint between writing and renaming), then the file is synced and renamed into place.
pub fn write_with(
    path: &Path,
    mode: Mode,
    replace: Replace,
    fill: impl FnOnce(&mut File) -> io::Result<()>,
) -> io::Result<()> {
    let dir = folder_of(path);
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    fill(tmp.as_file_mut())?;
    tmp.as_file_mut().flush()?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(mode.bits()))?;
    }
    #[cfg(not(unix))]
    let _ = mode;
    tmp.as_file().sync_all()?;
    match replace {
        Replace::Always => tmp.persist(path).map_err(|e| e.error)?,
        Replace::Never => tmp.persist_noclobber(path).map_err(|e| e.error)?,
    };
    sync_dir(dir)
}

/// fsyncs a folder, so the names created or renamed in it survive a power cut. (A no-op where
/// folders cannot be opened as files.)
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

/// The folder a relative or absolute path lives in (`.` for a bare file name).
fn folder_of(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    fn mode_of(p: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn replaces_with_the_mode_asked_for() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("doc.json");
        write(&p, b"old", Mode::Private).unwrap();
        write(&p, b"new", Mode::Shared).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"new");
        #[cfg(unix)]
        assert_eq!(mode_of(&p), 0o644);
        write(&p, b"secret", Mode::Private).unwrap();
        #[cfg(unix)]
        assert_eq!(mode_of(&p), 0o600);
        // No temporary file is left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn create_never_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("key.pem");
        create(&p, b"first", Mode::Private).unwrap();
        let err = create(&p, b"second", Mode::Private).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(&p).unwrap(), b"first");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_failed_fill_leaves_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("state.json");
        write(&p, b"good", Mode::Private).unwrap();
        let err = write_with(&p, Mode::Private, Replace::Always, |f| {
            f.write_all(b"half")?;
            Err(io::Error::other("disk full"))
        })
        .unwrap_err();
        assert_eq!(err.to_string(), "disk full");
        assert_eq!(std::fs::read(&p).unwrap(), b"good");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_bare_file_name_writes_in_the_current_folder() {
        assert_eq!(folder_of(Path::new("x.json")), Path::new("."));
        assert_eq!(folder_of(Path::new("/a/x.json")), Path::new("/a"));
    }
}
