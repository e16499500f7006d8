//! Good scenarios: `--set`, round trips through `Scenario::to_toml()`, `validate` and
//! `list`, and no panic on any input.

use proptest::prelude::*;
use stickysim::scenario::commands::{list_to, validate_to};
use stickysim::scenario::{load_path, load_str, load_with_overrides, InboundPolicy, Scenario};

const SMALL: &str = "\
[simulation]
name = \"small\"
description = \"Two servers.\\nSecond line.\"
duration = \"1h\"

[servers]
count = 2

[[rooms]]
name = \"call\"
servers = \"all\"
";

/// Every schema variant at least once.
const EVERYTHING: &str = r#"
[simulation]
name = "everything"
description = "every variant of the schema"
seed = 7
duration = "2h"
sample_interval = "250ms"
records = "full"
quiet_tail = "5m"

[network]
topology = "regions"
latency = { dist = "lognormal", median = "60ms", sigma = 0.6 }
loss = 0.01
regions = [{ name = "eu", servers = ["hs1", "hs2"] }, { name = "us", servers = ["hs3", "big"] }]
intra_latency = { dist = "normal", mean = "10ms", std = "2ms", min = "1ms" }
inter_latency = { dist = "exponential", mean = "80ms" }
link = [{ from = "hs1", to = "hs3", latency = { dist = "uniform", min = "5ms", max = "9ms" }, loss = 0.5 }]

[servers]
count = 3
name_prefix = "hs"

[servers.defaults]
clock_skew = "-250ms"
clients_per_server = 3
client_latency = { dist = "constant", value = "10ms" }

[servers.defaults.federation]
catch_up = "latest_only"
push_on_join = false
retries = { count = 0 }

[servers.defaults.inbound]
policy = "defer"

[servers.defaults.client]
expire_entries = false
access_control = "authorized_only"

[[servers.list]]
name = "hs2"
inbound = { policy = "accept_drop", sticky_rate = { per_second = 2.5 } }

[[servers.list]]
name = "big"
clients_per_server = 5
sync = { sticky_limit = 20, resend_timeline_sticky = true }

[[rooms]]
name = "call"
servers = "all"
power_levels = { creator = "hs1/0", default = 0, events = { "org.example.admin_key" = 100 }, users = { "hs2/1" = 50 } }

[[rooms]]
name = "side"
servers = ["hs1", "big"]

[[workload]]
kind = "matrixrtc"
room = "call"
participants = 6
join = { dist = "uniform", min = "0s", max = "2m" }
stay = { dist = "exponential", mean = "20m" }
crash_fraction = 0.25
sticky_duration = "1h"
heartbeat = { leave_delay = "8s", restart_every = "5s" }

[[workload]]
kind = "location"
room = "side"
sharers = 2

[[workload]]
kind = "spam"
room = "call"
client = "hs3/2"
rate = 1000.0
count = 200
start = "10s"
duration = "2h"
origin_ts_offset = "+10m"
distinct_keys = false

[[workload]]
kind = "script"
room = "call"
actions = [
  { at = "0s", client = "hs1/0", send = "sticky", type = "m.rtc.member", key = "A", duration = "1h" },
  { at = "5s", client = "hs1/0", send = "sticky", key = "A", duration = "1h", origin_ts_offset = "-10m" },
  { at = "6s", client = "hs1/0", send = "sticky", key = "B", duration_ms = -5 },
  { at = "10s", client = "hs2/0", send = "leave", key = "B" },
  { at = "12s", client = "hs1/0", send = "power_levels", user = "hs2/0", level = 100 },
  { at = "15s", client = "hs1/0", send = "message", only_to = ["hs2"] },
  { at = "20s", server = "hs2", do = "crash" },
  { at = "50s", server = "hs2", do = "restart" },
  { at = "60s", client = "hs1/1", do = "offline" },
  { at = "90s", client = "hs1/1", do = "online" },
  { at = "2m", client = "hs3/0", do = "join" },
  { at = "3m", client = "hs3/0", do = "leave_room" },
]

[[fault]]
kind = "partition"
servers = ["hs3"]
from = "10m"
to = "30m"

[[fault]]
kind = "crash"
servers = ["hs2"]
from = "40m"

[[fault]]
kind = "link"
servers = ["hs1", "hs2"]
from = "1m"
to = "2m"
latency = { dist = "constant", value = "1s" }
loss = 0.2

[[fault]]
kind = "client_offline"
clients = ["hs1/2"]
from = "3m"
to = "4m"

[[fault]]
kind = "clock"
servers = ["hs1"]
from = "5m"
skew = "+2s"
drift_ppm = 50.0

[[fault]]
kind = "equivocate"
server = "hs3"
room = "call"
split = ["hs1"]
at = "6m"

[[fault]]
kind = "withhold"
server = "big"
to_servers = ["hs1"]
to = "50m"

[[expect]]
metric = "delivery.lost"
equals = 0

[[expect]]
metric = "delivery.latency_ms.p99"
min = 1
max = 5000.5
tolerance = 0.1
note = "p99 bounded"

[sweep]
seeds = 2
"servers.defaults.inbound.sticky_rate.per_second" = [1, 5]
"servers.defaults.inbound.policy" = ["reject_429", "defer"]
zip = [["servers.defaults.inbound.sticky_rate.per_second", "servers.defaults.inbound.policy"]]
"#;

const STAR: &str = r#"
[simulation]
name = "star"
duration = "10m"
records = "summary"

[network]
topology = "star"
hub = "a"

[servers]
list = [{ name = "a" }, { name = "b", clients_per_server = 0 }]

[[rooms]]
name = "r"
servers = ["a", "b"]
"#;

const EXPLICIT: &str = r#"
[simulation]
name = "explicit"
duration = "10m"

[network]
topology = "explicit"
link = [{ from = "x1", to = "x2" }]

[servers]
count = 2
name_prefix = "x"
"#;

fn load(text: &str) -> Scenario {
    match load_str(text, "t.toml", &[]) {
        Ok(s) => s,
        Err(e) => panic!(
            "{}",
            e.iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        ),
    }
}

fn round_trip(s: &Scenario) {
    let text = s.to_toml();
    let again = match load_str(&text, "round-trip", &[]) {
        Ok(a) => a,
        Err(e) => panic!(
            "{} does not re-load:\n{}\n---\n{text}",
            s.origin,
            e.iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        ),
    };
    assert_eq!(again.file, s.file, "{}", s.origin);
    assert_eq!(again.servers, s.servers, "{}", s.origin);
    assert_eq!(again.digest(), s.digest());
}

#[test]
fn every_variant_loads_and_resolves_servers() {
    let s = load(EVERYTHING);
    let names: Vec<&str> = s.servers.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["hs1", "hs2", "hs3", "big"]);
    let hs2 = &s.servers[1].cfg;
    assert_eq!(hs2.inbound.policy, InboundPolicy::AcceptDrop);
    assert_eq!(hs2.inbound.sticky_rate.per_second, 2.5);
    assert_eq!(
        hs2.inbound.sticky_rate.burst, 50,
        "defaults fill a partial table"
    );
    assert_eq!(hs2.federation.retries.count, 0);
    assert_eq!(hs2.federation.retries.multiplier, 4.0);
    assert_eq!(s.servers[3].cfg.clients_per_server, 5);
    assert_eq!(s.servers[0].cfg.clients_per_server, 3);
    assert_eq!(s.servers[0].cfg.inbound.policy, InboundPolicy::Defer);
}

#[test]
fn to_toml_round_trips_inline_scenarios() {
    for text in [SMALL, EVERYTHING, STAR, EXPLICIT] {
        round_trip(&load(text));
    }
}

#[test]
fn to_toml_round_trips_the_library() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).expect("scenarios/") {
        let p = e.expect("entry").path();
        if p.extension().is_some_and(|x| x == "toml") {
            let s = load_path(&p, &[]).unwrap_or_else(|e| {
                panic!(
                    "{}",
                    e.iter()
                        .map(|e| e.to_string())
                        .collect::<Vec<_>>()
                        .join("\n")
                )
            });
            round_trip(&s);
            n += 1;
        }
    }
    assert!(n >= 1);
}

#[test]
fn set_policy_by_dotted_path() {
    let s = load_str(
        SMALL,
        "t.toml",
        &["servers.defaults.inbound.policy=accept_drop".into()],
    )
    .expect("loads");
    assert!(s
        .servers
        .iter()
        .all(|s| s.cfg.inbound.policy == InboundPolicy::AcceptDrop));
    assert_eq!(
        s.file.servers.defaults.inbound.policy,
        InboundPolicy::AcceptDrop
    );
}

#[test]
fn set_partial_table_keeps_the_other_defaults() {
    let s = load_str(
        SMALL,
        "t.toml",
        &["servers.defaults.federation.retries={ count = 0 }".into()],
    )
    .expect("loads");
    let r = &s.servers[0].cfg.federation.retries;
    assert_eq!(r.count, 0);
    assert_eq!(r.multiplier, 4.0);
    assert_eq!(r.jitter, [0.8, 1.4]);
    assert_eq!(r.first.ms(), 4000);
}

#[test]
fn set_creates_missing_tables() {
    // SMALL has no [network] and no [servers.defaults.sync] table.
    let s = load_str(
        SMALL,
        "t.toml",
        &[
            "network.loss=0.25".into(),
            "servers.defaults.sync.sticky_limit=7".into(),
        ],
    )
    .expect("loads");
    assert_eq!(s.file.network.loss, 0.25);
    assert_eq!(s.servers[1].cfg.sync.sticky_limit, 7);
    assert_eq!(s.servers[1].cfg.sync.timeline_limit, 10);
    // Same through the typed entry point, with an indexed list.
    let s = load_with_overrides(
        SMALL,
        "t.toml",
        &[(
            "rooms[0].servers".into(),
            toml::Value::Array(vec!["hs2".into()]),
        )],
    )
    .expect("loads");
    assert!(s.to_toml().contains("servers = [\"hs2\"]"));
}

#[test]
fn validate_and_list_commands() {
    let dir = tempfile::tempdir().expect("tempdir");
    let good = dir.path().join("b_good.toml");
    let bad = dir.path().join("a_bad.toml");
    let sweep = dir.path().join("c_sweep_one.toml");
    std::fs::write(&good, SMALL).expect("write");
    std::fs::write(&bad, "[simulation]\nname = \"x\"\nduration = \"soon\"\n").expect("write");
    std::fs::write(&sweep, format!("{SMALL}\n[sweep]\nseeds = 2\n")).expect("write");
    std::fs::write(dir.path().join("notes.txt"), "not a scenario").expect("write");
    let before: Vec<_> = std::fs::read_dir(dir.path())
        .expect("dir")
        .count()
        .to_string()
        .into();

    let (mut out, mut err) = (vec![], vec![]);
    assert_eq!(
        validate_to(std::slice::from_ref(&good), &mut out, &mut err),
        0
    );
    assert_eq!(
        String::from_utf8_lossy(&out),
        format!(
            "ok  {}  small: 2 servers, 1 rooms, 0 workloads\n",
            good.display()
        )
    );
    assert!(err.is_empty());

    let (mut out, mut err) = (vec![], vec![]);
    assert_eq!(
        validate_to(&[good.clone(), bad.clone()], &mut out, &mut err),
        2
    );
    assert_eq!(
        String::from_utf8_lossy(&err),
        format!(
            "{}:3:12: `simulation.duration`: `soon` is not a duration (expected e.g. \"250ms\", \"1h30m\")\n",
            bad.display()
        )
    );

    let (mut out, mut err) = (vec![], vec![]);
    assert_eq!(list_to(dir.path(), &mut out, &mut err), 0);
    assert_eq!(
        String::from_utf8_lossy(&out),
        "a_bad        (invalid: line 3: `simulation.duration`: `soon` is not a duration (expected e.g. \"250ms\", \"1h30m\"))\n\
         b_good       Two servers.\n\
         c_sweep_one  [sweep] Two servers.\n"
    );
    let after: Vec<_> = std::fs::read_dir(dir.path())
        .expect("dir")
        .count()
        .to_string()
        .into();
    assert_eq!(before, after, "loading writes nothing");

    let (mut out, mut err) = (vec![], vec![]);
    assert_eq!(list_to(&dir.path().join("missing"), &mut out, &mut err), 2);
}

#[test]
fn list_of_the_library_works() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let (mut out, mut err) = (vec![], vec![]);
    assert_eq!(list_to(&dir, &mut out, &mut err), 0);
    let text = String::from_utf8_lossy(&out).to_string();
    // One line per scenario file, sorted by file name.
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.ends_with(".toml"))
        .collect();
    files.sort();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), files.len(), "{text}");
    for (l, f) in lines.iter().zip(&files) {
        assert!(l.starts_with(f.trim_end_matches(".toml")), "{l} for {f}");
    }
}

/// Valid scenarios to mutate.
const SEEDS: [&str; 4] = [SMALL, EVERYTHING, STAR, EXPLICIT];

#[derive(Clone, Debug)]
enum Mutation {
    Flip(usize, u8),
    Delete(usize, usize),
    Insert(usize, String),
    SwapValues(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Flip(i, b)),
        (any::<usize>(), 1usize..40).prop_map(|(i, n)| Mutation::Delete(i, n)),
        (
            any::<usize>(),
            prop_oneof![
                "[ -~\\n]{1,12}",
                Just("\"".to_string()),
                Just("[[".to_string()),
                Just("= -1".to_string()),
                Just("= 1e400".to_string()),
                Just("= nan".to_string()),
                Just("= 4294967296".to_string()),
                Just("\"99999999999999d\"".to_string()),
                Just("é".to_string()),
            ]
        )
            .prop_map(|(i, s)| Mutation::Insert(i, s)),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::SwapValues(a, b)),
    ]
}

/// Apply a mutation on bytes; the result may not be UTF-8 (then it is decoded lossily).
fn mutate(text: &str, m: &Mutation) -> String {
    let mut b = text.as_bytes().to_vec();
    let n = b.len().max(1);
    match m {
        Mutation::Flip(i, x) => {
            let i = i % n;
            if i < b.len() {
                b[i] ^= x | 1;
            }
        }
        Mutation::Delete(i, k) => {
            let i = i % n;
            let end = (i + k).min(b.len());
            b.drain(i.min(end)..end);
        }
        Mutation::Insert(i, s) => {
            let i = i % (b.len() + 1);
            b.splice(i..i, s.bytes());
        }
        Mutation::SwapValues(x, y) => {
            // Swap the right-hand sides of two `key = value` lines.
            let lines: Vec<&str> = text.lines().collect();
            let with_value: Vec<usize> = (0..lines.len())
                .filter(|&i| lines[i].contains(" = "))
                .collect();
            if with_value.len() >= 2 {
                let (a, c) = (
                    with_value[x % with_value.len()],
                    with_value[y % with_value.len()],
                );
                let mut out: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
                let (ka, va) = lines[a].split_once(" = ").unwrap_or((lines[a], ""));
                let (kc, vc) = lines[c].split_once(" = ").unwrap_or((lines[c], ""));
                out[a] = format!("{ka} = {vc}");
                out[c] = format!("{kc} = {va}");
                return out.join("\n");
            }
        }
    }
    String::from_utf8_lossy(&b).into_owned()
}

fn prop_assert_ok(r: Result<bool, Vec<stickysim::scenario::ScenarioError>>, text: &str) {
    match r {
        Ok(equal) => assert!(equal, "round trip changed the scenario:\n{text}"),
        Err(e) => panic!("to_toml() does not re-load: {e:?}\n{text}"),
    }
}

fn no_panic(text: &str) {
    match load_str(text, "fuzz.toml", &[]) {
        Ok(s) => {
            // A valid mutant must survive the round trip too.
            let again = load_str(&s.to_toml(), "again", &[]);
            prop_assert_ok(again.map(|a| a.file == s.file), text);
            let _ = s.digest();
        }
        Err(errors) => {
            assert!(!errors.is_empty());
            for e in errors {
                let _ = e.to_string();
            }
        }
    }
}

proptest! {
    // PROPTEST_CASES=20000 for a longer hunt; the fuzz/ target runs longer still.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(300),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn arbitrary_strings_never_panic(text in "\\PC{0,300}") {
        no_panic(&text);
    }

    #[test]
    fn tomlish_strings_never_panic(text in "([a-z_.\"\\[\\]{}=, 0-9\\n-]|ms|dist|servers|\\[\\[workload\\]\\]|kind){0,120}") {
        no_panic(&text);
    }

    #[test]
    fn mutated_scenarios_never_panic(which in 0usize..SEEDS.len(), ms in prop::collection::vec(mutation(), 1..4)) {
        let mut text = SEEDS[which].to_string();
        for m in &ms {
            text = mutate(&text, m);
        }
        no_panic(&text);
    }

    #[test]
    fn arbitrary_sets_never_panic(key in "[a-z_.\\[\\]0-9]{0,40}", value in "\\PC{0,20}") {
        let _ = load_str(SMALL, "t.toml", &[format!("{key}={value}")]);
    }
}

#[test]
fn a_server_entry_may_change_a_distributions_kind() {
    let text = r#"
[simulation]
name = "d"
duration = "1m"
[servers.defaults]
client_latency = { dist = "constant", value = "10ms" }
[[servers.list]]
name = "hs1"
client_latency = { dist = "uniform", min = "5ms", max = "50ms" }
[[servers.list]]
name = "hs2"
[[rooms]]
name = "r"
servers = "all"
"#;
    let scn = match stickysim::scenario::load_str(text, "d.toml", &[]) {
        Ok(s) => s,
        Err(e) => panic!("{e:?}"),
    };
    use stickysim::scenario::{Dist, Dur};
    assert_eq!(
        scn.servers[0].cfg.client_latency,
        Dist::Uniform {
            min: Dur::from_ms(5),
            max: Dur::from_ms(50)
        }
    );
    assert_eq!(
        scn.servers[1].cfg.client_latency,
        Dist::Constant {
            value: Dur::from_ms(10)
        }
    );
}
