//! Bad scenarios: every error names file, line, column and key (SPEC 1.2, 7). Lines and
//! columns below are counted by hand from the texts (1-based, columns in characters).

use stickysim::scenario::load_str;

/// Ten lines: two servers (hs1, hs2, two clients each) and one room `call` on all of them.
const HEAD: &str = "\
[simulation]
name = \"t\"
duration = \"1h\"

[servers]
count = 2

[[rooms]]
name = \"call\"
servers = \"all\"
";

fn errs_with(text: &str, sets: &[&str]) -> Vec<String> {
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    match load_str(text, "t.toml", &sets) {
        Ok(_) => vec![],
        Err(e) => e.iter().map(|e| e.to_string()).collect(),
    }
}

fn errs(text: &str) -> Vec<String> {
    errs_with(text, &[])
}

fn with_head(rest: &str) -> String {
    format!("{HEAD}{rest}")
}

#[test]
fn head_alone_is_valid() {
    assert_eq!(errs(HEAD), Vec::<String>::new());
}

#[test]
fn syntax_error_stops_early_with_position() {
    let text = "[simulation]\nname = \"t\"\nduration = 1h\n\n[network]\nloss = 7\n";
    let e = errs(text);
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!(
        e[0],
        "t.toml:3:13: `simulation.duration`: expected newline, `#`"
    );
}

#[test]
fn unknown_keys_anywhere() {
    let text = "\
colour = 1
[simulation]
name = \"t\"
duration = \"1h\"
seeed = 3

[servers]
count = 2

[network]
latency = { dist = \"uniform\", min = \"1ms\", max = \"5ms\", mode = \"2ms\" }

[[servers.list]]
name = \"hs1\"
colour = \"red\"

[[servers.list]]
name = \"hs2\"
inbound = { policy = \"defer\", limit = 3 }

[[workload]]
kind = \"matrixrtc\"
room = \"call\"
participants = 1
heartbeat = { leave_delay = \"8s\", beat = \"1s\" }

[[fault]]
kind = \"crash\"
servers = [\"hs1\"]
from = \"1m\"
until = \"2m\"
";
    assert_eq!(
        errs(text),
        vec![
            "t.toml:1:1: `colour`: unknown field `colour`, expected one of `simulation`, `network`, `servers`, `rooms`, `workload`, `fault`, `expect`, `sweep`",
            "t.toml:5:1: `simulation.seeed`: unknown field `seeed`, expected one of `name`, `description`, `seed`, `duration`, `sample_interval`, `records`, `quiet_tail`",
            "t.toml:11:57: `network.latency.mode`: unknown field `mode`, expected `min` or `max`",
            "t.toml:15:1: `servers.list[0].colour`: unknown field `colour`, expected one of `clock_skew`, `clock_drift_ppm`, `clients_per_server`, `client_latency`, `client_loss`, `processing`, `origin_processing`, `invalid_sticky_duration`, `federation`, `inbound`, `sync`, `client`, `event_bytes`, `encrypted`",
            "t.toml:19:31: `servers.list[1].inbound.limit`: unknown field `limit`, expected one of `policy`, `sticky_rate`, `retry_after`, `pdu_cost`, `queue_bound`, `reevaluate_soft_failed`, `old_sticky_in_extremities`, `reject_concurrent`",
            "t.toml:25:35: `workload[0].heartbeat.beat`: unknown field `beat`, expected one of `leave_delay`, `restart_every`, `enabled`",
            "t.toml:31:1: `fault[0].until`: unknown field `until`, expected one of `servers`, `from`, `to`",
        ]
    );
}

#[test]
fn wrong_types() {
    let text = with_head(
        "
[network]
loss = \"high\"

[[workload]]
kind = \"matrixrtc\"
room = \"call\"
participants = \"many\"

[[workload]]
kind = \"teleport\"
room = \"call\"

[[rooms]]
name = \"x\"
servers = \"some\"

[servers.defaults.inbound]
policy = \"accpt_drop\"
",
    );
    assert_eq!(
        errs(&text),
        vec![
            "t.toml:13:8: `network.loss`: invalid type: string \"high\", expected f64",
            "t.toml:18:16: `workload[0].participants`: invalid type: string \"many\", expected u32",
            "t.toml:21:8: `workload[1].kind`: unknown variant `teleport`, expected one of `matrixrtc`, `location`, `spam`, `script`",
            "t.toml:26:11: `rooms[1].servers`: expected \"all\" or a list of server names",
            "t.toml:29:10: `servers.defaults.inbound.policy`: unknown variant `accpt_drop`, expected one of `reject_429`, `accept_drop`, `defer`, `unlimited`",
        ]
    );
}

#[test]
fn negative_and_unparsable_durations() {
    let text = "\
[simulation]
name = \"t\"
duration = \"-1h\"

[servers]
count = 2

[[fault]]
kind = \"client_offline\"
clients = [\"hs1/0\"]
from = \"10 minutes\"
";
    assert_eq!(
        errs(text),
        vec![
            "t.toml:3:12: `simulation.duration`: `-1h` is negative; durations here must be >= 0",
            "t.toml:11:8: `fault[0].from`: `10 minutes` has an unknown unit ` minutes` (use us, ms, s, m, h or d)",
        ]
    );
}

#[test]
fn probabilities_outside_0_1() {
    let text = with_head(
        "
[network]
loss = 1.5
link = [{ from = \"hs1\", to = \"hs2\", loss = -0.5 }]

[[workload]]
kind = \"matrixrtc\"
room = \"call\"
participants = 2
crash_fraction = 1.01

[[fault]]
kind = \"link\"
servers = [\"hs1\", \"hs2\"]
from = \"1m\"
to = \"2m\"
loss = 2
",
    );
    assert_eq!(
        errs(&text),
        vec![
            "t.toml:13:8: `network.loss`: must be a probability between 0 and 1 (got 1.5)",
            "t.toml:14:44: `network.link[0].loss`: must be a probability between 0 and 1 (got -0.5)",
            "t.toml:20:18: `workload[0].crash_fraction`: must be a probability between 0 and 1 (got 1.01)",
            "t.toml:27:8: `fault[0].loss`: must be a probability between 0 and 1 (got 2)",
        ]
    );
}

#[test]
fn unknown_servers_rooms_and_clients_all_reported() {
    let text = with_head(
        "
[network]
topology = \"star\"
hub = \"hs3\"
regions = [{ name = \"eu\", servers = [\"hs1\", \"hs9\"] }]
link = [{ from = \"hsA\", to = \"hs2\" }]

[[rooms]]
name = \"side\"
servers = [\"hs1\", \"hsB\"]
power_levels = { creator = \"hs1/2\", users = { \"hs3/0\" = 50 } }

[[workload]]
kind = \"spam\"
room = \"lobby\"
client = \"hs2/5\"
rate = 10.0
count = 5

[[workload]]
kind = \"script\"
room = \"call\"
actions = [
  { at = \"0s\", client = \"hsC/0\", send = \"sticky\" },
  { at = \"1s\", server = \"hsD\", do = \"crash\" },
  { at = \"2s\", client = \"hs1/0\", send = \"power_levels\", user = \"hs1/9\", level = 50 },
  { at = \"3s\", client = \"hs1/0\", send = \"sticky\", only_to = [\"hs2\", \"hsE\"] },
]

[[fault]]
kind = \"partition\"
servers = [\"hs1\", \"hsF\"]
from = \"1m\"
to = \"2m\"
",
    );
    assert_eq!(
        errs(&text),
        vec![
            "t.toml:14:7: `network.hub`: unknown server `hs3`",
            "t.toml:15:45: `network.regions[0].servers[1]`: unknown server `hs9`",
            "t.toml:16:18: `network.link[0].from`: unknown server `hsA`",
            "t.toml:20:19: `rooms[1].servers[1]`: unknown server `hsB`",
            "t.toml:21:28: `rooms[1].power_levels.creator`: unknown client `hs1/2`: server `hs1` has 2 clients (hs1/0 to hs1/1)",
            "t.toml:21:47: `rooms[1].power_levels.users.\"hs3/0\"`: unknown client `hs3/0`: no server `hs3`",
            "t.toml:25:8: `workload[0].room`: unknown room `lobby`",
            "t.toml:26:10: `workload[0].client`: unknown client `hs2/5`: server `hs2` has 2 clients (hs2/0 to hs2/1)",
            "t.toml:34:25: `workload[1].actions[0].client`: unknown client `hsC/0`: no server `hsC`",
            "t.toml:35:25: `workload[1].actions[1].server`: unknown server `hsD`",
            "t.toml:36:64: `workload[1].actions[2].user`: unknown client `hs1/9`: server `hs1` has 2 clients (hs1/0 to hs1/1)",
            "t.toml:37:69: `workload[1].actions[3].only_to[1]`: unknown server `hsE`",
            "t.toml:42:19: `fault[0].servers[1]`: unknown server `hsF`",
        ]
    );
}

#[test]
fn client_names_need_server_and_index() {
    let text = with_head(
        "
[[workload]]
kind = \"spam\"
room = \"call\"
client = \"alice\"
rate = 1.0
",
    );
    assert_eq!(
        errs(&text),
        vec!["t.toml:15:10: `workload[0].client`: `alice` is not a client name (expected server/index, e.g. \"hs1/0\")"]
    );
}

#[test]
fn empty_rooms_and_duplicate_names() {
    let text = with_head(
        "
[[rooms]]
name = \"call\"
servers = []

[[servers.list]]
name = \"x1\"

[[servers.list]]
name = \"x1\"
",
    );
    assert_eq!(
        errs(&text),
        vec![
            "t.toml:13:8: `rooms[1].name`: duplicate room name `call`",
            "t.toml:14:1: `rooms[1].servers`: a room needs at least one server",
            "t.toml:20:8: `servers.list[1].name`: duplicate server name `x1` (first in servers.list[0])",
        ]
    );
}

#[test]
fn expect_needs_a_comparison() {
    let text = with_head("\n[[expect]]\nmetric = \"delivery.lost\"\n\n[[expect]]\nmetric = \"delivery.count\"\nmin = 1\n");
    assert_eq!(
        errs(&text),
        vec!["t.toml:12:1: `expect[0]`: needs at least one of `equals`, `min` or `max`"]
    );
}

#[test]
fn script_actions_have_one_actor_and_one_verb() {
    let text = with_head(
        "
[[workload]]
kind = \"script\"
room = \"call\"
actions = [
  { at = \"0s\", send = \"sticky\" },
  { at = \"1s\", client = \"hs1/0\", server = \"hs1\", do = \"crash\" },
  { at = \"2s\", client = \"hs1/0\", send = \"message\", do = \"join\" },
  { at = \"3s\", client = \"hs1/0\" },
  { at = \"4s\", server = \"hs1\", send = \"sticky\" },
  { at = \"5s\", client = \"hs1/0\", do = \"restart\" },
  { at = \"6s\", server = \"hs2\", do = \"leave_room\" },
  { at = \"7s\", client = \"hs1/0\", send = \"power_levels\" },
  { at = \"8s\", client = \"hs1/0\", send = \"power_levels\", user = \"hs2/0\", level = 100 },
  { at = \"9s\", server = \"hs2\", do = \"restart\" },
]
",
    );
    assert_eq!(
        errs(&text),
        vec![
            "t.toml:16:3: `workload[0].actions[0]`: an action needs exactly one of `client` or `server`",
            "t.toml:17:3: `workload[0].actions[1]`: an action needs exactly one of `client` or `server`",
            "t.toml:18:3: `workload[0].actions[2]`: an action needs exactly one of `send` or `do`",
            "t.toml:19:3: `workload[0].actions[3]`: an action needs exactly one of `send` or `do`",
            "t.toml:20:25: `workload[0].actions[4].server`: `send` is done by a client: give `client`, not `server`",
            "t.toml:21:39: `workload[0].actions[5].do`: `do = \"restart\"` needs `server`, not `client`",
            "t.toml:22:37: `workload[0].actions[6].do`: `do = \"leave_room\"` needs `client`, not `server`",
            "t.toml:23:41: `workload[0].actions[7].send`: `send = \"power_levels\"` needs `user`",
            "t.toml:23:41: `workload[0].actions[7].send`: `send = \"power_levels\"` needs `level`",
        ]
    );
}

#[test]
fn fault_intervals_must_not_be_empty() {
    let text = with_head(
        "
[[fault]]
kind = \"partition\"
servers = [\"hs1\"]
from = \"30m\"
to = \"10m\"

[[fault]]
kind = \"crash\"
servers = [\"hs2\"]
from = \"5m\"
to = \"5m\"

[[fault]]
kind = \"crash\"
servers = [\"hs2\"]
from = \"50m\"
",
    );
    assert_eq!(
        errs(&text),
        vec![
            "t.toml:16:6: `fault[0].to`: `from` (30m) must be before `to` (10m)",
            "t.toml:22:6: `fault[1].to`: `from` (5m) must be before `to` (5m)",
        ]
    );
}

#[test]
fn zero_durations_multipliers_jitter_batch_and_rate() {
    let text = "\
[simulation]
name = \"t\"
duration = \"0s\"
sample_interval = \"0ms\"

[servers]
count = 2

[servers.defaults.federation]
max_pdus_per_txn = 0
retries = { multiplier = 0.5, jitter = [1.4, 0.8] }
backoff = { multiplier = 1.0, jitter = [0.0, 1.0] }

[servers.defaults.inbound]
policy = \"defer\"
sticky_rate = { per_second = 0.0 }

[[servers.list]]
name = \"hs2\"
inbound = { policy = \"unlimited\" }
federation = { backoff = { multiplier = 0.9 } }
";
    assert_eq!(
        errs(text),
        vec![
            "t.toml:3:12: `simulation.duration`: must be greater than 0",
            "t.toml:4:19: `simulation.sample_interval`: must be greater than 0",
            "t.toml:10:20: `servers.defaults.federation.max_pdus_per_txn`: must be at least 1",
            "t.toml:11:26: `servers.defaults.federation.retries.multiplier`: must be a finite number of at least 1 (got 0.5)",
            "t.toml:11:31: `servers.defaults.federation.retries.jitter`: needs 0 < low <= high <= 10, as in [0.8, 1.4]: each wait is multiplied by a draw from [low, high] (got [1.4, 0.8])",
            "t.toml:12:31: `servers.defaults.federation.backoff.jitter`: needs 0 < low <= high <= 10, as in [0.8, 1.4]: each wait is multiplied by a draw from [low, high] (got [0, 1])",
            "t.toml:16:30: `servers.defaults.inbound.sticky_rate.per_second`: must be greater than 0 when the policy is not `unlimited` (got 0)",
            "t.toml:21:41: `servers.list[0].federation.backoff.multiplier`: must be a finite number of at least 1 (got 0.9)",
        ]
    );
}

#[test]
fn a_server_entry_that_turns_the_limit_on_is_blamed_for_the_rate() {
    let text = with_head(
        "
[servers.defaults.inbound]
policy = \"unlimited\"
sticky_rate = { per_second = 0.0 }

[[servers.list]]
name = \"hs1\"
inbound = { policy = \"reject_429\" }
",
    );
    assert_eq!(
        errs(&text),
        vec!["t.toml:18:22: `servers.list[0].inbound.policy`: must be greater than 0 when the policy is not `unlimited` (got 0)"]
    );
}

#[test]
fn uniform_min_above_max() {
    let text =
        with_head("\n[network]\nlatency = { dist = \"uniform\", min = \"5ms\", max = \"1ms\" }\n");
    assert_eq!(
        errs(&text),
        vec!["t.toml:13:1: `network.latency`: `min` (5ms) is greater than `max` (1ms)"]
    );
}

#[test]
fn sweep_keys_values_seeds_and_zip() {
    let text = with_head(
        "
[sweep]
seeds = 0
\"servers.defaults.inbound.polcy\" = [\"defer\"]
\"network.loss\" = [0.1, 1.5]
\"simulation.seed\" = []
zip = [[\"network.loss\", \"nope\"]]
",
    );
    assert_eq!(
        errs(&text),
        vec![
            "t.toml:13:9: `sweep.seeds`: must be an integer of at least 1 (got 0)",
            "t.toml:14:1: `sweep.\"servers.defaults.inbound.polcy\"`: `servers.defaults.inbound.polcy` is not a scenario key: unknown field `polcy`, expected one of `policy`, `sticky_rate`, `retry_after`, `pdu_cost`, `queue_bound`, `reevaluate_soft_failed`, `old_sticky_in_extremities`, `reject_concurrent`",
            "t.toml:15:24: `sweep.\"network.loss\"[1]`: must be a probability between 0 and 1 (got 1.5)",
            "t.toml:16:1: `sweep.\"simulation.seed\"`: the value list is empty: give at least one value",
            "t.toml:17:25: `sweep.zip[0][1]`: `nope` is not a swept key of `[sweep]`",
        ]
    );
}

#[test]
fn sweep_over_a_valid_grid_loads() {
    let text = with_head(
        "
[sweep]
seeds = 3
\"servers.defaults.inbound.sticky_rate.per_second\" = [1, 5.5]
\"servers.defaults.inbound.policy\" = [\"reject_429\", \"accept_drop\"]
zip = [[\"servers.defaults.inbound.sticky_rate.per_second\", \"servers.defaults.inbound.policy\"]]
",
    );
    assert_eq!(errs(&text), Vec::<String>::new());
}

#[test]
fn set_on_unknown_path_or_bad_value_names_the_override() {
    assert_eq!(
        errs_with(HEAD, &["simulation.duration=2h", "servers.defaults.inbound.polcy=defer"]),
        vec!["--set:2:1: `servers.defaults.inbound.polcy`: unknown field `polcy`, expected one of `policy`, `sticky_rate`, `retry_after`, `pdu_cost`, `queue_bound`, `reevaluate_soft_failed`, `old_sticky_in_extremities`, `reject_concurrent`"]
    );
    assert_eq!(
        errs_with(HEAD, &["simulation.duration=2h", "network.loss=7"]),
        vec!["--set:2:1: `network.loss`: must be a probability between 0 and 1 (got 7)"]
    );
    assert_eq!(
        errs_with(HEAD, &["nonsense.key=1"]),
        vec!["--set:1:1: `nonsense.key`: unknown field `nonsense`, expected one of `simulation`, `network`, `servers`, `rooms`, `workload`, `fault`, `expect`, `sweep`"]
    );
    assert_eq!(
        errs_with(HEAD, &["workload[0].rate=1"]),
        vec!["--set:1:1: `workload[0].rate`: `workload` has no entries to index"]
    );
    assert_eq!(
        errs_with(HEAD, &["rooms.3.name=x"]),
        vec!["--set:1:1: `rooms.3.name`: index 3 is past the end of `rooms` (1 entries)"]
    );
    assert_eq!(
        errs_with(HEAD, &["novalue"]),
        vec!["--set:1:1: `novalue` is not KEY=VALUE"]
    );
}

#[test]
fn set_can_fix_what_the_file_gets_wrong() {
    let text = HEAD.replace("\"1h\"", "\"-1h\"");
    assert_eq!(errs(&text).len(), 1);
    assert_eq!(
        errs_with(&text, &["simulation.duration=1h"]),
        Vec::<String>::new()
    );
}

#[test]
fn missing_simulation_and_required_keys() {
    assert_eq!(
        errs("[servers]\ncount = 1\n"),
        vec!["t.toml:1:1: missing table `[simulation]`"]
    );
    assert_eq!(
        errs("[simulation]\nname = \"t\"\n"),
        vec!["t.toml:1:1: `simulation`: missing field `duration`"]
    );
}

#[test]
fn no_servers_is_allowed_but_references_fail() {
    assert_eq!(
        errs("[simulation]\nname = \"t\"\nduration = \"1m\"\n"),
        Vec::<String>::new()
    );
    assert_eq!(
        errs("[simulation]\nname = \"t\"\nduration = \"1m\"\n[[rooms]]\nname = \"r\"\nservers = [\"hs1\"]\n"),
        vec!["t.toml:6:12: `rooms[0].servers[0]`: unknown server `hs1`"]
    );
}

// ------------------------------------------------------------ ranges (issue: bad inputs)

#[test]
fn probabilities_and_rates_refuse_nan_and_out_of_range() {
    let text = with_head(
        "
[servers.defaults]
client_loss = 5.0
inbound = { sticky_rate = { per_second = nan, burst = 0 } }

[[servers.list]]
name = \"hs2\"
client_loss = nan
inbound = { policy = \"unlimited\", sticky_rate = { per_second = -1.0 } }

[[workload]]
kind = \"matrixrtc\"
room = \"call\"
participants = 2
crash_fraction = nan
",
    );
    assert_eq!(
        errs(&text),
        vec![
            "t.toml:13:15: `servers.defaults.client_loss`: must be a probability between 0 and 1 (got 5)",
            "t.toml:14:42: `servers.defaults.inbound.sticky_rate.per_second`: must be greater than 0 when the policy is not `unlimited` (got NaN)",
            "t.toml:14:55: `servers.defaults.inbound.sticky_rate.burst`: must be at least 1: a bucket that holds no token never lets a sticky event through",
            "t.toml:18:15: `servers.list[0].client_loss`: must be a probability between 0 and 1 (got NaN)",
            "t.toml:19:64: `servers.list[0].inbound.sticky_rate.per_second`: must be a finite number >= 0 (got -1)",
            "t.toml:25:18: `workload[0].crash_fraction`: must be a probability between 0 and 1 (got NaN)",
        ]
    );
}

#[test]
fn expect_tolerance_and_bounds() {
    let text = with_head(
        "
[[expect]]
metric = \"delivery.lost\"
equals = 0
tolerance = -0.1

[[expect]]
metric = \"delivery.count\"
min = 10
max = 5
",
    );
    assert_eq!(
        errs(&text),
        vec![
            "t.toml:15:13: `expect[0].tolerance`: must be >= 0: it is a relative tolerance, e.g. 0.05 for 5% (got -0.1)",
            "t.toml:20:7: `expect[1].max`: `min` (10) is greater than `max` (5): the claim can never hold",
        ]
    );
}

#[test]
fn sweep_headline_names_known_metrics() {
    let text = with_head(
        "
[sweep]
headline = [\"delivery.lost\", \"delivery.latency_ms\", \"rtc.ghost\", \"delivery.lost_by_cause.unreachable\", \"nonsense\"]
\"network.loss\" = [0.0, 0.1]
",
    );
    assert_eq!(
        errs(&text),
        vec![
            "t.toml:13:30: `sweep.headline[1]`: `delivery.latency_ms` is not a metric a run reports (`delivery.latency_ms` is a group; name one of `delivery.latency_ms.p50`, `delivery.latency_ms.p90`, `delivery.latency_ms.p99`, `delivery.latency_ms.max`, `delivery.latency_ms.mean`)",
            "t.toml:13:53: `sweep.headline[2]`: `rtc.ghost` is not a metric a run reports (known `rtc.*` metrics: `rtc.participants`, `rtc.crashes`, `rtc.ghosts_at_end`, `rtc.ghost_ms.p50`, `rtc.ghost_ms.p99`, `rtc.ghost_ms.max`, `rtc.join_visible_ms.p50`, `rtc.join_visible_ms.p99`, `rtc.false_leaves`, `rtc.heartbeat_requests`, `rtc.heartbeat_bytes`, `rtc.ghost_participant_s`)",
            "t.toml:13:104: `sweep.headline[4]`: `nonsense` is not a metric a run reports (metric names start with `delivery`, `federation`, `sync`, `spam`, `convergence`, `rtc`, `sim`)",
        ]
    );
}

/// Like HEAD with three servers (hs1..hs3) and rooms `call` (all) and `pair` (hs1, hs2).
const HEAD3: &str = "\
[simulation]
name = \"t\"
duration = \"1h\"

[servers]
count = 3

[[rooms]]
name = \"call\"
servers = \"all\"
";

#[test]
fn regions_and_links_name_each_server_or_pair_once() {
    let text = format!(
        "{HEAD3}
[network]
topology = \"regions\"
regions = [{{ name = \"eu\", servers = [\"hs1\", \"hs2\", \"hs1\"] }}, {{ name = \"us\", servers = [\"hs3\", \"hs2\"] }}]
link = [
  {{ from = \"hs1\", to = \"hs2\" }},
  {{ from = \"hs2\", to = \"hs1\", loss = 0.5 }},
  {{ from = \"hs1\", to = \"hs3\" }},
  {{ from = \"hs1\", to = \"hs3\" }},
]
"
    );
    assert_eq!(
        errs(&text),
        vec![
            "t.toml:14:52: `network.regions[0].servers[2]`: server `hs1` is listed twice in region `eu`",
            "t.toml:14:95: `network.regions[1].servers[1]`: server `hs2` is already in region `eu` (network.regions[0]): a server is in one region",
            "t.toml:17:24: `network.link[1].to`: the pair `hs2`-`hs1` already has a link (network.link[0]); a link covers both directions",
            "t.toml:19:24: `network.link[3].to`: the pair `hs1`-`hs3` already has a link (network.link[2]); a link covers both directions",
        ]
    );
}

#[test]
fn absent_clients_must_exist_in_the_room() {
    let text = format!(
        "{HEAD3}
[[rooms]]
name = \"pair\"
servers = [\"hs1\", \"hs2\"]
absent = [\"hs1/1\", \"hs1/7\", \"hs9/0\", \"hs3/0\", \"bob\"]
"
    );
    assert_eq!(
        errs(&text),
        vec![
            "t.toml:15:20: `rooms[1].absent[1]`: unknown client `hs1/7`: server `hs1` has 2 clients (hs1/0 to hs1/1)",
            "t.toml:15:29: `rooms[1].absent[2]`: unknown client `hs9/0`: no server `hs9`",
            "t.toml:15:38: `rooms[1].absent[3]`: `hs3/0` is not a client of this room's servers, so it cannot be absent from it",
            "t.toml:15:47: `rooms[1].absent[4]`: `bob` is not a client name (expected server/index, e.g. \"hs1/0\")",
        ]
    );
}

#[test]
fn event_bytes_and_clock_bounds() {
    let text = with_head(
        "
[servers.defaults]
event_bytes = 4000000000
clock_skew = \"-36501d\"
clock_drift_ppm = 1e300

[[fault]]
kind = \"clock\"
servers = [\"hs1\"]
from = \"1m\"
skew = \"+100000000d\"
drift_ppm = 1e300

[[fault]]
kind = \"clock\"
servers = [\"hs2\"]
from = \"1m\"
drift_ppm = -1000000.5
",
    );
    assert_eq!(
        errs(&text),
        vec![
            "t.toml:13:15: `servers.defaults.event_bytes`: must be at most 65536 (got 4000000000): the Matrix spec limits an event to 65536 bytes",
            "t.toml:14:14: `servers.defaults.clock_skew`: must be within ±36500d (100 years; got -36501d): larger offsets overflow the clock arithmetic",
            "t.toml:15:19: `servers.defaults.clock_drift_ppm`: must be a number from -1000000 to 1000000 parts per million (got 1e300): -1000000 stops the clock, beyond that it would run backwards",
            "t.toml:21:8: `fault[0].skew`: must be within ±36500d (100 years; got 100000000d): larger offsets overflow the clock arithmetic",
            "t.toml:22:13: `fault[0].drift_ppm`: must be a number from -1000000 to 1000000 parts per million (got 1e300): -1000000 stops the clock, beyond that it would run backwards",
            "t.toml:28:13: `fault[1].drift_ppm`: must be a number from -1000000 to 1000000 parts per million (got -1000000.5): -1000000 stops the clock, beyond that it would run backwards",
        ]
    );
}

#[test]
fn durations_have_upper_bounds() {
    let text = "\
[simulation]
name = \"t\"
duration = \"100000d\"
quiet_tail = \"40000d\"

[servers]
count = 2

[servers.defaults]
client_latency = { dist = \"uniform\", min = \"1ms\", max = \"36501d\" }
federation = { backoff = { max = \"1000000d\" } }

[[rooms]]
name = \"call\"
servers = \"all\"

[[workload]]
kind = \"spam\"
room = \"call\"
client = \"hs1/0\"
rate = 1.0
count = 3
duration = \"50000d\"
origin_ts_offset = \"-40000d\"

[[fault]]
kind = \"crash\"
servers = [\"hs1\"]
from = \"37000d\"
";
    assert_eq!(
        errs(text),
        vec![
            "t.toml:3:12: `simulation.duration`: must be at most 400d (got 100000d): a run covers hours to weeks, and times past that overflow the run's clock arithmetic",
            "t.toml:4:14: `simulation.quiet_tail`: must be at most 36500d (100 years; got 40000d): larger times overflow the clock arithmetic",
            "t.toml:10:57: `servers.defaults.client_latency.max`: must be at most 36500d (100 years; got 36501d): larger times overflow the clock arithmetic",
            "t.toml:11:34: `servers.defaults.federation.backoff.max`: must be at most 36500d (100 years; got 1000000d): larger times overflow the clock arithmetic",
            "t.toml:23:12: `workload[0].duration`: must be at most 36500d (100 years; got 50000d): larger times overflow the clock arithmetic",
            "t.toml:24:20: `workload[0].origin_ts_offset`: must be within ±36500d (100 years; got -40000d): larger offsets overflow the clock arithmetic",
            "t.toml:29:8: `fault[0].from`: must be at most 36500d (100 years; got 37000d): larger times overflow the clock arithmetic",
        ]
    );
}

#[test]
fn jitter_multiplier_sigma_retries_and_batch_bounds() {
    let text = with_head(
        "
[network]
latency = { dist = \"lognormal\", median = \"50ms\", sigma = 9.0 }

[servers.defaults.federation]
max_pdus_per_txn = 20000
retries = { count = 5000, multiplier = inf, jitter = [0.8, 1e300] }
backoff = { multiplier = nan, jitter = [0.8, 11.0] }
",
    );
    assert_eq!(
        errs(&text),
        vec![
            "t.toml:13:58: `network.latency.sigma`: must be a number from 0 to 5 (got 9): the mean is median × e^(sigma²/2), already 268 000 × the median at sigma 5",
            "t.toml:16:20: `servers.defaults.federation.max_pdus_per_txn`: must be at most 10000 (got 20000): the Matrix spec allows 50 PDUs in a transaction",
            "t.toml:17:21: `servers.defaults.federation.retries.count`: must be at most 1000 (got 5000): Synapse retries 10 times; every retry is a row of federation.csv",
            "t.toml:17:40: `servers.defaults.federation.retries.multiplier`: must be a finite number of at least 1 (got inf)",
            "t.toml:17:45: `servers.defaults.federation.retries.jitter`: needs 0 < low <= high <= 10, as in [0.8, 1.4]: each wait is multiplied by a draw from [low, high] (got [0.8, 1e300])",
            "t.toml:18:26: `servers.defaults.federation.backoff.multiplier`: must be a finite number of at least 1 (got NaN)",
            "t.toml:18:31: `servers.defaults.federation.backoff.jitter`: needs 0 < low <= high <= 10, as in [0.8, 1.4]: each wait is multiplied by a draw from [low, high] (got [0.8, 11])",
        ]
    );
}

#[test]
fn zero_time_loops_are_refused() {
    // Zero client latency: a sync answered at once (poll_timeout 0, or a failed sync retried
    // after 0) would be sent again at the same instant.
    let text = with_head(
        "
[servers.defaults]
client_latency = { dist = \"constant\", value = \"0ms\" }
sync = { poll_timeout = \"0s\", error_retry = \"500us\" }
",
    );
    assert_eq!(
        errs(&text),
        vec![
            "t.toml:14:25: `servers.defaults.sync.poll_timeout`: must be at least 1ms (got 0s): `client_latency` is always 0, so a sync answered at once is sent again at the same instant forever",
            "t.toml:14:45: `servers.defaults.sync.error_retry`: must be at least 1ms (got 500us): `client_latency` is always 0, so a failed sync (server down) is retried at the same instant forever",
        ]
    );
    // The same settings with a latency that moves time forward are fine.
    let ok = text.replace(
        "{ dist = \"constant\", value = \"0ms\" }",
        "{ dist = \"uniform\", min = \"0ms\", max = \"2ms\" }",
    );
    assert_eq!(errs(&ok), Vec::<String>::new());

    // Zero network latency: a failed /send is answered at once, so zero retry and backoff
    // waits (or waits that a jitter shrinks below 1 ms, or a `max` of 0) loop.
    let text = with_head(
        "
[network]
latency = { dist = \"constant\", value = \"0ms\" }

[servers.defaults.federation]
retries = { first = \"0s\" }
backoff = { initial = \"1ms\", jitter = [0.5, 1.0] }

[[servers.list]]
name = \"hs2\"
federation = { retries = { first = \"1s\", max = \"0s\" }, backoff = { initial = \"1s\" } }
",
    );
    assert_eq!(
        errs(&text),
        vec![
            "t.toml:16:21: `servers.defaults.federation.retries.first`: must give waits of at least 1ms (got 0s): `network.latency` is always 0, so a failed /send is answered at once and a zero wait retries it at the same instant forever",
            "t.toml:17:23: `servers.defaults.federation.backoff.initial`: must give waits of at least 1ms (its smallest wait, 1ms × jitter 0.5, is under 1ms): `network.latency` is always 0, so a failed /send is answered at once and a zero wait retries it at the same instant forever",
            "t.toml:21:48: `servers.list[0].federation.retries.max`: must give waits of at least 1ms (got 0s): `network.latency` is always 0, so a failed /send is answered at once and a zero wait retries it at the same instant forever",
        ]
    );
    // No retries inside a /send: `retries.first` does not matter.
    let ok = with_head(
        "
[network]
latency = { dist = \"constant\", value = \"0ms\" }

[servers.defaults.federation]
retries = { count = 0, first = \"0s\" }
",
    );
    assert_eq!(errs(&ok), Vec::<String>::new());
    // A link fault that makes one pair's latency 0 counts too.
    let text = with_head(
        "
[servers.defaults.federation]
backoff = { initial = \"0s\" }

[[fault]]
kind = \"link\"
servers = [\"hs1\", \"hs2\"]
from = \"1m\"
to = \"2m\"
latency = { dist = \"constant\", value = \"0s\" }
",
    );
    assert_eq!(
        errs(&text),
        vec!["t.toml:13:23: `servers.defaults.federation.backoff.initial`: must give waits of at least 1ms (got 0s): `fault[0].latency` is always 0, so a failed /send is answered at once and a zero wait retries it at the same instant forever"]
    );
}

#[test]
fn heartbeat_periods() {
    let text = with_head(
        "
[[workload]]
kind = \"matrixrtc\"
room = \"call\"
participants = 2
heartbeat = { leave_delay = \"0s\", restart_every = \"500us\" }

[[workload]]
kind = \"matrixrtc\"
room = \"call\"
participants = 2
heartbeat = { leave_delay = \"1s\" }

[[workload]]
kind = \"matrixrtc\"
room = \"call\"
participants = 2
heartbeat = { leave_delay = \"0s\", restart_every = \"0s\", enabled = false }

[[workload]]
kind = \"matrixrtc\"
room = \"call\"
participants = 2
heartbeat = { leave_delay = \"5s\", restart_every = \"5s\" }
",
    );
    assert_eq!(
        errs(&text),
        vec![
            "t.toml:16:29: `workload[0].heartbeat.leave_delay`: must be at least 1s (got 0s): a shorter delayed leave fires before the participant's restart (every `leave_delay / 2` then) can reach its server, so every member would leave and rejoin many times a second",
            "t.toml:16:51: `workload[0].heartbeat.restart_every`: must be at least 1ms (got 500us): each participant restarts its delayed leave this often",
        ]
    );
}

// ------------------------------------------------------------ locations

fn errs_of_file(bytes: &[u8]) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.toml");
    std::fs::write(&path, bytes).unwrap();
    match stickysim::scenario::load_path(&path, &[]) {
        Ok(_) => vec![],
        Err(e) => e
            .iter()
            .map(|e| {
                e.to_string()
                    .replacen(&path.display().to_string(), "t.toml", 1)
            })
            .collect(),
    }
}

#[test]
fn bytes_that_are_not_utf8_are_located() {
    assert_eq!(
        errs_of_file(b"[simulation]\nname = \"caf\xc3\xa9 \xff\xfe\"\nduration = \"1m\"\n"),
        vec!["t.toml:2:14: `simulation.name`: byte 0xff is not UTF-8: a scenario is UTF-8 text"]
    );
    assert_eq!(
        errs_of_file(b"[simulation]\nname = \"t\"\nduration = \"1m\"\n# \xe2\x82\n"),
        vec!["t.toml:4:3: `simulation`: bytes 0xe2 0x82 are not UTF-8: a scenario is UTF-8 text"]
    );
    assert_eq!(
        errs_of_file(b"\x80"),
        vec!["t.toml:1:1: byte 0x80 is not UTF-8: a scenario is UTF-8 text"]
    );
}

#[test]
fn a_jitter_with_three_elements_is_located() {
    let text = with_head(
        "
[servers.defaults.federation]
retries = { count = 3, jitter = [0.8, 1.0, 1.4] }

[[servers.list]]
name = \"hs1\"
[servers.list.federation.backoff]
jitter = [
  0.8,
  1.0,
  1.4,
]
",
    );
    assert_eq!(
        errs(&text),
        vec![
            "t.toml:13:24: `servers.defaults.federation.retries.jitter`: needs exactly 2 elements, [low, high] as in [0.8, 1.4] (got 3)",
            "t.toml:18:1: `servers.list[0].federation.backoff.jitter`: needs exactly 2 elements, [low, high] as in [0.8, 1.4] (got 3)",
        ]
    );
    assert_eq!(
        errs_with(HEAD, &["servers.defaults.federation.backoff.jitter=[1, 2, 3]"]),
        vec!["--set:1:1: `servers.defaults.federation.backoff.jitter`: needs exactly 2 elements, [low, high] as in [0.8, 1.4] (got 3)"]
    );
    // One element: serde's own message, located.
    assert_eq!(
        errs(&with_head("\n[servers.defaults.federation]\nbackoff = { jitter = [0.8] }\n")),
        vec!["t.toml:13:22: `servers.defaults.federation.backoff.jitter`: invalid length 1, expected an array of length 2"]
    );
}
