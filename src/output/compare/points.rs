//! `compare SWEEP_DIR --points 3,5 [--seed S]`: points of a sweep folder, each as the run
//! folders of every seed (pooled by the caller) or of one seed, labelled by point number
//! and swept values (`p3 accept_drop/5`).

use crate::output::plots::{value_text, SweepData};
use anyhow::{anyhow, Result};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// One point's run folders (one per seed, in the sweep's seed order), and its label.
#[derive(Clone, Debug, PartialEq)]
pub struct SweepPoint {
    pub point: u64,
    pub seeds: Vec<u64>,
    pub dirs: Vec<PathBuf>,
    pub label: String,
}

/// `"3"`, `"p3"` or `"p0003"` -> 3.
fn parse_point(s: &str) -> Option<u64> {
    let t = s.trim();
    let digits = t.strip_prefix('p').unwrap_or(t);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The run folders of `list` (comma-separated point numbers) in the sweep folder `sweep`:
/// every seed's, or only `seed`'s. Also returns the sweep folder's data (`aggregate.csv`
/// holds the pooled values). Errors name what is wrong: not a sweep folder, an unknown
/// point, a seed the sweep did not run, a run folder that is missing.
pub fn resolve_points(
    sweep: &Path,
    list: &str,
    seed: Option<u64>,
) -> Result<(Vec<SweepPoint>, SweepData)> {
    if !sweep.join("sweep.json").is_file() {
        return Err(anyhow!(
            "{}: not a sweep folder (no sweep.json); --points needs the folder `stickysim sweep` wrote",
            sweep.display()
        ));
    }
    let d = SweepData::load(sweep)?;
    let seeds: Vec<u64> = d.seeds.iter().filter_map(Value::as_u64).collect();
    let seeds = match seed {
        Some(s) if seeds.contains(&s) => vec![s],
        Some(s) => {
            return Err(anyhow!(
                "--seed {s}: the sweep ran seeds {}",
                seeds
                    .iter()
                    .map(u64::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        }
        None if seeds.is_empty() => {
            return Err(anyhow!("{}: sweep.json lists no seeds", sweep.display()))
        }
        None => seeds,
    };
    let mut out = vec![];
    for item in list.split(',') {
        let point = parse_point(item).ok_or_else(|| {
            anyhow!(
                "--points: `{}` is not a point number (e.g. 3 or p0003)",
                item.trim()
            )
        })?;
        let Some((_, values)) = d.points.iter().find(|(p, _)| *p == point) else {
            return Err(anyhow!(
                "--points: the sweep has no point {point} (points 0 to {})",
                d.points.len().saturating_sub(1)
            ));
        };
        let vals: Vec<String> = d
            .keys
            .iter()
            .map(|k| values.get(k).map(value_text).unwrap_or_else(|| "?".into()))
            .collect();
        let mut dirs = vec![];
        for seed in &seeds {
            let dir = sweep.join(format!("p{point:04}-seed-{seed}"));
            if !dir.is_dir() {
                return Err(anyhow!(
                    "{}: no such run folder (shard not merged yet?)",
                    dir.display()
                ));
            }
            dirs.push(dir);
        }
        out.push(SweepPoint {
            point,
            seeds: seeds.clone(),
            dirs,
            label: format!("p{point} {}", vals.join("/")),
        });
    }
    if out.len() < 2 {
        return Err(anyhow!(
            "--points needs two or more points (got {})",
            out.len()
        ));
    }
    Ok((out, d))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn point_numbers() {
        assert_eq!(parse_point("3"), Some(3));
        assert_eq!(parse_point(" p0003 "), Some(3));
        assert_eq!(parse_point("p12"), Some(12));
        for bad in ["", "p", "x3", "3a", "-1"] {
            assert_eq!(parse_point(bad), None, "{bad}");
        }
    }

    #[test]
    fn points_resolve_to_run_folders() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        let meta = r#"{"scenario":"x","scenario_digest":"d","keys":["a.policy","b.rate"],
            "seeds":[1,2],"points":[{"point":0,"values":{"a.policy":"x","b.rate":5.0}},
            {"point":1,"values":{"a.policy":"y","b.rate":5.0}}],"headline":[]}"#;
        std::fs::write(d.join("sweep.json"), meta).unwrap();
        for run in ["p0000-seed-1", "p0001-seed-1", "p0001-seed-2"] {
            std::fs::create_dir(d.join(run)).unwrap();
        }
        let got = resolve_points(d, "1,p1", None).unwrap().0;
        assert_eq!(got[0].label, "p1 y/5.0");
        assert_eq!(got[1].seeds, [1, 2]);
        assert_eq!(
            got[1].dirs,
            [d.join("p0001-seed-1"), d.join("p0001-seed-2")]
        );
        let got = resolve_points(d, "0,p1", Some(1)).unwrap().0;
        assert_eq!(got[0].label, "p0 x/5.0");
        assert_eq!(got[1].dirs, [d.join("p0001-seed-1")]);
        // Every seed by default: p0 has no seed-2 folder.
        assert!(resolve_points(d, "0,1", None)
            .unwrap_err()
            .to_string()
            .contains("p0000-seed-2: no such run folder"));
        let err =
            |list: &str, seed: Option<u64>| resolve_points(d, list, seed).unwrap_err().to_string();
        assert!(err("0,1", Some(2)).contains("p0000-seed-2: no such run folder"));
        assert!(err("0,1", Some(3)).contains("--seed 3: the sweep ran seeds 1, 2"));
        assert!(err("0,7", Some(1)).contains("no point 7 (points 0 to 1)"));
        assert!(err("1", None).contains("two or more points"));
        assert!(err("0,x", Some(1)).contains("`x` is not a point number"));
        let run = resolve_points(&d.join("p0000-seed-1"), "0,1", None).unwrap_err();
        assert!(run.to_string().contains("not a sweep folder"));
    }
}
