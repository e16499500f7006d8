//! `stickysim merge DIR... --out DIR`: shard folders -> one sweep folder, identical to the
//! one an unsharded sweep writes.

use super::grid::RunId;
use super::shard::{read_run, RunSummary, Shard, ShardFile, SHARD_FILE};
use super::tables::{copy_dir, write_atomic, write_sweep_tables};
use super::{draw_sweep_outputs, SweepError};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// What a merge did.
#[derive(Clone, Debug)]
pub struct MergeReport {
    pub total_runs: usize,
    /// Run folders copied into OUT / already there.
    pub copied: usize,
    pub kept: usize,
    pub runs_with_failed_claims: usize,
}

/// Gather the run folders of `dirs` (shard or sweep folders, each with its `shard.json`)
/// into `out`, then write `sweep.json`, `sweep.csv`, `aggregate.csv` and the plots.
///
/// Refuses folders of different sweeps (scenario digest differs: both are named) and
/// refuses when a run is missing or incomplete (each is named). Nothing is written to
/// `out` before every run has been found.
pub fn merge_dirs(dirs: &[PathBuf], out: &Path) -> Result<MergeReport, SweepError> {
    let first_dir = dirs
        .first()
        .ok_or_else(|| SweepError::Input("merge: give at least one shard folder".into()))?;
    let first = ShardFile::read(first_dir)?;
    let mut shards = vec![(first_dir.clone(), first.clone())];
    for d in &dirs[1..] {
        let f = ShardFile::read(d)?;
        if f.sweep.scenario_digest != first.sweep.scenario_digest {
            return Err(SweepError::Merge(format!(
                "{} and {} come from different sweeps: scenario `{}` digest {} vs scenario `{}` digest {}",
                first_dir.display(),
                d.display(),
                first.sweep.scenario,
                first.sweep.scenario_digest,
                f.sweep.scenario,
                f.sweep.scenario_digest
            )));
        }
        if f.version != first.version {
            return Err(SweepError::Merge(format!(
                "{} was run by stickysim {} but {} by {}: results of different versions are not comparable",
                first_dir.display(),
                first.version,
                d.display(),
                f.version
            )));
        }
        if f.sweep != first.sweep || f.point_digests != first.point_digests {
            return Err(SweepError::Merge(format!(
                "{} and {} name the same scenario digest but different grids (edited shard.json?)",
                first_dir.display(),
                d.display()
            )));
        }
        shards.push((d.clone(), f));
    }
    let meta = &first.sweep;
    let runs = meta.runs();

    // Find every run: the first folder (in the order given) holding a complete summary.
    let mut found: BTreeMap<usize, (PathBuf, RunSummary)> = BTreeMap::new();
    let mut missing: Vec<&RunId> = vec![];
    let mut bad: Vec<String> = vec![];
    for r in &runs {
        let digest = first
            .point_digests
            .get(r.point)
            .ok_or_else(|| SweepError::Merge(format!("{}: no digest for its point", r.name())))?;
        let mut problems = vec![];
        for (d, _) in &shards {
            let dir = d.join(r.name());
            if !dir.is_dir() {
                continue;
            }
            match read_run(&dir, digest, r.seed) {
                Ok(s) => {
                    found.insert(r.index, (dir, s));
                    break;
                }
                Err(m) => problems.push(format!("{}: {m}", dir.display())),
            }
        }
        if !found.contains_key(&r.index) {
            missing.push(r);
            bad.extend(problems);
        }
    }
    if !missing.is_empty() {
        let count = shards
            .iter()
            .map(|(_, f)| shard_count(&f.shard))
            .max()
            .unwrap_or(1);
        let names: Vec<String> = missing
            .iter()
            .take(20)
            .map(|r| {
                if count > 1 {
                    format!("{} (shard {}/{count})", r.name(), r.index % count + 1)
                } else {
                    r.name()
                }
            })
            .collect();
        let more = if missing.len() > 20 {
            format!(" and {} more", missing.len() - 20)
        } else {
            String::new()
        };
        let mut msg = format!(
            "cannot merge: {} of {} runs missing or incomplete: {}{more}",
            missing.len(),
            runs.len(),
            names.join(", ")
        );
        for b in bad.iter().take(20) {
            msg.push_str(&format!("\n  {b}"));
        }
        msg.push_str("\n(rerun the shard that holds them with `stickysim sweep SCENARIO --shard K/N --out DIR --resume`)");
        return Err(SweepError::Merge(msg));
    }

    std::fs::create_dir_all(out).map_err(|e| SweepError::io(out, e))?;
    // One writer per folder (README "Outputs").
    let _lock = crate::output::lock::FolderLock::acquire(out)
        .map_err(|e| SweepError::Input(format!("{e:#}")))?;
    let out_canon = out.canonicalize().map_err(|e| SweepError::io(out, e))?;
    let mut copied = 0;
    let mut kept = 0;
    for r in &runs {
        let Some((src, _)) = found.get(&r.index) else {
            continue;
        };
        let dst = out_canon.join(r.name());
        let src_canon = src.canonicalize().map_err(|e| SweepError::io(src, e))?;
        if src_canon == dst {
            kept += 1;
            continue;
        }
        if dst.exists() {
            let digest = first
                .point_digests
                .get(r.point)
                .map(String::as_str)
                .unwrap_or("");
            if read_run(&dst, digest, r.seed).is_ok() {
                kept += 1;
                continue;
            }
            std::fs::remove_dir_all(&dst).map_err(|e| SweepError::io(&dst, e))?;
        }
        // Copy under a temporary name, then rename: a killed merge leaves no half folder.
        let tmp = out_canon.join(format!(".{}.tmp-{}", r.name(), std::process::id()));
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp).map_err(|e| SweepError::io(&tmp, e))?;
        }
        copy_dir(src, &tmp)?;
        std::fs::rename(&tmp, &dst).map_err(|e| SweepError::io(&dst, e))?;
        copied += 1;
    }

    let merged = ShardFile {
        shard: Shard::WHOLE.to_string(),
        sweep: meta.clone(),
        point_digests: first.point_digests.clone(),
        total_runs: runs.len(),
        runs: runs.iter().map(RunId::name).collect(),
        version: first.version.clone(),
    };
    let mut text = serde_json::to_string_pretty(&merged)
        .map_err(|e| SweepError::Input(format!("cannot serialise shard.json: {e}")))?;
    text.push('\n');
    write_atomic(&out.join(SHARD_FILE), text.as_bytes())?;

    let results: BTreeMap<usize, RunSummary> =
        found.into_iter().map(|(i, (_, s))| (i, s)).collect();
    write_sweep_tables(out, meta, &results)?;
    draw_sweep_outputs(out).map_err(|e| SweepError::Draw(format!("{e:#}")))?;
    Ok(MergeReport {
        total_runs: runs.len(),
        copied,
        kept,
        runs_with_failed_claims: results.values().filter(|s| s.failed_claims > 0).count(),
    })
}

fn shard_count(s: &str) -> usize {
    s.parse::<Shard>().map(|s| s.count).unwrap_or(1)
}
