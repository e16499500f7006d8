//! `--set KEY=VALUE` and sweep values: dotted paths into the scenario document.
//!
//! A path is dot-separated; an array of tables is addressed by index
//! (`workload.0.rate` or `workload[0].rate`). Quoted segments are not needed: no scenario key
//! holds a dot. Whether the key exists in the schema is decided afterwards by the typed
//! deserialisation, which refuses unknown keys.

/// Read VALUE as a TOML value (`10`, `"x"`, `{ count = 0 }`, `[1, 2]`), else as a string.
pub fn parse_value(text: &str) -> toml::Value {
    let wrapped = format!("v = {text}");
    match toml::from_str::<toml::Table>(&wrapped) {
        Ok(mut t) => t
            .remove("v")
            .unwrap_or_else(|| toml::Value::String(text.to_string())),
        Err(_) => toml::Value::String(text.to_string()),
    }
}

/// Split `KEY=VALUE`.
pub fn split_assignment(arg: &str) -> Result<(String, toml::Value), String> {
    let (k, v) = arg
        .split_once('=')
        .ok_or_else(|| format!("`{arg}` is not KEY=VALUE"))?;
    let k = k.trim();
    if k.is_empty() {
        return Err(format!("`{arg}` has an empty key"));
    }
    Ok((k.to_string(), parse_value(v.trim())))
}

/// Path segments of a dotted key: `workload[0].rate` -> ["workload", "0", "rate"].
pub fn segments(path: &str) -> Result<Vec<String>, String> {
    let mut out = vec![];
    for part in path.split('.') {
        let mut p = part;
        if let Some(i) = p.find('[') {
            let (head, rest) = p.split_at(i);
            if !head.is_empty() {
                out.push(head.to_string());
            }
            p = rest;
            while let Some(r) = p.strip_prefix('[') {
                let end = r
                    .find(']')
                    .ok_or_else(|| format!("`{path}`: unclosed `[`"))?;
                out.push(r[..end].to_string());
                p = &r[end + 1..];
            }
            if !p.is_empty() {
                return Err(format!("`{path}`: unexpected `{p}` after `]`"));
            }
        } else {
            if p.is_empty() {
                return Err(format!("`{path}`: empty segment"));
            }
            out.push(p.to_string());
        }
    }
    Ok(out)
}

/// Set `path` in `doc` to `value`, creating tables on the way. Arrays must already hold
/// the indexed element (a `--set` cannot invent a workload).
pub fn apply_set(doc: &mut toml::Table, path: &str, value: toml::Value) -> Result<(), String> {
    let segs = segments(path)?;
    let (first, rest) = segs
        .split_first()
        .ok_or_else(|| format!("`{path}`: empty key"))?;
    if rest.is_empty() {
        doc.insert(first.clone(), value);
        return Ok(());
    }
    let mut cur = doc
        .entry(first.clone())
        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    let (last, middle) = rest
        .split_last()
        .ok_or_else(|| format!("`{path}`: empty key"))?;
    for (i, seg) in middle.iter().enumerate() {
        cur = step(cur, seg, path, &segs[..=i].join("."))?;
    }
    match cur {
        toml::Value::Table(t) => {
            t.insert(last.clone(), value);
            Ok(())
        }
        toml::Value::Array(_) => {
            let slot = step(cur, last, path, &segs[..segs.len() - 1].join("."))?;
            *slot = value;
            Ok(())
        }
        _ => Err(format!(
            "`{path}`: `{}` is not a table",
            segs[..segs.len() - 1].join(".")
        )),
    }
}

fn step<'a>(
    cur: &'a mut toml::Value,
    seg: &str,
    path: &str,
    parent: &str,
) -> Result<&'a mut toml::Value, String> {
    match cur {
        toml::Value::Table(t) => Ok(t
            .entry(seg.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()))),
        toml::Value::Array(a) => {
            let idx: usize = seg
                .parse()
                .map_err(|_| format!("`{path}`: `{parent}` is a list; index it with a number"))?;
            let len = a.len();
            a.get_mut(idx).ok_or_else(|| {
                format!("`{path}`: index {idx} is past the end of `{parent}` ({len} entries)")
            })
        }
        _ => Err(format!("`{path}`: `{parent}` is not a table")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_nested_creates_tables_and_indexes_arrays() {
        let mut doc: toml::Table =
            toml::from_str("[a]\nb = 1\n[[w]]\nr = 1.0\n[[w]]\nr = 2.0\n").unwrap();
        apply_set(&mut doc, "a.c.d", parse_value("\"x\"")).unwrap();
        apply_set(&mut doc, "w.1.r", parse_value("5.5")).unwrap();
        apply_set(&mut doc, "w[0].r", parse_value("7")).unwrap();
        apply_set(&mut doc, "top", parse_value("reject_429")).unwrap();
        assert_eq!(doc["a"]["c"]["d"].as_str(), Some("x"));
        assert_eq!(doc["w"][1]["r"].as_float(), Some(5.5));
        assert_eq!(doc["w"][0]["r"].as_integer(), Some(7));
        assert_eq!(doc["top"].as_str(), Some("reject_429"));
        assert!(apply_set(&mut doc, "w.5.r", parse_value("1")).is_err());
        assert!(apply_set(&mut doc, "a.b.c", parse_value("1")).is_err());
    }

    #[test]
    fn values_are_toml_else_strings() {
        assert_eq!(parse_value("10"), toml::Value::Integer(10));
        assert_eq!(parse_value("{ count = 0 }")["count"].as_integer(), Some(0));
        assert_eq!(
            parse_value("accept_drop"),
            toml::Value::String("accept_drop".into())
        );
        assert_eq!(
            split_assignment("x.y=1").unwrap(),
            ("x.y".to_string(), toml::Value::Integer(1))
        );
        assert!(split_assignment("novalue").is_err());
    }
}
