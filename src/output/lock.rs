//! One writer per output folder (README "Outputs"): `run`, `sweep`, `merge` and `plot` hold
//! an exclusive lock file, `.stickysim.lock`, in the folder they write while they write it.
//!
//! The lock is created with `create_new` (O_EXCL: exactly one process can create it) and
//! holds the writer's process id. A second writer finds it and stops with exit 2, naming the
//! folder and the other pid. A lock whose process no longer runs (a killed run; on Linux,
//! `/proc/<pid>` is gone) is taken over; elsewhere a lock is taken as live and the message
//! says to remove it by hand. Once the lock is held, every temporary file in the folder
//! (`.NAME.tmp-…`, `.NAME.tmp…`) is a dead writer's and is removed.

use std::fs;
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

/// The lock file's name inside the folder.
pub const LOCK_FILE: &str = ".stickysim.lock";

/// An exclusive lock on an output folder, released (the file removed) when dropped.
#[derive(Debug)]
pub struct FolderLock {
    path: PathBuf,
    pid: u32,
}

/// Who holds a lock, as read from its file.
enum Holder {
    /// A process that runs (or may run: not Linux, or its pid is unreadable).
    Live(Option<u32>),
    /// A process that no longer runs.
    Dead(u32),
}

impl FolderLock {
    /// Lock `dir` (creating it), or say who holds it. Then remove temporary files that
    /// dead writers left in it.
    pub fn acquire(dir: &Path) -> anyhow::Result<FolderLock> {
        fs::create_dir_all(dir).map_err(|e| {
            anyhow::anyhow!("output folder {} cannot be created: {e}", dir.display())
        })?;
        let path = dir.join(LOCK_FILE);
        let pid = std::process::id();
        // A few rounds: a dead writer's lock is taken over, and the lock can change hands
        // between our looks at it.
        for _ in 0..4 {
            match fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(mut f) => {
                    f.write_all(format!("{pid}\n").as_bytes()).map_err(|e| {
                        let _ = fs::remove_file(&path);
                        anyhow::anyhow!("cannot write {}: {e}", path.display())
                    })?;
                    let lock = FolderLock { path, pid };
                    remove_temporaries(dir)?;
                    return Ok(lock);
                }
                Err(e) if e.kind() == ErrorKind::AlreadyExists => match holder(&path) {
                    Holder::Live(other) => return Err(busy(dir, other)),
                    Holder::Dead(other) => take_over(&path, other)?,
                },
                Err(e) => {
                    return Err(anyhow::anyhow!(
                        "output folder {} is not writable: cannot create {LOCK_FILE}: {e}",
                        dir.display()
                    ))
                }
            }
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
        // Only our own lock: never remove one another process took over.
        if read_pid(&self.path) == Some(self.pid) {
            let _ = fs::remove_file(&self.path);
        }
    }
}

fn busy(dir: &Path, other: Option<u32>) -> anyhow::Error {
    let who = match other {
        Some(p) => format!("process {p}"),
        None => "another process".to_string(),
    };
    let stale = if cfg!(target_os = "linux") {
        ""
    } else {
        " (if that process has ended, remove the lock file by hand)"
    };
    anyhow::anyhow!(
        "output folder {} is being written by another stickysim ({who}: {} exists){stale}; \
         wait for it to finish or choose another --out",
        dir.display(),
        dir.join(LOCK_FILE).display()
    )
}

fn read_pid(path: &Path) -> Option<u32> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Who holds the lock at `path`. A file without a pid yet is a writer between creating and
/// writing it: it is read again a few times before it counts as live with no pid.
fn holder(path: &Path) -> Holder {
    for _ in 0..20 {
        match fs::read_to_string(path) {
            Ok(text) => {
                if let Ok(pid) = text.trim().parse::<u32>() {
                    return if running(pid) {
                        Holder::Live(Some(pid))
                    } else {
                        Holder::Dead(pid)
                    };
                }
            }
            // Gone meanwhile: the next round creates it.
            Err(e) if e.kind() == ErrorKind::NotFound => return Holder::Dead(0),
            Err(_) => return Holder::Live(None),
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    Holder::Live(None)
}

/// Does process `pid` run? On Linux `/proc/<pid>` says; elsewhere assume it does.
fn running(pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    let proc = Path::new("/proc");
    if cfg!(target_os = "linux") && proc.join("self").exists() {
        proc.join(pid.to_string()).exists()
    } else {
        true
    }
}

/// Remove a dead writer's lock. It is first renamed to a name of our own, so that of two
/// processes taking over at once only one gets the file; if what we got is not the dead
/// writer's lock (another process took over in between), it is put back.
fn take_over(path: &Path, dead: u32) -> anyhow::Result<()> {
    let mine = path.with_file_name(format!(
        "{LOCK_FILE}.stale-{}-{}",
        std::process::id(),
        unique()
    ));
    match fs::rename(path, &mine) {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(anyhow::anyhow!("cannot take over {}: {e}", path.display())),
    }
    if read_pid(&mine) == Some(dead) {
        let _ = fs::remove_file(&mine);
        return Ok(());
    }
    // A live lock: back under its name (a hard link fails if a third process made one).
    let back = fs::hard_link(&mine, path);
    let _ = fs::remove_file(&mine);
    back.map_err(|e| {
        anyhow::anyhow!(
            "two processes took over the stale lock {} at once: {e}",
            path.display()
        )
    })
}

/// A number for temporary names: the clock's nanoseconds.
fn unique() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0)
}

/// Is `name` a temporary file of ours (an atomic write's, a plot's, a stale lock's)?
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
        if cfg!(target_os = "linux") {
            // pid 0 never names a process in /proc; 4194305 is above Linux's pid_max.
            fs::write(dir.join(LOCK_FILE), "4194305\n").unwrap();
            fs::write(dir.join(".summary.json.tmp-4194305-7"), "x").unwrap();
            let b = FolderLock::acquire(&dir).unwrap();
            assert_eq!(read_pid(b.path()), Some(std::process::id()));
            assert!(!dir.join(".summary.json.tmp-4194305-7").exists());
        }
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
