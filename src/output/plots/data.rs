//! Reading a run folder: CSVs streamed by column name, `summary.json` and its histograms.
//! Nothing here panics on bad input: a missing file is `Ok(None)`, a malformed one an
//! `Err` with a message that names the file and line.

use serde_json::Value;
use std::path::Path;

/// Streams the rows of `path`, giving `f` the cells of `cols` (by header name) and the
/// 1-based line number. `Ok(None)`: no such file. `Err`: unreadable, a column missing,
/// a ragged row, or whatever `f` rejects.
pub fn read_csv<F>(path: &Path, cols: &[&str], f: F) -> Result<Option<usize>, String>
where
    F: FnMut(usize, &[&str]) -> Result<(), String>,
{
    read_csv_with(path, cols, &[], f).map(|r| r.map(|(rows, _)| rows))
}

/// [`read_csv`] with `optional` columns after `cols`: a missing one gives empty cells.
/// Returns the rows and, per optional column, whether the file has it.
pub fn read_csv_with<F>(
    path: &Path,
    cols: &[&str],
    optional: &[&str],
    mut f: F,
) -> Result<Option<(usize, Vec<bool>)>, String>
where
    F: FnMut(usize, &[&str]) -> Result<(), String>,
{
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| path.display().to_string());
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{name}: {e}")),
    };
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(std::io::BufReader::new(file));
    let headers = rdr.headers().map_err(|e| format!("{name}: {e}"))?.clone();
    let mut idx: Vec<Option<usize>> = Vec::with_capacity(cols.len() + optional.len());
    for c in cols {
        match headers.iter().position(|h| h.trim() == *c) {
            Some(i) => idx.push(Some(i)),
            None => return Err(format!("{name} has no column `{c}`")),
        }
    }
    let mut present = vec![];
    for c in optional {
        let i = headers.iter().position(|h| h.trim() == *c);
        present.push(i.is_some());
        idx.push(i);
    }
    let mut rows = 0;
    let mut rec = csv::StringRecord::new();
    loop {
        match rdr.read_record(&mut rec) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => return Err(format!("{name}: {e}")),
        }
        let line = rec
            .position()
            .map(|p| p.line() as usize)
            .unwrap_or(rows + 2);
        let cells: Vec<&str> = idx
            .iter()
            .map(|i| i.and_then(|i| rec.get(i)).unwrap_or("").trim())
            .collect();
        f(line, &cells).map_err(|e| format!("{name} line {line}: {e}"))?;
        rows += 1;
    }
    Ok(Some((rows, present)))
}

/// A number cell: empty is `None`, anything else must parse.
pub fn num(col: &str, s: &str) -> Result<Option<f64>, String> {
    if s.is_empty() {
        return Ok(None);
    }
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(Some(v)),
        _ => Err(format!("`{col}` is not a number: {s:?}")),
    }
}

/// A fault interval from `annotations.faults`.
#[derive(Clone, Debug, PartialEq)]
pub struct Fault {
    pub kind: String,
    pub servers: Vec<String>,
    pub from_ms: f64,
    pub to_ms: Option<f64>,
}

impl Fault {
    /// "partition hs7", "crash hs2, hs3 +1", "link hs1–hs2" (a link joins its two ends).
    pub fn label(&self) -> String {
        let mut s = self.kind.clone();
        if !self.servers.is_empty() {
            let shown: Vec<&str> = self.servers.iter().take(2).map(String::as_str).collect();
            s.push(' ');
            s.push_str(&shown.join(if self.kind == "link" { "–" } else { ", " }));
            if self.servers.len() > 2 {
                s.push_str(&format!(" +{}", self.servers.len() - 2));
            }
        }
        s
    }
}

/// `summary.json`, read tolerantly: every accessor returns an empty value when a field
/// is missing or of the wrong type.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    pub raw: Value,
}

impl Summary {
    /// `Ok(None)` when the folder has no summary.json.
    pub fn load(dir: &Path) -> Result<Option<Summary>, String> {
        let path = dir.join("summary.json");
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("summary.json: {e}")),
        };
        let raw: Value = serde_json::from_str(&text)
            .map_err(|e| format!("summary.json is not valid JSON: {e}"))?;
        if !raw.is_object() {
            return Err("summary.json is not a JSON object".into());
        }
        Ok(Some(Summary { raw }))
    }

    pub fn str(&self, key: &str) -> Option<&str> {
        self.raw.get(key).and_then(Value::as_str)
    }
    pub fn f64(&self, key: &str) -> Option<f64> {
        self.raw.get(key).and_then(Value::as_f64)
    }
    pub fn metric(&self, name: &str) -> Option<f64> {
        self.raw
            .get("metrics")
            .and_then(|m| m.get(name))
            .and_then(Value::as_f64)
    }
    pub fn duration_ms(&self) -> Option<f64> {
        self.f64("simulated_duration_ms").filter(|d| *d > 0.0)
    }
    fn annotations(&self) -> Option<&Value> {
        self.raw.get("annotations")
    }
    pub fn faults(&self) -> Vec<Fault> {
        let mut out = vec![];
        let Some(list) = self
            .annotations()
            .and_then(|a| a.get("faults"))
            .and_then(Value::as_array)
        else {
            return out;
        };
        for f in list {
            let Some(from_ms) = f.get("from_ms").and_then(Value::as_f64) else {
                continue;
            };
            let servers = f
                .get("servers")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|s| s.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            out.push(Fault {
                kind: f
                    .get("kind")
                    .and_then(Value::as_str)
                    .unwrap_or("fault")
                    .to_string(),
                servers,
                from_ms,
                to_ms: f.get("to_ms").and_then(Value::as_f64),
            });
        }
        out
    }
    pub fn times(&self, key: &str) -> Vec<f64> {
        let mut v: Vec<f64> = self
            .annotations()
            .and_then(|a| a.get(key))
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_f64).collect())
            .unwrap_or_default();
        v.sort_by(f64::total_cmp);
        v
    }
    /// (server name, inbound policy) from `annotations.servers`.
    pub fn server_policies(&self) -> Vec<(String, String)> {
        self.annotations()
            .and_then(|a| a.get("servers"))
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|s| {
                        Some((
                            s.get("name")?.as_str()?.to_string(),
                            s.get("policy")?.as_str()?.to_string(),
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
    /// A histogram from `histograms.<name>`: `Ok(None)` when absent.
    pub fn histogram(&self, name: &str) -> Result<Option<Histogram>, String> {
        match self.raw.get("histograms").and_then(|h| h.get(name)) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => Histogram::from_json(v)
                .map(Some)
                .map_err(|e| format!("summary.json histograms.{name}: {e}")),
        }
    }
}

/// A histogram as buckets [lo, hi) with counts, plus counts below the first bucket
/// (`underflow`, e.g. zeros on a log scale) and above the last (`overflow`).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Histogram {
    pub buckets: Vec<(f64, f64, f64)>,
    pub underflow: f64,
    pub overflow: f64,
}

fn get_num(v: &Value, keys: &[&str]) -> Option<f64> {
    keys.iter().find_map(|k| v.get(*k).and_then(Value::as_f64))
}

impl Histogram {
    pub fn total(&self) -> f64 {
        self.underflow + self.overflow + self.buckets.iter().map(|b| b.2).sum::<f64>()
    }

    /// Reads the forms documented in docs/plots.md: explicit `edges` + `counts`; a list of
    /// `buckets` ([lo, hi, count] or {lo, hi, count}); `kind = "log"` with
    /// `buckets_per_decade` and the first bucket's lower edge (`min`/`lo`/`start`) or
    /// exponent index (`first_index`/`offset`); `kind = "linear"` with `width` and `min`.
    pub fn from_json(v: &Value) -> Result<Histogram, String> {
        if !v.is_object() {
            return Err("not an object".into());
        }
        let underflow = get_num(v, &["underflow", "zero_count", "zeros", "below"]).unwrap_or(0.0);
        let overflow = get_num(v, &["overflow", "above"]).unwrap_or(0.0);
        let mut h = Histogram {
            buckets: vec![],
            underflow,
            overflow,
        };
        if let Some(list) = v.get("buckets").and_then(Value::as_array) {
            for b in list {
                let t = if let Some(a) = b.as_array() {
                    (
                        a.first().and_then(Value::as_f64),
                        a.get(1).and_then(Value::as_f64),
                        a.get(2).and_then(Value::as_f64),
                    )
                } else {
                    (
                        get_num(b, &["lo", "min", "from"]),
                        get_num(b, &["hi", "max", "to"]),
                        get_num(b, &["count", "n"]),
                    )
                };
                match t {
                    (Some(lo), Some(hi), Some(c)) => h.buckets.push((lo, hi, c)),
                    _ => return Err("a bucket lacks lo, hi or count".into()),
                }
            }
            return h.checked();
        }
        // The sparse form `summary.json` writes (observe::stats::LogHistogram): `counts`
        // maps a bucket index i to its count, bucket i being (10^(i/B), 10^((i+1)/B)]
        // with B = `buckets_per_decade`; values near zero are in `zeros`.
        if let Some(sparse) = v.get("counts").and_then(Value::as_object) {
            let b = get_num(v, &["buckets_per_decade"])
                .filter(|b| *b > 0.0)
                .ok_or("sparse log histogram without a positive `buckets_per_decade`")?;
            let mut idx: Vec<(i64, f64)> = vec![];
            for (k, c) in sparse {
                let i: i64 = k
                    .parse()
                    .map_err(|_| format!("bucket index {k:?} is not an integer"))?;
                idx.push((i, c.as_f64().ok_or("a count is not a number")?));
            }
            idx.sort_by_key(|x| x.0);
            // Dense between the first and last bucket, so a CDF drawn from it is a staircase.
            if let (Some(first), Some(last)) = (idx.first().copied(), idx.last().copied()) {
                let mut it = idx.iter().peekable();
                for i in first.0..=last.0 {
                    let c = match it.peek() {
                        Some((j, c)) if *j == i => {
                            it.next();
                            *c
                        }
                        _ => 0.0,
                    };
                    let lo = 10f64.powf(i as f64 / b);
                    let hi = 10f64.powf((i + 1) as f64 / b);
                    h.buckets.push((lo, hi, c));
                }
            }
            return h.checked();
        }
        let counts: Vec<f64> = match v.get("counts").and_then(Value::as_array) {
            Some(a) => a
                .iter()
                .map(|c| c.as_f64().ok_or("a count is not a number"))
                .collect::<Result<_, _>>()?,
            None => return Err("no `counts` or `buckets`".into()),
        };
        if let Some(edges) = v
            .get("edges")
            .or_else(|| v.get("bounds"))
            .and_then(Value::as_array)
        {
            let e: Vec<f64> = edges.iter().filter_map(Value::as_f64).collect();
            if e.len() != counts.len() + 1 {
                return Err(format!(
                    "{} edges for {} counts (want counts + 1)",
                    e.len(),
                    counts.len()
                ));
            }
            for (i, c) in counts.iter().enumerate() {
                h.buckets.push((e[i], e[i + 1], *c));
            }
            return h.checked();
        }
        let kind = v.get("kind").and_then(Value::as_str).unwrap_or("log");
        match kind {
            "log" => {
                let b = get_num(v, &["buckets_per_decade"])
                    .filter(|b| *b > 0.0)
                    .ok_or("log histogram without a positive `buckets_per_decade`")?;
                let start_exp = if let Some(lo) = get_num(
                    v,
                    &["min", "lo", "start", "min_value", "first_edge", "lowest"],
                ) {
                    if lo <= 0.0 {
                        return Err("log histogram with a non-positive first edge".into());
                    }
                    lo.log10() * b
                } else {
                    get_num(v, &["first_index", "offset", "min_index", "first_bucket"])
                        .unwrap_or(0.0)
                };
                for (i, c) in counts.iter().enumerate() {
                    let lo = 10f64.powf((start_exp + i as f64) / b);
                    let hi = 10f64.powf((start_exp + i as f64 + 1.0) / b);
                    h.buckets.push((lo, hi, *c));
                }
            }
            "linear" => {
                let w = get_num(v, &["width", "bucket_width"])
                    .filter(|w| *w > 0.0)
                    .ok_or("linear histogram without a positive `width`")?;
                let lo0 = get_num(v, &["min", "lo", "start"]).unwrap_or(0.0);
                for (i, c) in counts.iter().enumerate() {
                    h.buckets
                        .push((lo0 + i as f64 * w, lo0 + (i + 1) as f64 * w, *c));
                }
            }
            other => return Err(format!("unknown histogram kind {other:?}")),
        }
        h.checked()
    }

    fn checked(self) -> Result<Histogram, String> {
        for (lo, hi, c) in &self.buckets {
            if !(lo.is_finite() && hi.is_finite() && c.is_finite()) || hi < lo || *c < 0.0 {
                return Err(format!("bad bucket [{lo}, {hi}) count {c}"));
            }
        }
        Ok(self)
    }
}
