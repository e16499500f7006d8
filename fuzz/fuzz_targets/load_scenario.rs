//! Any bytes to the scenario loader: it must return errors, never panic. The first line,
//! when it starts with `--set `, is used as one override, so `--set` paths get fuzzed too.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (sets, body) = match text.split_once('\n') {
        Some((first, rest)) if first.starts_with("--set ") => {
            (vec![first["--set ".len()..].to_string()], rest)
        }
        _ => (vec![], &text[..]),
    };
    if let Ok(s) = stickysim::scenario::load_str(body, "fuzz.toml", &sets) {
        let again = stickysim::scenario::load_str(&s.to_toml(), "again", &[]);
        assert!(
            again.is_ok(),
            "a loaded scenario must re-load from to_toml()"
        );
    }
});
