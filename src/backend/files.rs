//! The job file on disk, checked before anything opens it: what "the same
//! file" is (device and inode), which files are refused (anything but a
//! regular file; symbolic links that dangle or leave the root), and how a
//! missing one is created so it has an identity before it is opened.

use std::fs::{self, Metadata, OpenOptions};
use std::io::ErrorKind as IoKind;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::error::{Error, ErrorKind, Result};

/// A file's identity on this machine: its device and inode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct FileId {
    dev: u64,
    ino: u64,
}

impl FileId {
    fn of(meta: &Metadata) -> FileId {
        FileId {
            dev: meta.dev(),
            ino: meta.ino(),
        }
    }
}

/// A job's file: `<root>/<job_id>.db` under the canonical root.
#[derive(Debug, Clone)]
pub(crate) struct JobFile {
    root: PathBuf,
    entry: PathBuf,
}

/// The file a [`JobFile`] stands for, after the checks: the path to open
/// (the link's target for a symbolic link) and its identity.
#[derive(Debug, Clone)]
pub(crate) struct Resolved {
    pub path: PathBuf,
    pub id: FileId,
}

fn refused(message: String) -> Error {
    Error::new(ErrorKind::Backend, message)
}

/// What a non-regular file is, for messages; `None` for a regular file.
fn not_regular(meta: &Metadata) -> Option<&'static str> {
    let t = meta.file_type();
    if t.is_file() {
        None
    } else if t.is_dir() {
        Some("a directory")
    } else if t.is_fifo() {
        Some("a FIFO")
    } else if t.is_socket() {
        Some("a socket")
    } else if t.is_block_device() || t.is_char_device() {
        Some("a device")
    } else {
        Some("not a regular file")
    }
}

impl JobFile {
    pub(super) fn new(root: PathBuf, job_id: &str) -> JobFile {
        let entry = root.join(format!("{job_id}.db"));
        JobFile { root, entry }
    }

    /// The path in the root (`<root>/<job_id>.db`).
    pub(crate) fn entry(&self) -> &Path {
        &self.entry
    }

    fn check_regular(&self, path: &Path, meta: &Metadata) -> Result<()> {
        match not_regular(meta) {
            None => Ok(()),
            Some(what) if path == self.entry => Err(refused(format!(
                "{} is {what}, not a regular file; refused",
                self.entry.display()
            ))),
            Some(what) => Err(refused(format!(
                "{} is a symbolic link to {}, which is {what}, not a regular file; refused",
                self.entry.display(),
                path.display()
            ))),
        }
    }

    /// The target of a symbolic link entry, if it exists and stays in the
    /// root; errors say which rule it breaks.
    fn link_target(&self) -> Result<PathBuf> {
        let target = match fs::canonicalize(&self.entry) {
            Ok(target) => target,
            Err(e) if e.kind() == IoKind::NotFound => {
                return Err(refused(format!(
                    "{} is a symbolic link to a missing file (dangling); refused, not followed",
                    self.entry.display()
                )))
            }
            Err(e) => {
                return Err(Error::from(e)
                    .context(format!("cannot resolve the link {}", self.entry.display())))
            }
        };
        if !target.starts_with(&self.root) {
            return Err(refused(format!(
                "{} is a symbolic link to {}, outside the root {}; refused, not followed",
                self.entry.display(),
                target.display(),
                self.root.display()
            )));
        }
        Ok(target)
    }

    /// Checks the file and pins down what it is: a regular file, or a
    /// symbolic link to a regular file inside the root. A missing file is
    /// created empty (SQLite makes a new database of it), without following
    /// any link, so it has an identity before it is opened. Nothing is
    /// opened for reading, so a FIFO cannot block.
    pub(crate) fn resolve(&self) -> Result<Resolved> {
        loop {
            let meta = match fs::symlink_metadata(&self.entry) {
                Ok(meta) => meta,
                Err(e) if e.kind() == IoKind::NotFound => {
                    let created = OpenOptions::new()
                        .write(true)
                        .create_new(true)
                        .mode(0o644)
                        .open(&self.entry);
                    match created {
                        Ok(file) => {
                            let meta = file.metadata().map_err(|e| {
                                Error::from(e)
                                    .context(format!("cannot read {}", self.entry.display()))
                            })?;
                            return Ok(Resolved {
                                path: self.entry.clone(),
                                id: FileId::of(&meta),
                            });
                        }
                        // Created meanwhile (by whom, the next round tells).
                        Err(e) if e.kind() == IoKind::AlreadyExists => continue,
                        Err(e) => {
                            return Err(Error::from(e)
                                .context(format!("cannot create {}", self.entry.display())))
                        }
                    }
                }
                Err(e) => {
                    return Err(
                        Error::from(e).context(format!("cannot read {}", self.entry.display()))
                    )
                }
            };
            let (path, meta) = if meta.file_type().is_symlink() {
                let target = self.link_target()?;
                let meta = fs::metadata(&target).map_err(|e| {
                    Error::from(e).context(format!("cannot read {}", target.display()))
                })?;
                (target, meta)
            } else {
                (self.entry.clone(), meta)
            };
            self.check_regular(&path, &meta)?;
            return Ok(Resolved {
                id: FileId::of(&meta),
                path,
            });
        }
    }

    /// What deleting the job's files would touch, without creating or
    /// refusing anything: the entry's path, a link's target when it has
    /// one, and the identity of the file it reaches, if any.
    pub(crate) fn existing(&self) -> (Vec<PathBuf>, Option<FileId>) {
        let mut paths = vec![self.entry.clone()];
        if let Ok(target) = fs::canonicalize(&self.entry) {
            if target != self.entry {
                paths.push(target);
            }
        }
        let id = fs::metadata(&self.entry).ok().map(|m| FileId::of(&m));
        (paths, id)
    }
}

/// Checks that `path` is still the file `id` (it was not replaced while it
/// was being opened).
pub(crate) fn check_same(path: &Path, id: FileId) -> Result<()> {
    let meta = fs::metadata(path)
        .map_err(|e| Error::from(e).context(format!("cannot read {}", path.display())))?;
    if FileId::of(&meta) != id {
        return Err(refused(format!(
            "{} was replaced while it was being opened",
            path.display()
        )));
    }
    Ok(())
}
