//! The part of `sequence.mmd` that `report.md` embeds: a diagram a Markdown viewer can
//! still draw, at most [`REPORT_SEQUENCE_ITEMS`] arrows and notes.

use std::fmt::Write as _;

/// Most arrows and notes of the diagram embedded in `report.md` (the full diagram, up to
/// its own cap, stays in `sequence.mmd`).
pub const REPORT_SEQUENCE_ITEMS: usize = 80;

/// The first `max_items` arrows and notes of a `sequence.mmd`, with only the participants
/// they use, and a closing note saying how many were left out and how to narrow the trace.
/// Returns the diagram and the number of items left out.
pub fn excerpt(mmd: &str, max_items: usize) -> (String, usize) {
    let mut head = vec![];
    let mut participants: Vec<(&str, &str)> = vec![];
    let mut items: Vec<&str> = vec![];
    for line in mmd.lines() {
        let t = line.trim_start();
        if t == "sequenceDiagram" || t.starts_with("%%") {
            head.push(line);
        } else if let Some(rest) = t.strip_prefix("participant ") {
            let id = rest.split(" as ").next().unwrap_or(rest).trim();
            participants.push((id, line));
        } else if !t.is_empty() {
            items.push(line);
        }
    }
    let total = items.len();
    // The file's own "… N more not shown" note stays only when everything else fits.
    let file_note = items
        .last()
        .is_some_and(|l| l.contains("more messages not shown"));
    let hidden = total.saturating_sub(max_items);
    let shown: Vec<&str> = if hidden > 0 {
        items.into_iter().take(max_items).collect()
    } else {
        items
    };
    // The participant IDs of an arrow or note come before its first `:`.
    let used = |id: &str| {
        shown.iter().any(|l| {
            l.split(':')
                .next()
                .unwrap_or("")
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .any(|w| w == id)
        })
    };
    let mut out = String::new();
    for h in &head {
        let _ = writeln!(out, "{h}");
    }
    let kept: Vec<(&str, &str)> = participants
        .into_iter()
        .filter(|(id, _)| used(id))
        .collect();
    for (_, line) in &kept {
        let _ = writeln!(out, "{line}");
    }
    for l in &shown {
        let _ = writeln!(out, "{l}");
    }
    if hidden > 0 {
        let left_out = if file_note { hidden - 1 } else { hidden };
        let over = match (kept.first(), kept.last()) {
            (Some(a), Some(b)) if a.0 != b.0 => format!("{},{}", a.0, b.0),
            (Some(a), _) => a.0.to_string(),
            _ => String::new(),
        };
        if !over.is_empty() {
            let _ = writeln!(
                out,
                "    Note over {over}: … {left_out} more in sequence.mmd{}. Narrow with --trace-filter, e.g. t=10s..2m,server=hs1,key=A",
                if file_note { " and beyond it in trace.jsonl" } else { "" }
            );
        }
    }
    (out, hidden)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MMD: &str = "sequenceDiagram\n    %% header\n    participant hs1\n    participant hs2\n    participant hs1_0 as hs1/0\n    hs1->>hs2: [1s] one\n    Note over hs2: [2s] two\n    hs1_0->>hs1: [3s] three\n";

    #[test]
    fn short_diagrams_are_kept_whole() {
        let (out, hidden) = excerpt(MMD, 3);
        assert_eq!(hidden, 0);
        assert_eq!(out, MMD);
    }

    #[test]
    fn long_diagrams_are_cut_with_a_note_and_unused_participants_dropped() {
        let (out, hidden) = excerpt(MMD, 2);
        assert_eq!(hidden, 1);
        assert_eq!(
            out,
            "sequenceDiagram\n    %% header\n    participant hs1\n    participant hs2\n    hs1->>hs2: [1s] one\n    Note over hs2: [2s] two\n    Note over hs1,hs2: … 1 more in sequence.mmd. Narrow with --trace-filter, e.g. t=10s..2m,server=hs1,key=A\n"
        );
    }
}
