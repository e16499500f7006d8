use super::*;

const BASE: &str = r#"
[simulation]
name = "t"
seed = 7
duration = "1m"

[servers]
count = 2

[[rooms]]
name = "r"
servers = "all"

[[workload]]
kind = "spam"
room = "r"
client = "hs1/0"
rate = 10.0
count = 5

[sweep]
seeds = 2
"servers.defaults.inbound.policy" = ["accept_drop", "defer"]
network.loss = [0.0, 0.1, 0.2]
"workload.0.rate" = [1.0, 2.0]
"#;

fn plan(text: &str) -> Result<SweepPlan, SweepError> {
    plan_from_str(text, "t.toml", &[])
}

#[test]
fn grid_follows_file_order_last_key_fastest() {
    let p = plan(BASE).unwrap();
    assert_eq!(
        p.meta.keys,
        vec![
            "servers.defaults.inbound.policy",
            "network.loss",
            "workload.0.rate"
        ]
    );
    assert_eq!(p.meta.seeds, vec![7, 8]);
    assert_eq!(p.meta.points.len(), 12);
    let v = |i: usize| serde_json::Value::Object(p.meta.points[i].values.clone()).to_string();
    assert_eq!(
        v(0),
        r#"{"servers.defaults.inbound.policy":"accept_drop","network.loss":0.0,"workload.0.rate":1.0}"#
    );
    assert_eq!(
        v(1),
        r#"{"servers.defaults.inbound.policy":"accept_drop","network.loss":0.0,"workload.0.rate":2.0}"#
    );
    assert_eq!(
        v(11),
        r#"{"servers.defaults.inbound.policy":"defer","network.loss":0.2,"workload.0.rate":2.0}"#
    );
    let runs = p.meta.runs();
    assert_eq!(runs.len(), 24);
    assert_eq!(runs[3].name(), "p0001-seed-8");
    let scn = p.run_scenario(&runs[3]).unwrap();
    assert_eq!(scn.seed(), 8);
    assert!(scn.file.sweep.is_none());
    assert_eq!(scn.file.network.loss, 0.0);
    // The run's scenario.toml reloads to the same digest (rerun by hand).
    let again = load_str(&scn.to_toml(), "again", &[]).unwrap();
    assert_eq!(again.digest(), scn.digest());
    assert_eq!(again.seed(), 8);
    // Digests differ between points, not between seeds.
    let d = p.point_digests();
    assert_ne!(d[0], d[1]);
    assert_eq!(p.run_scenario(&runs[2]).unwrap().digest(), d[1]);
}

#[test]
fn zip_varies_keys_together() {
    let text = BASE.replace(
        "seeds = 2",
        "seeds = 1\nzip = [[\"network.loss\", \"servers.defaults.inbound.retry_after\"]]\n\"servers.defaults.inbound.retry_after\" = [\"1s\", \"2s\", \"3s\"]",
    );
    let p = plan(&text).unwrap();
    // The zip group sits where its first key is written (retry_after comes first now).
    assert_eq!(
        p.meta.keys,
        vec![
            "servers.defaults.inbound.retry_after",
            "network.loss",
            "servers.defaults.inbound.policy",
            "workload.0.rate"
        ]
    );
    assert_eq!(p.meta.points.len(), 3 * 2 * 2);
    assert_eq!(
        p.meta.points[4].values["network.loss"],
        serde_json::json!(0.1)
    );
    assert_eq!(
        p.meta.points[4].values["servers.defaults.inbound.retry_after"],
        serde_json::json!("2s")
    );
}

#[test]
fn refusals_name_the_key() {
    let e = plan(&BASE.replace("network.loss = [0.0, 0.1, 0.2]", "network.lost = [0.0]"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("`network.lost`") && e.contains("t.toml:"), "{e}");
    let e = plan(&BASE.replace("[0.0, 0.1, 0.2]", "[]"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("network.loss") && e.contains("empty"), "{e}");
    let e = plan(&BASE.replace(
        "seeds = 2",
        "zip = [[\"network.loss\", \"workload.0.rate\"]]",
    ))
    .unwrap_err()
    .to_string();
    assert!(
        (e.contains("equal length") || e.contains("as many values"))
            && e.contains("workload.0.rate"),
        "{e}"
    );
    let e = plan(&BASE.replace("seeds = 2", "zip = [[\"network.loss\", \"nope.x\"]]"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("`nope.x` is not a swept key"), "{e}");
    let e = plan(&BASE.replace("seeds = 2", "seeds = 0"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("seeds"), "{e}");
    let e = plan(&BASE.replace(
        "[\"accept_drop\", \"defer\"]",
        "[\"accept_drop\", \"nope\"]",
    ))
    .unwrap_err()
    .to_string();
    assert!(e.contains("policy") && e.contains("nope"), "{e}");
    let e = plan(&BASE.replace(
        "network.loss = [0.0, 0.1, 0.2]",
        "\"simulation.seed\" = [1]",
    ))
    .unwrap_err()
    .to_string();
    assert!(e.contains("simulation.seed"), "{e}");
    let e = plan(&BASE.replace("\"workload.0.rate\"", "\"workload.3.rate\""))
        .unwrap_err()
        .to_string();
    assert!(e.contains("workload.3.rate"), "{e}");
}

#[test]
fn sets_apply_to_base_and_sweep() {
    let p = plan_from_str(
        BASE,
        "t.toml",
        &[
            "sweep.seeds=3".into(),
            "network.latency={ dist = \"constant\", value = \"5ms\" }".into(),
        ],
    )
    .unwrap();
    assert_eq!(p.meta.seeds, vec![7, 8, 9]);
    let plain = plan(BASE).unwrap();
    assert_ne!(p.meta.scenario_digest, plain.meta.scenario_digest);
}

#[test]
fn seeds_only_is_one_point() {
    let text = "[simulation]\nname = \"t\"\nduration = \"1m\"\n[sweep]\nseeds = 3\n";
    let p = plan(text).unwrap();
    assert!(p.meta.keys.is_empty());
    assert_eq!(p.meta.points.len(), 1);
    assert_eq!(p.meta.seeds, vec![1, 2, 3]);
    assert!(plan("[simulation]\nname = \"t\"\nduration = \"1m\"\n")
        .unwrap_err()
        .to_string()
        .contains("no [sweep]"));
}
