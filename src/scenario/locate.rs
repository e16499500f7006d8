//! Where things are in a scenario's text: dotted key paths, and an index from each key
//! path to the byte spans of its key and value (built from `toml_edit`'s parse, which keeps
//! spans). Errors found on the typed [`ScenarioFile`](super::ScenarioFile) name a path; this
//! turns it back into a line and column of the original file.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use toml_edit::{Item, Value};

/// One step of a key path: a table key or an array index.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Seg {
    Key(String),
    Index(usize),
}

/// A key path such as `workload[2].room` or `sweep."servers.defaults.inbound.policy"`.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct KeyPath(pub Vec<Seg>);

impl KeyPath {
    pub fn root() -> KeyPath {
        KeyPath(vec![])
    }

    /// Parse a dotted path as `--set` writes it (`workload.0.rate`, `workload[0].rate`).
    /// All-digit segments are array indices (no scenario key is a number).
    pub fn from_dotted(path: &str) -> Result<KeyPath, String> {
        let segs = super::set::segments(path)?;
        Ok(KeyPath(
            segs.into_iter()
                .map(|s| match s.parse::<usize>() {
                    Ok(i) if s.bytes().all(|b| b.is_ascii_digit()) => Seg::Index(i),
                    _ => Seg::Key(s),
                })
                .collect(),
        ))
    }

    pub fn key(&self, k: &str) -> KeyPath {
        let mut v = self.0.clone();
        v.push(Seg::Key(k.to_string()));
        KeyPath(v)
    }

    pub fn index(&self, i: usize) -> KeyPath {
        let mut v = self.0.clone();
        v.push(Seg::Index(i));
        KeyPath(v)
    }

    /// `self` is `other` or lies inside it.
    pub fn starts_with(&self, other: &KeyPath) -> bool {
        self.0.starts_with(&other.0)
    }

    pub fn parent(&self) -> Option<KeyPath> {
        if self.0.is_empty() {
            None
        } else {
            Some(KeyPath(self.0[..self.0.len() - 1].to_vec()))
        }
    }

    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }
}

fn is_bare(k: &str) -> bool {
    !k.is_empty()
        && k.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.0.iter().enumerate() {
            match s {
                Seg::Index(n) => write!(f, "[{n}]")?,
                Seg::Key(k) => {
                    if i > 0 {
                        f.write_str(".")?;
                    }
                    if is_bare(k) {
                        f.write_str(k)?;
                    } else {
                        write!(f, "\"{}\"", k.replace('\\', "\\\\").replace('"', "\\\""))?;
                    }
                }
            }
        }
        Ok(())
    }
}

/// What the index knows about one path.
#[derive(Clone, Debug, Default)]
pub struct Entry {
    /// The key's own span (absent for array elements and the root).
    pub key: Option<Range<usize>>,
    /// The value's span (a table's span is its header).
    pub value: Option<Range<usize>>,
    /// Where an error about this path points: a scalar's value, a table's header, an
    /// inline table's or array's key.
    pub point: Option<Range<usize>>,
    /// True for tables, inline tables and arrays.
    pub container: bool,
    /// A short rendering of a scalar value, to recognise it inside an error message.
    pub scalar: Option<String>,
}

/// Every key path of a parsed document, with spans.
#[derive(Clone, Debug, Default)]
pub struct Locator {
    pub entries: BTreeMap<KeyPath, Entry>,
    /// Paths in document order (for "first match" searches).
    pub order: Vec<KeyPath>,
}

impl Locator {
    pub fn new(root: &toml_edit::Table) -> Locator {
        let mut loc = Locator::default();
        loc.add(
            KeyPath::root(),
            Entry {
                key: None,
                value: root.span(),
                point: None,
                container: true,
                scalar: None,
            },
        );
        loc.walk_table(&KeyPath::root(), root);
        loc
    }

    fn add(&mut self, path: KeyPath, e: Entry) {
        self.order.push(path.clone());
        self.entries.insert(path, e);
    }

    fn walk_table(&mut self, path: &KeyPath, t: &toml_edit::Table) {
        for (k, _) in t.iter() {
            if let Some((key, item)) = t.get_key_value(k) {
                self.walk_item(path.key(k), key.span(), item);
            }
        }
    }

    fn walk_item(&mut self, path: KeyPath, key: Option<Range<usize>>, item: &Item) {
        match item {
            Item::None => {}
            Item::Value(v) => self.walk_value(path, key, v),
            Item::Table(t) => {
                self.add(
                    path.clone(),
                    Entry {
                        point: t.span().or_else(|| key.clone()),
                        key,
                        value: t.span(),
                        container: true,
                        scalar: None,
                    },
                );
                self.walk_table(&path, t);
            }
            Item::ArrayOfTables(a) => {
                self.add(
                    path.clone(),
                    Entry {
                        point: key.clone().or_else(|| a.span()),
                        key,
                        value: a.span(),
                        container: true,
                        scalar: None,
                    },
                );
                for (i, t) in a.iter().enumerate() {
                    let p = path.index(i);
                    self.add(
                        p.clone(),
                        Entry {
                            key: None,
                            value: t.span(),
                            point: t.span(),
                            container: true,
                            scalar: None,
                        },
                    );
                    self.walk_table(&p, t);
                }
            }
        }
    }

    fn walk_value(&mut self, path: KeyPath, key: Option<Range<usize>>, v: &Value) {
        let scalar = match v {
            Value::String(s) => Some(s.value().clone()),
            Value::Integer(i) => Some(i.value().to_string()),
            Value::Float(x) => Some(x.value().to_string()),
            Value::Boolean(b) => Some(b.value().to_string()),
            Value::Datetime(d) => Some(d.value().to_string()),
            Value::Array(_) | Value::InlineTable(_) => None,
        };
        self.add(
            path.clone(),
            Entry {
                point: if scalar.is_some() {
                    v.span().or_else(|| key.clone())
                } else {
                    key.clone().or_else(|| v.span())
                },
                key,
                value: v.span(),
                container: scalar.is_none(),
                scalar,
            },
        );
        match v {
            Value::Array(a) => {
                for (i, e) in a.iter().enumerate() {
                    self.walk_value(path.index(i), None, e);
                }
            }
            Value::InlineTable(t) => {
                for (k, _) in t.iter() {
                    if let Some((key, item)) = t.get_key_value(k) {
                        if let Some(val) = item.as_value() {
                            self.walk_value(path.key(k), key.span(), val);
                        }
                    }
                }
            }
            _ => {}
        }
    }

    pub fn get(&self, path: &KeyPath) -> Option<&Entry> {
        self.entries.get(path)
    }

    /// The path an error span belongs to: the key whose span it is, else the deepest value
    /// that contains it.
    pub fn path_for_span(&self, span: &Range<usize>) -> KeyPath {
        let mut best: Option<(&KeyPath, usize)> = None;
        for p in &self.order {
            let Some(e) = self.entries.get(p) else {
                continue;
            };
            if e.key.as_ref() == Some(span) {
                return p.clone();
            }
            if let Some(v) = &e.value {
                let inside = v.start <= span.start && span.end <= v.end;
                if inside && best.is_none_or(|(_, d)| p.0.len() >= d) {
                    best = Some((p, p.0.len()));
                }
            }
        }
        best.map(|(p, _)| p.clone()).unwrap_or_default()
    }

    /// Where to point for `path`: its value if it has one (a table: its header), else its
    /// key, else the nearest ancestor that is in the text. `None`: nothing at all.
    pub fn offset_of(&self, path: &KeyPath) -> Option<usize> {
        let mut p = Some(path.clone());
        while let Some(cur) = p {
            if let Some(e) = self.entries.get(&cur) {
                if let Some(s) = &e.point {
                    return Some(s.start);
                }
            }
            p = cur.parent();
        }
        None
    }

    /// Where the key of `path` is (for unknown keys), falling back to [`Self::offset_of`].
    pub fn key_offset_of(&self, path: &KeyPath) -> Option<usize> {
        match self.entries.get(path).and_then(|e| e.key.clone()) {
            Some(s) => Some(s.start),
            None => self.offset_of(path),
        }
    }

    /// Children of `path` in document order.
    pub fn descendants<'a>(&'a self, path: &'a KeyPath) -> impl Iterator<Item = &'a KeyPath> + 'a {
        self.order
            .iter()
            .filter(move |p| p.0.len() > path.0.len() && p.starts_with(path))
    }
}

/// A [`Locator`] built the first time something asks where a path is: only a file with
/// an error needs one, and building it for a 10 000-server scenario (6.5 MB, 140 000 lines)
/// took a third of its load time and 400 MB.
pub struct LazyLocator<'a> {
    root: &'a toml_edit::Table,
    built: std::cell::OnceCell<Locator>,
}

impl<'a> LazyLocator<'a> {
    pub fn new(root: &'a toml_edit::Table) -> Self {
        LazyLocator {
            root,
            built: std::cell::OnceCell::new(),
        }
    }
}

impl std::ops::Deref for LazyLocator<'_> {
    type Target = Locator;
    fn deref(&self) -> &Locator {
        self.built.get_or_init(|| Locator::new(self.root))
    }
}

/// 1-based line and column (in characters) of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut off = offset.min(text.len());
    while !text.is_char_boundary(off) {
        off -= 1;
    }
    let before = &text[..off];
    let line = before.matches('\n').count() + 1;
    let col = before
        .rsplit('\n')
        .next()
        .map(|l| l.chars().count())
        .unwrap_or(0)
        + 1;
    (line, col)
}

/// For a syntax error (no document to index): the table header above `offset` and the key
/// on its line, as a dotted path, when the text lets us guess them.
pub fn guess_key(text: &str, offset: usize) -> String {
    let mut off = offset.min(text.len());
    while !text.is_char_boundary(off) {
        off -= 1;
    }
    let line_start = text[..off].rfind('\n').map(|i| i + 1).unwrap_or(0);
    let line_end = text[off..]
        .find('\n')
        .map(|i| off + i)
        .unwrap_or(text.len());
    let this_line = &text[line_start..line_end];
    let mut header = String::new();
    for l in text[..line_start].lines().rev() {
        let l = l.trim();
        if let Some(rest) = l.strip_prefix("[[") {
            if let Some(end) = rest.find("]]") {
                header = rest[..end].trim().to_string();
                break;
            }
        } else if let Some(rest) = l.strip_prefix('[') {
            if let Some(end) = rest.find(']') {
                header = rest[..end].trim().to_string();
                break;
            }
        }
    }
    let trimmed = this_line.trim_start();
    let key = if trimmed.starts_with('[') || trimmed.starts_with('#') {
        String::new()
    } else {
        match trimmed.split_once('=') {
            Some((k, _)) if !k.trim().is_empty() && !k.contains('[') && !k.contains('{') => {
                k.trim().to_string()
            }
            _ => String::new(),
        }
    };
    match (header.is_empty(), key.is_empty()) {
        (true, _) => key,
        (false, true) => header,
        (false, false) => format!("{header}.{key}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_format_with_indices_and_quotes() {
        let p = KeyPath::root().key("workload").index(2).key("room");
        assert_eq!(p.to_string(), "workload[2].room");
        let q = KeyPath::root()
            .key("sweep")
            .key("servers.defaults.inbound.policy");
        assert_eq!(q.to_string(), "sweep.\"servers.defaults.inbound.policy\"");
        assert_eq!(
            KeyPath::from_dotted("fault.0.servers[1]")
                .unwrap()
                .to_string(),
            "fault[0].servers[1]"
        );
    }

    #[test]
    fn line_col_counts_chars_and_survives_mid_char_offsets() {
        let t = "a = 1\nbé = 2\n";
        assert_eq!(line_col(t, 0), (1, 1));
        assert_eq!(line_col(t, 6), (2, 1));
        assert_eq!(line_col(t, 9), (2, 3));
        assert_eq!(line_col(t, 8), (2, 2));
        assert_eq!(line_col(t, 999), (3, 1));
    }

    #[test]
    fn index_spans() {
        let text = "[a]\nb = 1\nc = { d = [\"x\", \"y\"] }\n[[w]]\nk = 2\n";
        let doc = toml_edit::ImDocument::parse(text).unwrap();
        let loc = Locator::new(doc.as_table());
        let at = |p: &str| {
            let o = loc.offset_of(&KeyPath::from_dotted(p).unwrap()).unwrap();
            line_col(text, o)
        };
        assert_eq!(at("a"), (1, 1));
        assert_eq!(at("a.b"), (2, 5));
        assert_eq!(at("a.c.d[1]"), (3, 17));
        assert_eq!(at("w[0]"), (4, 1));
        assert_eq!(at("w[0].k"), (5, 5));
        assert_eq!(at("w[0].zzz"), (4, 1));
    }
}
