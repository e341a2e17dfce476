//! The one error type of the core. The Python binding maps each variant to one
//! Python exception class (see `rust/subtok-py/src/errors.rs`).
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file that does not exist -> `FileNotFoundError`.
    #[error("{path}: no such file")]
    NotFound { path: String },
    /// Any other I/O failure (permissions, unwritable directory, ...) -> `OSError`.
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// A tokenizer/vocab/merges file whose content is wrong -> `subtok.TokenizerFileError` (a `ValueError`).
    #[error("{path}: {msg}")]
    Malformed { path: String, msg: String },
    /// A bad argument value -> `ValueError`.
    #[error("{0}")]
    InvalidArgument(String),
    /// An id outside the vocabulary -> `IndexError`... mapped to `ValueError` subclass in Python.
    #[error("{0}")]
    OutOfRange(String),
    /// The call was cancelled (see `crate::cancel`) -> `KeyboardInterrupt`.
    #[error("cancelled")]
    Cancelled,
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        let p = path.display().to_string();
        if source.kind() == std::io::ErrorKind::NotFound {
            Error::NotFound { path: p }
        } else {
            Error::Io { path: p, source }
        }
    }
    pub fn malformed(path: impl AsRef<str>, msg: impl Into<String>) -> Self {
        Error::Malformed {
            path: path.as_ref().to_string(),
            msg: msg.into(),
        }
    }
    pub fn invalid(msg: impl Into<String>) -> Self {
        Error::InvalidArgument(msg.into())
    }
}

/// Read a whole file as UTF-8, mapping failures to the right variant.
/// Devices (`/dev/zero`, `/dev/urandom`) are refused: they have no end, so reading one would
/// never finish and memory would not stay proportional to a file size.
pub fn read_to_string(path: &Path) -> Result<String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let ft = std::fs::metadata(path)
            .map_err(|e| Error::io(path, e))?
            .file_type();
        if ft.is_char_device() || ft.is_block_device() || ft.is_socket() {
            return Err(Error::io(
                path,
                std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a regular file"),
            ));
        }
    }
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    String::from_utf8(bytes)
        .map_err(|e| Error::malformed(path.display().to_string(), format!("not valid UTF-8 ({e})")))
}

/// Write a file atomically: a temp file in the same directory, then rename, so a
/// failed save never leaves a half-written or clobbered file behind.
pub fn write_atomic(path: &Path, data: &[u8]) -> Result<()> {
    use std::io::Write;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{}.tmp-{}", name, std::process::id()));
    let res = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = res {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::io(path, e));
    }
    Ok(())
}
