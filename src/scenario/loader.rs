//! Loading a scenario: TOML text -> checked [`Scenario`] (README "Scenario files").
//!
//! 1. Parse with `toml_edit`, which keeps the span of every key and value. A syntax error
//!    stops here.
//! 2. Deserialise the file section by section (each `[[workload]]`, `[[rooms]]`, ... on its
//!    own, so that one bad section does not hide the others), mapping every type error or
//!    unknown key back to its key path, line and column.
//! 3. Apply `--set` overrides (file `--set`, line = which override) and check the result.
//! 4. Resolve servers, run the semantic checks of [`super::validate`], check `[sweep]`.
//!
//! Loading reads only; nothing is written.

use super::locate::{guess_key, line_col, KeyPath, LazyLocator, Locator, Seg};
use super::schema::*;
use super::typed::*;
use super::validate::{self, Problem, MAX_SERVERS};
use super::{metric_names, set, Scenario, ServerSpec};
use std::fmt;
use std::path::Path;
use toml_edit::ImDocument;

/// A problem in a scenario, located as precisely as we can.
#[derive(Clone, Debug, PartialEq)]
pub struct ScenarioError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub key: String,
    pub message: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.file, self.line, self.column)?;
        if !self.key.is_empty() {
            write!(f, "`{}`: ", self.key)?;
        }
        write!(f, "{}", self.message)
    }
}

impl std::error::Error for ScenarioError {}

/// The "file" named by errors that come from a `--set` override; their line is the
/// override's position among the `--set` arguments (1-based), their column 1.
pub const SET_ORIGIN: &str = "--set";

/// Load and check a scenario file, applying `--set KEY=VALUE` arguments.
pub fn load_path(path: &Path, sets: &[String]) -> Result<Scenario, Vec<ScenarioError>> {
    let origin = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| {
        vec![ScenarioError {
            file: origin.clone(),
            line: 0,
            column: 0,
            key: String::new(),
            message: format!("cannot read: {e}"),
        }]
    })?;
    let text = utf8(&bytes, &origin).map_err(|e| vec![e])?;
    load_str(text, &origin, sets)
}

/// The file as text, or an error at the line and column of its first byte that is not
/// UTF-8 (columns count the characters before it, as everywhere else).
pub fn utf8<'a>(bytes: &'a [u8], origin: &str) -> Result<&'a str, ScenarioError> {
    std::str::from_utf8(bytes).map_err(|e| {
        let good = e.valid_up_to();
        // Everything before `good` is valid UTF-8.
        let before = std::str::from_utf8(&bytes[..good]).unwrap_or("");
        let (line, column) = line_col(before, good);
        let bad: Vec<String> = bytes[good..]
            .iter()
            .take(e.error_len().unwrap_or(bytes.len() - good).max(1))
            .map(|b| format!("0x{b:02x}"))
            .collect();
        // The key being written when the bad byte came (the text up to the end of its line,
        // with the bad bytes replaced, is enough to guess it).
        let line_end = bytes[good..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(bytes.len(), |i| good + i);
        let lossy = String::from_utf8_lossy(&bytes[..line_end]);
        ScenarioError {
            file: origin.into(),
            line,
            column,
            key: guess_key(&lossy, good),
            message: format!(
                "{} {} {} not UTF-8: a scenario is UTF-8 text",
                if bad.len() > 1 { "bytes" } else { "byte" },
                bad.join(" "),
                if bad.len() > 1 { "are" } else { "is" },
            ),
        }
    })
}

/// Load and check scenario text; `origin` names it in errors.
pub fn load_str(text: &str, origin: &str, sets: &[String]) -> Result<Scenario, Vec<ScenarioError>> {
    let mut overrides = vec![];
    let mut errors = vec![];
    for (i, arg) in sets.iter().enumerate() {
        match set::split_assignment(arg) {
            Ok(kv) => overrides.push(kv),
            Err(m) => errors.push(ScenarioError {
                file: SET_ORIGIN.into(),
                line: i + 1,
                column: 1,
                key: arg
                    .split_once('=')
                    .map(|(k, _)| k.trim())
                    .unwrap_or("")
                    .into(),
                message: m,
            }),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    load_with_overrides(text, origin, &overrides)
}

/// Load and check scenario text with overrides already split into (dotted key, value)
/// (`--set` arguments, or one sweep point's values).
pub fn load_with_overrides(
    text: &str,
    origin: &str,
    overrides: &[(String, toml::Value)],
) -> Result<Scenario, Vec<ScenarioError>> {
    let doc = ImDocument::parse(text).map_err(|e| {
        let offset = e.span().map(|s| s.start).unwrap_or(0);
        let (line, column) = line_col(text, offset);
        vec![ScenarioError {
            file: origin.into(),
            line,
            column,
            key: guess_key(text, offset),
            message: first_line(e.message()),
        }]
    })?;
    let loc = LazyLocator::new(doc.as_table());
    let mut ctx = Ctx {
        text,
        origin,
        loc: &loc,
        overrides: vec![],
        errors: vec![],
    };
    for (i, (k, _)) in overrides.iter().enumerate() {
        match KeyPath::from_dotted(k) {
            Ok(p) => ctx.overrides.push(p),
            Err(m) => {
                ctx.set_error(i, k, strip_key(&m, k));
                ctx.overrides.push(KeyPath::root().key(k));
            }
        }
    }
    if !ctx.errors.is_empty() {
        return Err(ctx.finish());
    }

    // The file as written, minus what an override replaces.
    for te in typed_errors(doc.as_table(), &loc) {
        if !ctx.replaced_by_override(&te) {
            ctx.at(&te.path, te.offset, te.message);
        }
    }
    if !ctx.errors.is_empty() {
        return Err(ctx.finish());
    }

    let mut table: toml::Table = match toml::from_str(text) {
        Ok(t) => t,
        Err(e) => {
            ctx.at(
                &KeyPath::root(),
                e.span().map(|s| s.start),
                e.message().to_string(),
            );
            return Err(ctx.finish());
        }
    };
    for (i, (k, v)) in overrides.iter().enumerate() {
        if let Err(m) = indexed_lists_exist(&table, &ctx.overrides[i]) {
            ctx.set_error(i, k, m);
            continue;
        }
        if let Err(m) = set::apply_set(&mut table, k, v.clone()) {
            ctx.set_error(i, k, strip_key(&m, k));
        }
    }
    if !ctx.errors.is_empty() {
        return Err(ctx.finish());
    }
    if !overrides.is_empty() {
        if let Err(list) = typed_table(&table) {
            for (path, message) in list {
                let i = ctx.blame(&path);
                // Name the key as the user wrote it when the error is about a table on its way.
                let key = match ctx.overrides.get(i) {
                    Some(o) if o.starts_with(&path) => o.to_string(),
                    _ => path.to_string(),
                };
                ctx.set_error(i, &key, message);
            }
            return Err(ctx.finish());
        }
    }

    let file: ScenarioFile = match table.clone().try_into() {
        Ok(f) => f,
        Err(e) => {
            let e: toml::de::Error = e;
            ctx.at(&KeyPath::root(), None, e.message().to_string());
            return Err(ctx.finish());
        }
    };
    let servers = match resolve_servers(&file) {
        Ok(s) => s,
        Err(p) => {
            ctx.problem(&p);
            return Err(ctx.finish());
        }
    };
    let problems = validate::check(&file, &servers);
    for p in &problems {
        ctx.problem(p);
    }
    check_sweep(&file, &table, &problems, &mut ctx);
    if !ctx.errors.is_empty() {
        return Err(ctx.finish());
    }
    let overrides = std::mem::take(&mut ctx.overrides);
    Ok(Scenario {
        file,
        servers,
        origin: origin.into(),
        source: super::Source {
            text: text.into(),
            overrides,
        },
    })
}

/// A finding about a loaded scenario (the size estimate's refusals), located like a load
/// error: in the `--set` override that set `path`, else at `path` in the file's text.
pub fn locate_in_file(scn: &Scenario, path: &KeyPath, message: String) -> ScenarioError {
    let text: &str = &scn.source.text;
    if let Some(i) = scn
        .source
        .overrides
        .iter()
        .rposition(|o| path.starts_with(o))
    {
        return ScenarioError {
            file: SET_ORIGIN.into(),
            line: i + 1,
            column: 1,
            key: path.to_string(),
            message,
        };
    }
    let (line, column) = match ImDocument::parse(text) {
        Ok(doc) => {
            let loc = Locator::new(doc.as_table());
            loc.offset_of(path)
                .map(|o| line_col(text, o))
                .unwrap_or((1, 1))
        }
        Err(_) => (1, 1),
    };
    ScenarioError {
        file: scn.origin.clone(),
        line,
        column,
        key: path.to_string(),
        message,
    }
}

/// An override can index only lists the scenario has (`set.rs` would make a table of a
/// missing one, which then fails with a confusing type error).
fn indexed_lists_exist(table: &toml::Table, path: &KeyPath) -> Result<(), String> {
    let mut cur: Option<&toml::Value> = None;
    for (n, seg) in path.0.iter().enumerate() {
        let here = KeyPath(path.0[..n].to_vec());
        cur = match (seg, cur) {
            (Seg::Key(k), None) => table.get(k),
            (Seg::Key(k), Some(toml::Value::Table(t))) => t.get(k),
            (Seg::Index(i), Some(toml::Value::Array(a))) => a.get(*i),
            (Seg::Index(_), None | Some(toml::Value::Table(_))) => {
                return Err(format!("`{here}` has no entries to index"));
            }
            _ => None,
        };
        if cur.is_none() {
            return match path.0.get(n + 1) {
                Some(Seg::Index(_)) => Err(format!(
                    "`{}` has no entries to index",
                    path_to(path, n + 1)
                )),
                _ => Ok(()),
            };
        }
    }
    Ok(())
}

fn path_to(path: &KeyPath, n: usize) -> KeyPath {
    KeyPath(path.0[..n].to_vec())
}

/// Where errors go while loading one scenario.
struct Ctx<'a> {
    text: &'a str,
    origin: &'a str,
    loc: &'a LazyLocator<'a>,
    /// Key paths of the overrides, in order.
    overrides: Vec<KeyPath>,
    errors: Vec<ScenarioError>,
}

impl Ctx<'_> {
    fn at(&mut self, path: &KeyPath, offset: Option<usize>, message: String) {
        let offset = offset.or_else(|| self.loc.offset_of(path));
        let (line, column) = offset.map(|o| line_col(self.text, o)).unwrap_or((1, 1));
        self.errors.push(ScenarioError {
            file: self.origin.into(),
            line,
            column,
            key: path.to_string(),
            message,
        });
    }

    fn set_error(&mut self, i: usize, key: &str, message: String) {
        self.errors.push(ScenarioError {
            file: SET_ORIGIN.into(),
            line: i + 1,
            column: 1,
            key: key.into(),
            message,
        });
    }

    /// A semantic problem: in the override that set it, else in the file.
    fn problem(&mut self, p: &Problem) {
        match self.overrides.iter().rposition(|o| p.path.starts_with(o)) {
            Some(i) => self.set_error(i, &p.path.to_string(), p.message.clone()),
            None => {
                let offset = if p.at_key {
                    self.loc.key_offset_of(&p.path)
                } else {
                    None
                };
                self.at(&p.path, offset, p.message.clone())
            }
        }
    }

    /// An error of the file as written that an override replaces (or fills in).
    fn replaced_by_override(&self, te: &TypedError) -> bool {
        let missing = missing_field(&te.message).map(|f| te.path.key(f));
        self.overrides
            .iter()
            .any(|o| te.path.starts_with(o) || missing.as_ref().is_some_and(|m| o.starts_with(m)))
    }

    /// The override most likely behind an error found after applying them all.
    fn blame(&self, path: &KeyPath) -> usize {
        self.overrides
            .iter()
            .rposition(|o| path.starts_with(o) || o.starts_with(path))
            .unwrap_or(self.overrides.len().saturating_sub(1))
    }

    /// Errors in file order (the file's first, then `--set`'s), duplicates dropped.
    fn finish(&mut self) -> Vec<ScenarioError> {
        let mut out = std::mem::take(&mut self.errors);
        out.sort_by_key(|e| (e.file == SET_ORIGIN, e.line, e.column));
        out.dedup();
        out
    }
}

/// The `[sweep]` table with nested tables (from bare dotted keys) turned into dotted paths.
fn flatten_sweep(sweep: &toml::Table) -> Vec<(String, toml::Value)> {
    fn walk(prefix: &str, t: &toml::Table, out: &mut Vec<(String, toml::Value)>) {
        for (k, v) in t {
            let key = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            match v {
                toml::Value::Table(inner)
                    if !(prefix.is_empty()
                        && ["seeds", "zip", "headline", "tradeoff"].contains(&k.as_str())) =>
                {
                    walk(&key, inner, out)
                }
                _ => out.push((key, v.clone())),
            }
        }
    }
    let mut out = vec![];
    walk("", sweep, &mut out);
    out
}

/// `[sweep]`: `seeds` an integer >= 1, `zip` a list of lists of swept keys, `headline` a
/// list of metric names, every other key
/// a dotted path whose values each make a valid scenario.
fn check_sweep(file: &ScenarioFile, table: &toml::Table, base: &[Problem], ctx: &mut Ctx) {
    let Some(sweep) = &file.sweep else {
        return;
    };
    let sp = KeyPath::root().key("sweep");
    let mut swept: Vec<(&str, usize)> = vec![];
    let mut problems: Vec<Problem> = vec![];
    let mut push = |path: KeyPath, message: String| problems.push(Problem::new(path, message));
    // `network.loss = [...]` (a bare dotted key) is the same swept key as `"network.loss"`.
    let flat = flatten_sweep(sweep);
    for (k, v) in &flat {
        let v = v.clone();
        let v = &v;
        let kp = sp.key(k);
        match k.as_str() {
            "seeds" => {
                if !matches!(v, toml::Value::Integer(n) if *n >= 1) {
                    push(kp, format!("must be an integer of at least 1 (got {v})"));
                }
            }
            "zip" => {}
            // The metrics a sweep's report and plots lead with, and the two metrics of
            // the trade-off chart (not scenario keys).
            "headline" | "tradeoff" => {
                let ok = v.as_array().is_some_and(|a| a.iter().all(|x| x.is_str()));
                if !ok {
                    push(kp, "must be a list of metric names".to_string());
                    continue;
                }
                let n = v.as_array().map_or(0, Vec::len);
                if k == "tradeoff" && n != 2 {
                    push(
                        kp,
                        format!("must name exactly two metrics, e.g. [\"rtc.ghost_ms.p50\", \"federation.attempts\"] (got {n})"),
                    );
                    continue;
                }
                for (j, name) in v.as_array().into_iter().flatten().enumerate() {
                    let name = name.as_str().unwrap_or("");
                    if !metric_names::is_known_metric(name) {
                        push(
                            kp.index(j),
                            format!(
                                "`{name}` is not a metric a run reports ({})",
                                metric_names::hint(name)
                            ),
                        );
                    }
                }
            }
            _ => {
                let Some(values) = v.as_array() else {
                    push(
                        kp,
                        format!("a swept key takes a list of values, e.g. [1, 2] (got {v})"),
                    );
                    continue;
                };
                if values.is_empty() {
                    push(
                        kp,
                        "the value list is empty: give at least one value".into(),
                    );
                    continue;
                }
                swept.push((k.as_str(), values.len()));
                for (j, value) in values.iter().enumerate() {
                    let mut t = table.clone();
                    t.remove("sweep");
                    if let Err(m) = set::apply_set(&mut t, k, value.clone()) {
                        push(kp.clone(), strip_key(&m, k));
                        break;
                    }
                    if let Err(list) = typed_table(&t) {
                        let Some((path, msg)) = list.first() else {
                            continue;
                        };
                        let same = KeyPath::from_dotted(k).is_ok_and(|kk| &kk == path);
                        let msg = if same {
                            msg.clone()
                        } else {
                            format!("`{path}`: {msg}")
                        };
                        if list
                            .first()
                            .is_some_and(|(_, m)| m.starts_with("unknown field"))
                        {
                            push(kp.clone(), format!("`{k}` is not a scenario key: {msg}"));
                            break;
                        }
                        push(kp.index(j), msg);
                        continue;
                    }
                    if let Some(p) = sweep_point_problem(&t, base) {
                        let same = KeyPath::from_dotted(k).is_ok_and(|kk| kk == p.path);
                        let msg = if same {
                            p.message
                        } else {
                            format!("`{}`: {}", p.path, p.message)
                        };
                        push(kp.index(j), msg);
                    }
                }
            }
        }
    }
    if let Some(zip) = sweep.get("zip") {
        let zp = sp.key("zip");
        let mut used: Vec<&str> = vec![];
        match zip.as_array() {
            None => push(zp, "must be a list of lists of swept keys".into()),
            Some(groups) => {
                for (g, group) in groups.iter().enumerate() {
                    let gp = zp.index(g);
                    let Some(keys) = group.as_array() else {
                        push(gp, "must be a list of swept keys".into());
                        continue;
                    };
                    let mut len: Option<usize> = None;
                    for (j, key) in keys.iter().enumerate() {
                        let Some(key) = key.as_str() else {
                            push(gp.index(j), "must be a swept key (a string)".into());
                            continue;
                        };
                        let Some(&(_, n)) = swept.iter().find(|(s, _)| *s == key) else {
                            push(
                                gp.index(j),
                                format!("`{key}` is not a swept key of `[sweep]`"),
                            );
                            continue;
                        };
                        if used.contains(&key) {
                            push(gp.index(j), format!("`{key}` is zipped twice"));
                        }
                        used.push(key);
                        match len {
                            Some(l) if l != n => push(
                                gp.index(j),
                                format!("zipped keys need as many values each: `{key}` has {n}, the first key {l}"),
                            ),
                            None => len = Some(n),
                            _ => {}
                        }
                    }
                }
            }
        }
    }
    for p in &problems {
        ctx.problem(p);
    }
}

/// The first semantic problem a sweep value brings that the base scenario does not have.
fn sweep_point_problem(t: &toml::Table, base: &[Problem]) -> Option<Problem> {
    let file: ScenarioFile = t.clone().try_into().ok()?;
    let servers = match resolve_servers(&file) {
        Ok(s) => s,
        Err(p) => return Some(p),
    };
    validate::check(&file, &servers)
        .into_iter()
        .find(|p| !base.contains(p))
}

/// Merge built-in defaults < `[servers.defaults]` < each list entry.
pub(crate) fn resolve_servers(file: &ScenarioFile) -> Result<Vec<ServerSpec>, Problem> {
    let sp = KeyPath::root().key("servers");
    let mut names: Vec<String> = vec![];
    if let Some(n) = file.servers.count {
        if n > MAX_SERVERS {
            return Err(Problem::new(
                sp.key("count"),
                format!("at most {MAX_SERVERS} servers (got {n})"),
            ));
        }
        let prefix = file.servers.name_prefix.as_deref().unwrap_or("hs");
        names.extend((1..=n).map(|i| format!("{prefix}{i}")));
    }
    let mut seen: std::collections::BTreeSet<String> = names.iter().cloned().collect();
    for e in &file.servers.list {
        if seen.insert(e.name.clone()) {
            names.push(e.name.clone());
        }
    }
    let defaults = toml::Value::try_from(&file.servers.defaults)
        .map_err(|e| Problem::new(sp.key("defaults"), e.to_string()))?;
    // Each listed name to its first entry.
    let listed: std::collections::BTreeMap<&str, usize> = file
        .servers
        .list
        .iter()
        .enumerate()
        .rev()
        .map(|(i, e)| (e.name.as_str(), i))
        .collect();
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        let cfg = match listed.get(name.as_str()).copied() {
            None => file.servers.defaults.clone(),
            Some(i) => {
                let mut v = defaults.clone();
                deep_merge(
                    &mut v,
                    &toml::Value::Table(file.servers.list[i].overrides.clone()),
                );
                v.try_into().map_err(|e: toml::de::Error| {
                    Problem::new(sp.key("list").index(i), first_line(e.message()))
                })?
            }
        };
        out.push(ServerSpec { name, cfg });
    }
    Ok(out)
}

fn is_dist(v: &toml::Value) -> bool {
    v.as_table().is_some_and(|t| t.contains_key("dist"))
}

pub(crate) fn deep_merge(base: &mut toml::Value, over: &toml::Value) {
    match (base, over) {
        (toml::Value::Table(b), toml::Value::Table(o)) => {
            for (k, v) in o {
                match b.get_mut(k) {
                    // A distribution is replaced whole: its keys depend on its `dist`.
                    Some(bv) if bv.is_table() && v.is_table() && !is_dist(v) => deep_merge(bv, v),
                    _ => {
                        b.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (b, o) => *b = o.clone(),
    }
}
