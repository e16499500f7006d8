//! The `[sweep]` table -> a plan: swept keys in grid order, points, seeds, one scenario
//! per point.
//!
//! Grid order: keys in the order they are written in the file (read with `toml_edit`,
//! because `toml::Table` sorts its keys); keys that only came from `--set sweep.…` follow in
//! sorted order. The first key is the outermost loop, the last one varies fastest. A `zip`
//! group is one dimension of the grid, placed where its first key is written; its keys vary
//! together. Seeds are the base scenario's seed, seed+1, …, seed+seeds−1.

use super::SweepError;
use crate::scenario::set::{apply_set, segments, split_assignment};
use crate::scenario::{load_str, Scenario, ScenarioError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Reserved keys of `[sweep]`; every other key is a dotted path into the scenario.
pub const SEEDS_KEY: &str = "seeds";
pub const ZIP_KEY: &str = "zip";
pub const HEADLINE_KEY: &str = "headline";
pub const TRADEOFF_KEY: &str = "tradeoff";

/// Headline metrics when `[sweep]` names none.
pub const DEFAULT_HEADLINE: [&str; 3] = [
    "delivery.latency_ms.p50",
    "delivery.latency_ms.p99",
    "delivery.lost",
];

/// Refuse grids larger than this many runs (a typo like `seeds = 100000000`).
pub const MAX_RUNS: usize = 1_000_000;

/// What `sweep.json` holds (docs/output-format.md, "Sweep folder format").
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SweepMeta {
    pub scenario: String,
    /// Digest of the base scenario (after `--set`), `[sweep]` table included.
    pub scenario_digest: String,
    /// Swept keys in grid order.
    pub keys: Vec<String>,
    pub seeds: Vec<u64>,
    pub points: Vec<PointMeta>,
    pub headline: Vec<String>,
    /// The two metrics of the trade-off chart (`[sweep] tradeoff`); absent when not asked.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tradeoff: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PointMeta {
    pub point: usize,
    /// Key -> value, in `keys` order (serde_json keeps insertion order here).
    pub values: serde_json::Map<String, serde_json::Value>,
}

/// One run of the sweep: a point and a seed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunId {
    /// Index in (point, seed) order over the whole sweep.
    pub index: usize,
    pub point: usize,
    pub seed: u64,
}

impl RunId {
    /// The run folder's name, `p0003-seed-7`.
    pub fn name(&self) -> String {
        run_name(self.point, self.seed)
    }
}

pub fn run_name(point: usize, seed: u64) -> String {
    format!("p{point:04}-seed-{seed}")
}

impl SweepMeta {
    /// Every run in (point, seed) order.
    pub fn runs(&self) -> Vec<RunId> {
        let mut out = Vec::with_capacity(self.points.len() * self.seeds.len());
        for p in &self.points {
            for &seed in &self.seeds {
                out.push(RunId {
                    index: out.len(),
                    point: p.point,
                    seed,
                });
            }
        }
        out
    }
}

/// A sweep ready to run: the metadata plus one checked scenario per point.
#[derive(Clone, Debug)]
pub struct SweepPlan {
    pub meta: SweepMeta,
    /// Point scenarios, `[sweep]` removed, values applied (seed not yet set).
    pub point_scenarios: Vec<Scenario>,
}

impl SweepPlan {
    /// The scenario of one run: its point's scenario with the run's seed.
    pub fn run_scenario(&self, run: &RunId) -> Option<Scenario> {
        let mut scn = self.point_scenarios.get(run.point)?.clone();
        scn.file.simulation.seed = run.seed;
        Some(scn)
    }

    /// The scenario digest every run of a point must report (seed-independent).
    pub fn point_digests(&self) -> Vec<String> {
        self.point_scenarios.iter().map(|s| s.digest()).collect()
    }
}

/// Read a scenario file and build its sweep plan.
pub fn plan_from_path(path: &std::path::Path, sets: &[String]) -> Result<SweepPlan, SweepError> {
    // No such file but a shipped scenario of that name: the embedded one.
    if let Some((name, text)) = crate::scenario::commands::embedded_for(path) {
        return plan_from_str(text, &crate::scenario::library::origin(name), sets);
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| SweepError::Input(format!("{}: cannot read: {e}", path.display())))?;
    plan_from_str(&text, &path.display().to_string(), sets)
}

/// Build the plan from scenario text. Every point's scenario is loaded (and so checked)
/// here, before anything runs: a bad key or value is refused with the key named.
pub fn plan_from_str(text: &str, origin: &str, sets: &[String]) -> Result<SweepPlan, SweepError> {
    // The file on its own first: its errors carry its own lines and columns.
    let plain = load_str(text, origin, &[]).map_err(SweepError::Scenario)?;
    let mut doc: toml::Table = toml::from_str(text)
        .map_err(|e| SweepError::Input(format!("{origin}: {}", e.message())))?;
    for s in sets {
        let (k, v) = split_assignment(s).map_err(|m| SweepError::Input(format!("--set {m}")))?;
        apply_set(&mut doc, &k, v).map_err(|m| SweepError::Input(format!("--set {m}")))?;
    }
    let base = if sets.is_empty() {
        plain
    } else {
        let with_sets = format!("{origin} (with --set)");
        load_str(&to_toml(&doc)?, &with_sets, &[]).map_err(SweepError::Scenario)?
    };
    let raw = base.file.sweep.clone().ok_or_else(|| {
        SweepError::Input(format!(
            "{origin}: no [sweep] table: nothing to sweep (add `[sweep]` with `seeds = N` and keys to vary)"
        ))
    })?;
    let locs = KeyLocations::from_text(text, origin);
    let spec = parse_sweep_table(&raw, &locs)?;

    let mut run_doc = doc.clone();
    run_doc.remove("sweep");

    // Each key alone, at its first value: names the key when it is unknown or badly typed.
    for (key, values) in &spec.keys {
        let first = values.first().cloned().ok_or_else(|| {
            SweepError::Input(format!("{}: sweep key `{key}` has no values", locs.at(key)))
        })?;
        load_point(&run_doc, &[(key.as_str(), &first)], origin)
            .map_err(|m| SweepError::Input(format!("{}: sweep key `{key}`: {m}", locs.at(key))))?;
    }

    let base_seed = base.seed();
    let seeds: Vec<u64> = (0..spec.seeds)
        .map(|i| base_seed.checked_add(i))
        .collect::<Option<_>>()
        .ok_or_else(|| {
            SweepError::Input(format!(
                "{origin}: seeds {base_seed} + {} overflow a 64-bit seed",
                spec.seeds
            ))
        })?;

    let combos = spec.combinations()?;
    let total = combos.len().saturating_mul(seeds.len());
    if total > MAX_RUNS {
        return Err(SweepError::Input(format!(
            "{origin}: the sweep has {} points x {} seeds = {total} runs, more than {MAX_RUNS}",
            combos.len(),
            seeds.len()
        )));
    }

    let keys: Vec<String> = spec.grid_keys();
    let mut points = Vec::with_capacity(combos.len());
    let mut point_scenarios = Vec::with_capacity(combos.len());
    for (p, combo) in combos.iter().enumerate() {
        let assigned: Vec<(&str, &toml::Value)> =
            combo.iter().map(|(k, v)| (k.as_str(), v)).collect();
        let scn = load_point(&run_doc, &assigned, &format!("{origin} [sweep point {p}]")).map_err(
            |m| {
                let desc: Vec<String> = combo.iter().map(|(k, v)| format!("{k} = {v}")).collect();
                SweepError::Input(format!(
                    "{origin}: sweep point {p} ({}): {m}",
                    desc.join(", ")
                ))
            },
        )?;
        let mut values = serde_json::Map::new();
        for (k, v) in combo {
            let j = toml_to_json(v)
                .map_err(|m| SweepError::Input(format!("{}: sweep key `{k}`: {m}", locs.at(k))))?;
            values.insert(k.clone(), j);
        }
        points.push(PointMeta { point: p, values });
        point_scenarios.push(scn);
    }

    Ok(SweepPlan {
        meta: SweepMeta {
            scenario: base.name().to_string(),
            scenario_digest: base.digest(),
            keys,
            seeds,
            points,
            headline: spec.headline,
            tradeoff: spec.tradeoff,
        },
        point_scenarios,
    })
}

/// The base document (without `[sweep]`) with `values` applied, loaded and checked.
fn load_point(
    run_doc: &toml::Table,
    values: &[(&str, &toml::Value)],
    origin: &str,
) -> Result<Scenario, String> {
    let mut d = run_doc.clone();
    for (k, v) in values {
        apply_set(&mut d, k, (*v).clone())?;
    }
    let text = toml::to_string(&d).map_err(|e| e.to_string())?;
    load_str(&text, origin, &[]).map_err(|errs| scenario_messages(&errs))
}

fn scenario_messages(errs: &[ScenarioError]) -> String {
    let v: Vec<String> = errs
        .iter()
        .map(|e| {
            if e.key.is_empty() {
                e.message.clone()
            } else {
                format!("`{}`: {}", e.key, e.message)
            }
        })
        .collect();
    v.join("; ")
}

fn to_toml(doc: &toml::Table) -> Result<String, SweepError> {
    toml::to_string(doc).map_err(|e| SweepError::Input(format!("cannot serialise scenario: {e}")))
}

/// The `[sweep]` table, checked.
#[derive(Debug)]
struct SweepSpec {
    /// Swept keys in file order with their values.
    keys: Vec<(String, Vec<toml::Value>)>,
    /// Zip groups as indices into `keys`.
    zips: Vec<Vec<usize>>,
    seeds: u64,
    headline: Vec<String>,
    tradeoff: Vec<String>,
}

impl SweepSpec {
    /// Grid dimensions in order: each is a list of key indices that vary together.
    fn dims(&self) -> Vec<Vec<usize>> {
        let mut dims: Vec<Vec<usize>> = vec![];
        let mut placed = vec![false; self.keys.len()];
        for i in 0..self.keys.len() {
            if placed[i] {
                continue;
            }
            match self.zips.iter().find(|g| g.contains(&i)) {
                Some(g) => {
                    let mut g = g.clone();
                    g.sort_unstable();
                    for &k in &g {
                        placed[k] = true;
                    }
                    dims.push(g);
                }
                None => {
                    placed[i] = true;
                    dims.push(vec![i]);
                }
            }
        }
        dims
    }

    fn grid_keys(&self) -> Vec<String> {
        self.dims()
            .into_iter()
            .flatten()
            .map(|i| self.keys[i].0.clone())
            .collect()
    }

    /// Every point's (key, value) list in grid-key order; the last dimension varies fastest.
    fn combinations(&self) -> Result<Vec<Vec<(String, toml::Value)>>, SweepError> {
        let dims = self.dims();
        let lens: Vec<usize> = dims.iter().map(|d| self.keys[d[0]].1.len()).collect();
        let mut total: usize = 1;
        for &l in &lens {
            total = total
                .checked_mul(l)
                .filter(|&t| t <= MAX_RUNS)
                .ok_or_else(|| {
                    SweepError::Input(format!("the sweep grid has more than {MAX_RUNS} points"))
                })?;
        }
        let mut out = Vec::with_capacity(total);
        let mut idx = vec![0usize; dims.len()];
        for _ in 0..total {
            let mut combo = vec![];
            for (d, dim) in dims.iter().enumerate() {
                for &k in dim {
                    let (name, values) = &self.keys[k];
                    combo.push((name.clone(), values[idx[d]].clone()));
                }
            }
            out.push(combo);
            for d in (0..dims.len()).rev() {
                idx[d] += 1;
                if idx[d] < lens[d] {
                    break;
                }
                idx[d] = 0;
            }
        }
        Ok(out)
    }
}

/// Where each `[sweep]` key is written in the file (for messages and for the key order).
struct KeyLocations {
    origin: String,
    /// Dotted key (as written, flattened) -> (order, line, column).
    found: BTreeMap<String, (usize, usize, usize)>,
}

impl KeyLocations {
    fn from_text(text: &str, origin: &str) -> Self {
        let mut found = BTreeMap::new();
        if let Ok(doc) = toml_edit::ImDocument::parse(text) {
            if let Some(t) = doc.get("sweep").and_then(|i| i.as_table_like()) {
                collect_locations(text, t, "", None, &mut found);
            }
        }
        KeyLocations {
            origin: origin.to_string(),
            found,
        }
    }

    fn order(&self, key: &str) -> Option<usize> {
        self.found.get(key).map(|l| l.0)
    }

    /// `file:line:column` of a key, or `file ([sweep], from --set)`.
    fn at(&self, key: &str) -> String {
        match self.found.get(key) {
            Some(&(_, line, col)) => format!("{}:{line}:{col}", self.origin),
            None => format!("{} ([sweep], from --set)", self.origin),
        }
    }
}

fn collect_locations(
    text: &str,
    t: &dyn toml_edit::TableLike,
    prefix: &str,
    outer: Option<(usize, usize)>,
    found: &mut BTreeMap<String, (usize, usize, usize)>,
) {
    for (k, item) in t.iter() {
        let name = if prefix.is_empty() {
            k.to_string()
        } else {
            format!("{prefix}.{k}")
        };
        // A dotted key is located at its first segment (the start of its line).
        let (line, col) = outer.unwrap_or_else(|| {
            t.get_key_value(k)
                .and_then(|(key, _)| key.span())
                .map(|s| line_col(text, s.start))
                .unwrap_or((0, 0))
        });
        let order = found.len();
        if prefix.is_empty()
            && (k == SEEDS_KEY || k == ZIP_KEY || k == HEADLINE_KEY || k == TRADEOFF_KEY)
        {
            found.insert(name, (order, line, col));
            continue;
        }
        match item.as_table_like() {
            // Unquoted dotted keys (`a.b = [..]`) arrive as nested tables.
            Some(sub) if !item.is_array() => {
                let here = if item.is_inline_table() || sub.is_dotted() {
                    Some((line, col))
                } else {
                    None
                };
                collect_locations(text, sub, &name, here, found)
            }
            _ => {
                found.insert(name, (order, line, col));
            }
        }
    }
}

use crate::scenario::locate::line_col;

/// Flatten nested tables of `[sweep]` (unquoted dotted keys) into dotted names.
fn flatten(prefix: &str, t: &toml::Table, out: &mut Vec<(String, toml::Value)>) {
    for (k, v) in t {
        let name = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        let reserved = prefix.is_empty()
            && (k == SEEDS_KEY || k == ZIP_KEY || k == HEADLINE_KEY || k == TRADEOFF_KEY);
        match v {
            toml::Value::Table(sub) if !reserved => flatten(&name, sub, out),
            _ => out.push((name, v.clone())),
        }
    }
}

fn parse_sweep_table(raw: &toml::Table, locs: &KeyLocations) -> Result<SweepSpec, SweepError> {
    let bad =
        |key: &str, msg: String| SweepError::Input(format!("{}: `{key}`: {msg}", locs.at(key)));
    let mut entries = vec![];
    flatten("", raw, &mut entries);
    // File order first; keys only known from --set afterwards, sorted (flatten is sorted).
    entries.sort_by_key(|(k, _)| locs.order(k).unwrap_or(usize::MAX));

    let mut seeds = 1u64;
    let mut headline: Option<Vec<String>> = None;
    let mut tradeoff: Vec<String> = vec![];
    let mut zip_raw: Option<toml::Value> = None;
    let mut keys: Vec<(String, Vec<toml::Value>)> = vec![];
    let mut normalised: BTreeMap<String, String> = BTreeMap::new();
    for (k, v) in entries {
        match k.as_str() {
            SEEDS_KEY => {
                seeds = match v.as_integer() {
                    Some(n) if n >= 1 && n as u64 <= MAX_RUNS as u64 => n as u64,
                    _ => {
                        return Err(bad(
                            "seeds",
                            format!(
                                "must be a whole number of repetitions, 1 to {MAX_RUNS} (got {v})"
                            ),
                        ))
                    }
                }
            }
            HEADLINE_KEY => {
                let list = v
                    .as_array()
                    .and_then(|a| {
                        a.iter()
                            .map(|x| x.as_str().filter(|s| !s.is_empty()).map(String::from))
                            .collect::<Option<Vec<_>>>()
                    })
                    .ok_or_else(|| bad("headline", "must be a list of metric names".into()))?;
                headline = Some(list);
            }
            TRADEOFF_KEY => {
                tradeoff = v
                    .as_array()
                    .and_then(|a| {
                        a.iter()
                            .map(|x| x.as_str().filter(|s| !s.is_empty()).map(String::from))
                            .collect::<Option<Vec<_>>>()
                    })
                    .filter(|l| l.len() == 2)
                    .ok_or_else(|| bad("tradeoff", "must name exactly two metrics".into()))?;
            }
            ZIP_KEY => zip_raw = Some(v),
            _ => {
                let segs = segments(&k).map_err(|m| bad(&k, m))?;
                let norm = segs.join(".");
                if norm == "simulation.seed" {
                    return Err(bad(&k, "cannot be swept: use `seeds = N` (seeds run from the scenario's seed upwards)".into()));
                }
                if segs.first().map(String::as_str) == Some("sweep") {
                    return Err(bad(&k, "a sweep cannot vary the [sweep] table".into()));
                }
                if let Some(prev) = normalised.insert(norm, k.clone()) {
                    return Err(bad(&k, format!("names the same setting as `{prev}`")));
                }
                let values = match v {
                    toml::Value::Array(a) if !a.is_empty() => a,
                    toml::Value::Array(_) => {
                        return Err(bad(&k, "empty list of values: give at least one".into()))
                    }
                    other => {
                        return Err(bad(
                            &k,
                            format!("must be a list of values to sweep, e.g. [{other}]"),
                        ))
                    }
                };
                keys.push((k, values));
            }
        }
    }

    let mut zips: Vec<Vec<usize>> = vec![];
    if let Some(z) = zip_raw {
        let groups = z.as_array().ok_or_else(|| {
            bad(
                "zip",
                "must be a list of key groups, e.g. [[\"a.b\", \"c.d\"]]".into(),
            )
        })?;
        let mut used: BTreeMap<usize, usize> = BTreeMap::new();
        for (gi, g) in groups.iter().enumerate() {
            let names = g
                .as_array()
                .and_then(|a| a.iter().map(|x| x.as_str()).collect::<Option<Vec<_>>>())
                .filter(|a| !a.is_empty())
                .ok_or_else(|| {
                    bad(
                        "zip",
                        format!("group {gi} must be a non-empty list of swept keys"),
                    )
                })?;
            let mut idx = vec![];
            for name in names {
                let norm = segments(name).map(|s| s.join(".")).unwrap_or_default();
                let i = keys
                    .iter()
                    .position(|(k, _)| segments(k).map(|s| s.join(".")).ok() == Some(norm.clone()))
                    .ok_or_else(|| {
                        bad(
                            "zip",
                            format!(
                                "`{name}` is not a swept key (give it a list of values in [sweep])"
                            ),
                        )
                    })?;
                if let Some(other) = used.insert(i, gi) {
                    return Err(bad(
                        "zip",
                        format!("`{name}` is in zip groups {other} and {gi}; a key can be in one group only"),
                    ));
                }
                idx.push(i);
            }
            let len0 = keys[idx[0]].1.len();
            for &i in &idx[1..] {
                if keys[i].1.len() != len0 {
                    return Err(bad(
                        "zip",
                        format!(
                            "zipped keys need lists of equal length: `{}` has {len0} values but `{}` has {}",
                            keys[idx[0]].0,
                            keys[i].0,
                            keys[i].1.len()
                        ),
                    ));
                }
            }
            zips.push(idx);
        }
    }

    Ok(SweepSpec {
        keys,
        zips,
        seeds,
        headline: headline
            .unwrap_or_else(|| DEFAULT_HEADLINE.iter().map(|s| s.to_string()).collect()),
        tradeoff,
    })
}

/// A sweep value as JSON (for `sweep.json`, `shard.json` and the CSV cells).
pub fn toml_to_json(v: &toml::Value) -> Result<serde_json::Value, String> {
    use serde_json::Value as J;
    Ok(match v {
        toml::Value::String(s) => J::String(s.clone()),
        toml::Value::Integer(i) => J::from(*i),
        toml::Value::Float(f) => J::Number(
            serde_json::Number::from_f64(*f)
                .ok_or_else(|| format!("value {f} is not a finite number"))?,
        ),
        toml::Value::Boolean(b) => J::Bool(*b),
        toml::Value::Datetime(d) => J::String(d.to_string()),
        toml::Value::Array(a) => J::Array(a.iter().map(toml_to_json).collect::<Result<_, _>>()?),
        toml::Value::Table(t) => {
            let mut m = serde_json::Map::new();
            for (k, x) in t {
                m.insert(k.clone(), toml_to_json(x)?);
            }
            J::Object(m)
        }
    })
}

#[cfg(test)]
mod tests;
