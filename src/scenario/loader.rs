//! Loading a scenario: TOML text -> checked [`Scenario`]. (Minimal version; errors with
//! positions, `--set` and semantic checks are filled in by the loader work.)

use super::schema::*;
use super::{Scenario, ServerSpec};
use std::fmt;
use std::path::Path;

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

pub fn load_path(path: &Path, sets: &[String]) -> Result<Scenario, Vec<ScenarioError>> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        vec![ScenarioError {
            file: path.display().to_string(),
            line: 0,
            column: 0,
            key: String::new(),
            message: format!("cannot read: {e}"),
        }]
    })?;
    load_str(&text, &path.display().to_string(), sets)
}

pub fn load_str(
    text: &str,
    origin: &str,
    _sets: &[String],
) -> Result<Scenario, Vec<ScenarioError>> {
    let file: ScenarioFile = toml::from_str(text).map_err(|e| {
        let (line, column) = e.span().map(|s| line_col(text, s.start)).unwrap_or((0, 0));
        vec![ScenarioError {
            file: origin.into(),
            line,
            column,
            key: String::new(),
            message: e.message().to_string(),
        }]
    })?;
    let servers = resolve_servers(&file).map_err(|m| {
        vec![ScenarioError {
            file: origin.into(),
            line: 0,
            column: 0,
            key: "servers".into(),
            message: m,
        }]
    })?;
    Ok(Scenario {
        file,
        servers,
        origin: origin.into(),
    })
}

pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before
        .rsplit('\n')
        .next()
        .map(|l| l.chars().count())
        .unwrap_or(0)
        + 1;
    (line, col)
}

/// Merge built-in defaults < `[servers.defaults]` < each list entry.
pub(crate) fn resolve_servers(file: &ScenarioFile) -> Result<Vec<ServerSpec>, String> {
    let defaults = toml::Value::try_from(&file.servers.defaults).map_err(|e| e.to_string())?;
    let mut names: Vec<String> = vec![];
    if let Some(n) = file.servers.count {
        let prefix = file
            .servers
            .name_prefix
            .clone()
            .unwrap_or_else(|| "hs".into());
        for i in 1..=n {
            names.push(format!("{prefix}{i}"));
        }
    }
    for e in &file.servers.list {
        if !names.contains(&e.name) {
            names.push(e.name.clone());
        }
    }
    let mut out = vec![];
    for name in names {
        let mut v = defaults.clone();
        if let Some(e) = file.servers.list.iter().find(|e| e.name == name) {
            deep_merge(&mut v, &toml::Value::Table(e.overrides.clone()));
        }
        let cfg: ServerCfg = v
            .try_into()
            .map_err(|e: toml::de::Error| format!("server {name}: {}", e.message()))?;
        out.push(ServerSpec { name, cfg });
    }
    Ok(out)
}

pub(crate) fn deep_merge(base: &mut toml::Value, over: &toml::Value) {
    match (base, over) {
        (toml::Value::Table(b), toml::Value::Table(o)) => {
            for (k, v) in o {
                match b.get_mut(k) {
                    Some(bv) if bv.is_table() && v.is_table() => deep_merge(bv, v),
                    _ => {
                        b.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (b, o) => *b = o.clone(),
    }
}
