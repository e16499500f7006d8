//! Writing a run folder: every file under a temporary name, then renamed, and the digest.

use sha2::{Digest, Sha256};
use std::fs;
use std::io::Write;
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

/// Write `bytes` to `dir/name` atomically (temporary name, then rename).
pub fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> anyhow::Result<PathBuf> {
    let final_path = dir.join(name);
    if let Some(parent) = final_path.parent() {
        fs::create_dir_all(parent)?;
    }
    let tmp = dir.join(format!(".{}.tmp", name.replace('/', "_")));
    {
        let mut f = fs::File::create(&tmp)
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", tmp.display()))?;
        f.write_all(bytes)?;
        f.sync_all().ok();
    }
    fs::rename(&tmp, &final_path).map_err(|e| {
        anyhow::anyhow!(
            "cannot rename {} to {}: {e}",
            tmp.display(),
            final_path.display()
        )
    })?;
    Ok(final_path)
}

/// SHA-256 over (name, length, bytes) of each file, in the given fixed order.
pub fn digest(files: &[(&str, &[u8])]) -> String {
    let mut h = Sha256::new();
    for (name, bytes) in files {
        h.update(name.as_bytes());
        h.update([0u8]);
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    }
    crate::scenario::hex(&h.finalize())
}
