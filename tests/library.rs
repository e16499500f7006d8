//! The scenario library compiled into the binary matches `scenarios/`; `tests/cli.rs`
//! runs `list` and `run NAME` from a folder with no checkout in it.

use std::path::Path;
use stickysim::scenario::commands::list_embedded_to;
use stickysim::scenario::library::LIBRARY;

fn toml_files(dir: &Path, prefix: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = std::fs::read_dir(dir)
        .expect("scenarios folder")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .map(|p| {
            let stem = p.file_stem().unwrap().to_string_lossy().to_string();
            (
                format!("{prefix}{stem}"),
                std::fs::read_to_string(&p).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn embedded_library_is_the_scenarios_folder() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut want = toml_files(&root, "");
    want.extend(toml_files(&root.join("calibration"), "calibration/"));
    let got: Vec<(String, String)> = LIBRARY
        .iter()
        .map(|(n, t)| (n.to_string(), t.to_string()))
        .collect();
    let names = |v: &[(String, String)]| v.iter().map(|e| e.0.clone()).collect::<Vec<_>>();
    assert_eq!(
        names(&got),
        names(&want),
        "add new scenarios to src/scenario/library.rs"
    );
    assert_eq!(got, want);
}

#[test]
fn embedded_list_has_one_line_per_scenario() {
    let mut out = vec![];
    assert_eq!(list_embedded_to(&mut out), 0);
    let text = String::from_utf8(out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), LIBRARY.len(), "{text}");
    for (l, (n, _)) in lines.iter().zip(LIBRARY) {
        assert!(l.starts_with(n), "{l} for {n}");
        assert!(!l.contains("(invalid"), "{l}");
    }
    assert!(text.contains("sweep_rate_limit"), "{text}");
    assert!(text.contains("calibration/concurrent_429"), "{text}");
    assert!(text.contains("[sweep]"), "{text}");
}
