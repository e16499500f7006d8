//! Writing a run folder: every file under a temporary name, then renamed, and the digest.

use sha2::{Digest, Sha256};
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// Refuse an unwritable output folder before the run starts (README "Outputs").
pub fn ensure_writable(dir: &Path) -> anyhow::Result<()> {
    fs::create_dir_all(dir)
        .map_err(|e| anyhow::anyhow!("output folder {} cannot be created: {e}", dir.display()))?;
    let probe = dir.join(".stickysim-write-probe");
    fs::write(&probe, b"probe")
        .map_err(|e| anyhow::anyhow!("output folder {} is not writable: {e}", dir.display()))?;
    let _ = fs::remove_file(&probe);
    Ok(())
}

/// The one atomic write of the program: `bytes` go to a temporary name beside `path`
/// (unique per process and call, so concurrent writers never share one), then are renamed
/// over `path`; a killed process never leaves a half-written file under its final name.
pub fn write_file_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let tmp = path.with_file_name(format!(".{name}.tmp-{}-{nanos}", std::process::id()));
    let written = (|| {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all().ok();
        fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written
}

/// Write `bytes` to `dir/name` atomically ([`write_file_atomic`]), making `name`'s folders.
pub fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> anyhow::Result<PathBuf> {
    let final_path = dir.join(name);
    if let Some(parent) = final_path.parent() {
        fs::create_dir_all(parent)?;
    }
    write_file_atomic(&final_path, bytes)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", final_path.display()))?;
    Ok(final_path)
}

/// SHA-256 over (name, length, bytes) of each file, in the given fixed order.
pub fn digest(files: &[(&str, &[u8])]) -> String {
    let mut d = Digester::default();
    for (name, bytes) in files {
        // Reading a slice cannot fail.
        let _ = d.file(name, bytes.len() as u64, &mut &bytes[..]);
    }
    d.finish()
}

/// [`digest`] file by file, each file's bytes read from anywhere (a run's streamed CSV
/// files are read back from disk).
#[derive(Default)]
pub struct Digester {
    h: Sha256,
}

impl Digester {
    /// Add `name`, whose `len` bytes `bytes` yields; an error if it yields another count.
    pub fn file(&mut self, name: &str, len: u64, bytes: &mut impl Read) -> std::io::Result<()> {
        self.h.update(name.as_bytes());
        self.h.update([0u8]);
        self.h.update(len.to_le_bytes());
        let mut buf = vec![0u8; 1 << 20];
        let mut seen = 0u64;
        loop {
            let n = bytes.read(&mut buf)?;
            if n == 0 {
                break;
            }
            self.h.update(&buf[..n]);
            seen += n as u64;
        }
        if seen != len {
            return Err(std::io::Error::other(format!(
                "{name}: {seen} bytes where {len} were written"
            )));
        }
        Ok(())
    }

    pub fn finish(self) -> String {
        crate::scenario::hex(&self.h.finalize())
    }
}
