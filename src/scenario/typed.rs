//! Type errors of a scenario file, each at its key: the file is deserialised section by
//! section (each `[[workload]]`, `[[rooms]]`, ... on its own, so that one bad section does
//! not hide the others), and every serde message is mapped back to its key path, line and
//! column. Used by [`super::loader`].

use super::locate::{KeyPath, LazyLocator, Seg};
use super::schema::*;
use serde::de::{DeserializeOwned, IntoDeserializer};
use toml_edit::{ImDocument, Item, Value};

pub(super) fn first_line(m: &str) -> String {
    m.trim().lines().next().unwrap_or("").to_string()
}

/// `set.rs` messages start with the key; ours print it separately.
pub(super) fn strip_key(m: &str, key: &str) -> String {
    m.strip_prefix(&format!("`{key}`: "))
        .unwrap_or(m)
        .to_string()
}

pub(super) fn missing_field(m: &str) -> Option<&str> {
    m.strip_prefix("missing field `")?.split('`').next()
}

/// A type error or unknown key, located.
#[derive(Clone, Debug)]
pub(super) struct TypedError {
    pub(super) path: KeyPath,
    pub(super) offset: Option<usize>,
    pub(super) message: String,
}

pub(super) const TOP_KEYS: [&str; 8] = [
    "simulation",
    "network",
    "servers",
    "rooms",
    "workload",
    "fault",
    "expect",
    "sweep",
];

/// Keys whose value is an array of exactly two numbers, `[low, high]`.
pub(super) const PAIR_KEYS: [&str; 1] = ["jitter"];

/// Arrays that must hold two elements but hold more. Serde's fixed-size arrays would drop
/// the extra elements silently in one deserialiser and fail without a position in another.
/// (Found on the document itself, in key-path order; the locator is asked only for a hit.)
pub(super) fn long_pairs(root: &toml_edit::Table, loc: &LazyLocator<'_>) -> Vec<TypedError> {
    /// Key `k` under `path` holds an array of `n` elements (0: not an array).
    fn key(path: &KeyPath, k: &str, n: usize, out: &mut Vec<(KeyPath, usize)>) -> KeyPath {
        let p = path.key(k);
        if PAIR_KEYS.contains(&k) && n > 2 {
            out.push((p.clone(), n));
        }
        p
    }
    fn table<'t>(
        path: &KeyPath,
        t: impl Iterator<Item = (&'t str, &'t Item)>,
        out: &mut Vec<(KeyPath, usize)>,
    ) {
        for (k, item) in t {
            let n = match item {
                Item::Value(Value::Array(a)) => a.len(),
                Item::ArrayOfTables(a) => a.len(),
                _ => 0,
            };
            let p = key(path, k, n, out);
            walk(&p, item, out);
        }
    }
    fn value(path: &KeyPath, v: &Value, out: &mut Vec<(KeyPath, usize)>) {
        match v {
            Value::Array(a) => {
                for (i, e) in a.iter().enumerate() {
                    value(&path.index(i), e, out);
                }
            }
            Value::InlineTable(t) => {
                for (k, e) in t.iter() {
                    let n = e.as_array().map_or(0, |a| a.len());
                    let p = key(path, k, n, out);
                    value(&p, e, out);
                }
            }
            _ => {}
        }
    }
    fn walk(path: &KeyPath, item: &Item, out: &mut Vec<(KeyPath, usize)>) {
        match item {
            Item::Value(v) => value(path, v, out),
            Item::Table(t) => table(path, t.iter(), out),
            Item::ArrayOfTables(a) => {
                for (i, t) in a.iter().enumerate() {
                    table(&path.index(i), t.iter(), out);
                }
            }
            Item::None => {}
        }
    }
    let mut hits = vec![];
    table(&KeyPath::root(), root.iter(), &mut hits);
    hits.sort();
    hits.into_iter()
        .map(|(path, n)| TypedError {
            offset: loc.offset_of(&path),
            path,
            message: format!("needs exactly 2 elements, [low, high] as in [0.8, 1.4] (got {n})"),
        })
        .collect()
}

/// Deserialise every section of a document on its own and collect the errors.
pub(super) fn typed_errors(root: &toml_edit::Table, loc: &LazyLocator<'_>) -> Vec<TypedError> {
    let mut out = long_pairs(root, loc);
    let top = KeyPath::root();
    if !root.contains_key("simulation") {
        out.push(TypedError {
            path: top.clone(),
            offset: None,
            message: "missing table `[simulation]`".into(),
        });
    }
    for (k, item) in root.iter() {
        let p = top.key(k);
        match k {
            "simulation" => out.extend(one::<SimulationCfg>(item, &p, loc)),
            "network" => out.extend(one::<NetworkCfg>(item, &p, loc)),
            "servers" => {
                out.extend(one::<ServersCfg>(item, &p, loc));
                let list = item.get("list");
                for (i, mut entry) in list
                    .map(elements)
                    .unwrap_or_default()
                    .into_iter()
                    .enumerate()
                {
                    remove_key(&mut entry, "name");
                    out.extend(one::<ServerCfg>(&entry, &p.key("list").index(i), loc));
                }
            }
            "rooms" => out.extend(each::<RoomCfg>(item, &p, loc)),
            "workload" => match elements_or_type_error::<WorkloadCfg>(item, &p, loc) {
                Ok(list) => {
                    for (i, w) in list.into_iter().enumerate() {
                        out.extend(workload(w, &p.index(i), loc));
                    }
                }
                Err(e) => out.push(e),
            },
            "fault" => out.extend(each::<FaultCfg>(item, &p, loc)),
            "expect" => out.extend(each::<ExpectCfg>(item, &p, loc)),
            "sweep" => out.extend(one::<toml::Table>(item, &p, loc)),
            _ => {
                let offset = loc.key_offset_of(&p);
                out.push(TypedError {
                    path: p,
                    offset,
                    message: format!(
                        "unknown field `{k}`, expected one of {}",
                        TOP_KEYS.map(|k| format!("`{k}`")).join(", ")
                    ),
                });
            }
        }
    }
    out
}

/// A workload: dispatched on `kind` by hand, so that errors inside it keep their spans
/// (serde's internally tagged enums lose them).
pub(super) fn workload(mut item: Item, p: &KeyPath, loc: &LazyLocator<'_>) -> Option<TypedError> {
    let kind = item
        .get("kind")
        .and_then(|k| k.as_str())
        .map(str::to_string);
    let known = matches!(
        kind.as_deref(),
        Some("matrixrtc" | "location" | "spam" | "script")
    );
    if !known {
        return one::<WorkloadCfg>(&item, p, loc);
    }
    remove_key(&mut item, "kind");
    match kind.as_deref() {
        Some("matrixrtc") => one::<MatrixRtcCfg>(&item, p, loc),
        Some("location") => one::<LocationCfg>(&item, p, loc),
        Some("spam") => one::<SpamCfg>(&item, p, loc),
        _ => one::<ScriptCfg>(&item, p, loc),
    }
}

pub(super) fn each<T: DeserializeOwned>(
    item: &Item,
    p: &KeyPath,
    loc: &LazyLocator<'_>,
) -> Vec<TypedError> {
    match elements_or_type_error::<T>(item, p, loc) {
        Ok(list) => list
            .iter()
            .enumerate()
            .filter_map(|(i, e)| one::<T>(e, &p.index(i), loc))
            .collect(),
        Err(e) => vec![e],
    }
}

pub(super) fn elements_or_type_error<T: DeserializeOwned>(
    item: &Item,
    p: &KeyPath,
    loc: &LazyLocator<'_>,
) -> Result<Vec<Item>, TypedError> {
    match item {
        Item::ArrayOfTables(_) | Item::Value(Value::Array(_)) => Ok(elements(item)),
        _ => Err(one::<Vec<T>>(item, p, loc).unwrap_or_else(|| TypedError {
            path: p.clone(),
            offset: loc.offset_of(p),
            message: "expected a list".into(),
        })),
    }
}

/// The elements of an array of tables or an inline array, as items.
pub(super) fn elements(item: &Item) -> Vec<Item> {
    match item {
        Item::ArrayOfTables(a) => a.iter().map(|t| Item::Table(t.clone())).collect(),
        Item::Value(Value::Array(a)) => a.iter().map(|v| Item::Value(v.clone())).collect(),
        _ => vec![],
    }
}

pub(super) fn remove_key(item: &mut Item, key: &str) {
    match item {
        Item::Table(t) => {
            t.remove(key);
        }
        Item::Value(Value::InlineTable(t)) => {
            t.remove(key);
        }
        _ => {}
    }
}

/// Deserialise one item as `T`; an error comes back located.
pub(super) fn one<T: DeserializeOwned>(
    item: &Item,
    base: &KeyPath,
    loc: &LazyLocator<'_>,
) -> Option<TypedError> {
    let result = match item {
        Item::Table(t) => {
            T::deserialize(toml_edit::DocumentMut::from(t.clone()).into_deserializer()).map(drop)
        }
        Item::Value(v) => T::deserialize(v.clone().into_deserializer()).map(drop),
        Item::ArrayOfTables(a) => {
            T::deserialize(Value::Array(a.clone().into_array()).into_deserializer()).map(drop)
        }
        Item::None => return None,
    };
    let e = result.err()?;
    Some(locate_error(e.span(), &tidy(e.message()), base, loc))
}

/// Rewrite serde's less helpful messages.
pub(super) fn tidy(m: &str) -> String {
    let m = first_line(m);
    if m.contains("untagged enum ServerSet") {
        return "expected \"all\" or a list of server names".into();
    }
    m
}

/// Turn an error span into a key path. Errors inside internally tagged tables (faults,
/// distributions) carry the span of the whole table; find the key or value they name.
pub(super) fn locate_error(
    span: Option<std::ops::Range<usize>>,
    message: &str,
    base: &KeyPath,
    loc: &LazyLocator<'_>,
) -> TypedError {
    let (path, offset) = match &span {
        Some(s) => {
            let p = loc.path_for_span(s);
            if p.starts_with(base) {
                (p, Some(s.start))
            } else {
                (base.clone(), Some(s.start))
            }
        }
        None => (base.clone(), loc.offset_of(base)),
    };
    let container = loc.get(&path).is_none_or(|e| e.container);
    if let Some(field) = message
        .strip_prefix("unknown field `")
        .and_then(|r| r.split('`').next())
    {
        if path.0.last() != Some(&Seg::Key(field.to_string())) {
            let hit = loc
                .descendants(&path)
                .find(|p| p.0.last() == Some(&Seg::Key(field.to_string())));
            if let Some(h) = hit {
                return TypedError {
                    path: h.clone(),
                    offset: loc.key_offset_of(h),
                    message: message.into(),
                };
            }
        }
    } else if container && missing_field(message).is_none() {
        // The value the message quotes first.
        let mut best: Option<(usize, &KeyPath)> = None;
        for p in loc.descendants(&path) {
            let Some(s) = loc.get(p).and_then(|e| e.scalar.as_ref()) else {
                continue;
            };
            let pos = [format!("`{s}`"), format!("\"{s}\"")]
                .iter()
                .filter_map(|needle| message.find(needle.as_str()))
                .min();
            if let Some(pos) = pos {
                if best.is_none_or(|(b, _)| pos < b) {
                    best = Some((pos, p));
                }
            }
        }
        if let Some((_, h)) = best {
            return TypedError {
                path: h.clone(),
                offset: loc.offset_of(h),
                message: message.into(),
            };
        }
    }
    TypedError {
        path,
        offset,
        message: message.into(),
    }
}

/// Check a document given as a table (after overrides or sweep values): the same typed
/// checks, located by key path only.
pub(super) fn typed_table(table: &toml::Table) -> Result<(), Vec<(KeyPath, String)>> {
    let text = toml::to_string(table).map_err(|e| vec![(KeyPath::root(), e.to_string())])?;
    let doc = ImDocument::parse(text.as_str())
        .map_err(|e| vec![(KeyPath::root(), first_line(e.message()))])?;
    let loc = LazyLocator::new(doc.as_table());
    let errs = typed_errors(doc.as_table(), &loc);
    if errs.is_empty() {
        Ok(())
    } else {
        Err(errs.into_iter().map(|e| (e.path, e.message)).collect())
    }
}
