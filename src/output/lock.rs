//! One writer per output folder (README "Outputs"): `run`, `sweep`, `merge` and `plot` hold
//! an exclusive lock file, `.stickysim.lock`, in the folder they write while they write it.
//!
//! The lock is the operating system's advisory lock on that file (`flock`, through
//! `File::try_lock`), which the system releases when its process ends, however it ends:
//! a killed run's lock is free at once, with no guess about whether its process still
//! runs and no race between two processes taking over the same stale lock. The file holds
//! the writer's process id, for the message a second writer stops with (exit 2, naming the
//! folder and the other pid). The holder removes the file when it is done; a writer that
//! locked a file that was removed or replaced meanwhile (it opened the old one) starts
//! again. Once the lock is held, every temporary file in the folder (`.NAME.tmp-…`,
//! `.NAME.tmp…`, an older version's `.stickysim.lock.stale-…`) is a dead writer's and is
//! removed.

use std::fs;
use std::io::{ErrorKind, Seek, Write};
use std::path::{Path, PathBuf};

/// The lock file's name inside the folder.
pub const LOCK_FILE: &str = ".stickysim.lock";

/// An exclusive lock on an output folder, released (the file removed) when dropped.
#[derive(Debug)]
pub struct FolderLock {
    path: PathBuf,
    /// The locked file: the lock lives as long as it is open.
    file: fs::File,
}

impl FolderLock {
    /// Lock `dir` (creating it), or say who holds it. Then remove temporary files that
    /// dead writers left in it.
    pub fn acquire(dir: &Path) -> anyhow::Result<FolderLock> {
        fs::create_dir_all(dir).map_err(|e| {
            anyhow::anyhow!("output folder {} cannot be created: {e}", dir.display())
        })?;
        let path = dir.join(LOCK_FILE);
        let not_writable = |e: std::io::Error| {
            anyhow::anyhow!(
                "output folder {} is not writable: cannot lock {LOCK_FILE}: {e}",
                dir.display()
            )
        };
        // A few rounds: the file can be removed (its holder finished) between our opening
        // it and our locking it.
        for _ in 0..16 {
            let mut file = fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .map_err(not_writable)?;
            match file.try_lock() {
                Ok(()) => {}
                Err(fs::TryLockError::WouldBlock) => return Err(busy(dir, read_pid(&path))),
                Err(fs::TryLockError::Error(e)) => return Err(not_writable(e)),
            }
            if !same_file(&file, &path) {
                continue;
            }
            let pid = std::process::id();
            file.set_len(0)
                .and_then(|()| file.rewind())
                .and_then(|()| file.write_all(format!("{pid}\n").as_bytes()))
                .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
            let lock = FolderLock { path, file };
            remove_temporaries(dir)?;
            return Ok(lock);
        }
        Err(busy(dir, read_pid(&path)))
    }

    /// The lock file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for FolderLock {
    fn drop(&mut self) {
        // Removed while still locked, so no one can lock this file and find it named.
        let _ = fs::remove_file(&self.path);
        let _ = self.file.unlock();
    }
}

/// Is the open `file` still the one at `path` (not removed, not replaced by a new file)?
#[cfg(unix)]
fn same_file(file: &fs::File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// Elsewhere (Windows) an open file cannot be removed, so it is the one at `path`.
#[cfg(not(unix))]
fn same_file(_file: &fs::File, path: &Path) -> bool {
    path.exists()
}

fn busy(dir: &Path, other: Option<u32>) -> anyhow::Error {
    let who = match other {
        Some(p) => format!("process {p}"),
        None => "another process".to_string(),
    };
    anyhow::anyhow!(
        "output folder {} is being written by another stickysim ({who} holds {}); \
         wait for it to finish or choose another --out",
        dir.display(),
        dir.join(LOCK_FILE).display()
    )
}

fn read_pid(path: &Path) -> Option<u32> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Is `name` a temporary file of ours (an atomic write's, a plot's, an older version's stale lock)?
pub fn is_temporary(name: &str) -> bool {
    name.starts_with('.')
        && (name.contains(".tmp") || name.starts_with(&format!("{LOCK_FILE}.stale-")))
}

/// Remove every temporary file directly in `dir` and in its `plots/`: with the lock held,
/// they are dead writers'.
fn remove_temporaries(dir: &Path) -> anyhow::Result<()> {
    for d in [dir.to_path_buf(), dir.join("plots")] {
        let Ok(entries) = fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if is_temporary(&name) && e.path().is_file() {
                match fs::remove_file(e.path()) {
                    Err(err) if err.kind() != ErrorKind::NotFound => {
                        return Err(anyhow::anyhow!(
                            "cannot remove the stale temporary file {}: {err}",
                            e.path().display()
                        ))
                    }
                    _ => {}
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_in_one_folder_is_refused_and_a_dead_ones_taken_over() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("out");
        let a = FolderLock::acquire(&dir).unwrap();
        assert_eq!(read_pid(a.path()), Some(std::process::id()));
        let e = FolderLock::acquire(&dir).unwrap_err().to_string();
        assert!(e.contains(&dir.display().to_string()), "{e}");
        assert!(
            e.contains(&format!("process {}", std::process::id())),
            "{e}"
        );
        drop(a);
        assert!(!dir.join(LOCK_FILE).exists());
        // A lock file nobody holds (its writer was killed): taken over, its pid replaced.
        fs::write(dir.join(LOCK_FILE), "4194305\n").unwrap();
        fs::write(dir.join(".summary.json.tmp-4194305-7"), "x").unwrap();
        fs::write(dir.join(".stickysim.lock.stale-1-2"), "9\n").unwrap();
        let b = FolderLock::acquire(&dir).unwrap();
        assert_eq!(read_pid(b.path()), Some(std::process::id()));
        assert!(!dir.join(".summary.json.tmp-4194305-7").exists());
        assert!(!dir.join(".stickysim.lock.stale-1-2").exists());
    }

    #[test]
    fn a_lock_on_a_removed_file_is_not_taken_for_the_folders() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("out");
        let a = FolderLock::acquire(&dir).unwrap();
        // Another writer opened the file before `a` finished: locking it after `a` removed
        // it must not count, and must not stop a new writer.
        let old = fs::OpenOptions::new().read(true).open(a.path()).unwrap();
        drop(a);
        old.try_lock().unwrap();
        assert!(!same_file(&old, &dir.join(LOCK_FILE)));
        let b = FolderLock::acquire(&dir).unwrap();
        assert!(same_file(&b.file, b.path()));
        assert!(FolderLock::acquire(&dir).is_err());
    }

    #[test]
    fn many_threads_racing_for_one_folder_get_it_one_at_a_time() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("out");
        let holders = std::sync::atomic::AtomicU32::new(0);
        let most = std::sync::atomic::AtomicU32::new(0);
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| {
                    for _ in 0..200 {
                        if let Ok(l) = FolderLock::acquire(&dir) {
                            let n = holders.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                            most.fetch_max(n, std::sync::atomic::Ordering::SeqCst);
                            holders.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                            drop(l);
                        }
                    }
                });
            }
        });
        assert_eq!(most.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    #[test]
    fn temporary_names() {
        assert!(is_temporary(".summary.json.tmp-12-34"));
        assert!(is_temporary(".latency.tmp-12-34.png"));
        assert!(is_temporary(".stickysim.lock.stale-1-2"));
        assert!(!is_temporary(".stickysim.lock"));
        assert!(!is_temporary("summary.json"));
    }
}
