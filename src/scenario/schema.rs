//! The scenario file's schema (README "Scenario files"). Every table refuses unknown keys; every table
//! given in part takes the defaults below for the keys it leaves out.
//!
//! Server settings are merged in two steps by the loader: `[servers.defaults]` over the
//! built-in defaults, then each `[[servers.list]]` entry over `[servers.defaults]`.

use super::duration::{Dur, SignedDur};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    pub simulation: SimulationCfg,
    #[serde(default)]
    pub network: NetworkCfg,
    #[serde(default)]
    pub servers: ServersCfg,
    #[serde(default)]
    pub rooms: Vec<RoomCfg>,
    #[serde(default)]
    pub workload: Vec<WorkloadCfg>,
    #[serde(default)]
    pub fault: Vec<FaultCfg>,
    #[serde(default)]
    pub expect: Vec<ExpectCfg>,
    /// Kept as raw TOML: keys are dotted paths into this very file (checked by the loader).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sweep: Option<toml::Table>,
}

/// `records = "auto"` keeps delivery rows up to this many, then switches to summary mode.
pub const AUTO_FULL_ROWS: usize = 1_000_000;

#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum RecordsMode {
    Full,
    Summary,
    #[default]
    Auto,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SimulationCfg {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default = "d_seed")]
    pub seed: u64,
    pub duration: Dur,
    #[serde(default = "d_sample_interval")]
    pub sample_interval: Dur,
    #[serde(default)]
    pub records: RecordsMode,
    /// A quiet tail at the end of the run during which workloads stop acting, so that
    /// `convergence.final_divergent_rooms` compares settled views. Default 0.
    #[serde(default)]
    pub quiet_tail: Dur,
}
fn d_seed() -> u64 {
    1
}
fn d_sample_interval() -> Dur {
    Dur::from_secs(1)
}

pub use crate::matrix::spec::{
    AccessControl, BackoffCfg, CatchUp, ClientCfg, FederationCfg, InboundCfg, InboundPolicy,
    RateCfg, RetriesCfg, ServerCfg, SyncCfg,
};
pub use crate::net::spec::{Dist, Topology};

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NetworkCfg {
    #[serde(default)]
    pub topology: Topology,
    #[serde(default = "d_latency")]
    pub latency: Dist,
    #[serde(default)]
    pub loss: f64,
    /// `star`: the hub server (default: the first server).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hub: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub regions: Vec<RegionCfg>,
    /// `regions`: latency between servers of one region (default: `latency`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intra_latency: Option<Dist>,
    /// `regions`: latency between regions (default: `latency`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inter_latency: Option<Dist>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub link: Vec<LinkCfg>,
}
fn d_latency() -> Dist {
    Dist::Constant {
        value: Dur::from_ms(50),
    }
}
impl Default for NetworkCfg {
    fn default() -> Self {
        NetworkCfg {
            topology: Topology::FullMesh,
            latency: d_latency(),
            loss: 0.0,
            hub: None,
            regions: vec![],
            intra_latency: None,
            inter_latency: None,
            link: vec![],
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RegionCfg {
    pub name: String,
    pub servers: Vec<String>,
}

/// One pair's link (both directions). In `explicit` topology only listed pairs are linked.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LinkCfg {
    pub from: String,
    pub to: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency: Option<Dist>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loss: Option<f64>,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct ServersCfg {
    /// Generated list: `count` servers named `{name_prefix}{1..=count}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_prefix: Option<String>,
    /// Kept raw so that per-server entries can be merged over it key by key.
    #[serde(default)]
    pub defaults: ServerCfg,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub list: Vec<ServerEntry>,
}

/// A `[[servers.list]]` entry: a name plus any server keys, merged over the defaults.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct ServerEntry {
    pub name: String,
    #[serde(flatten)]
    pub overrides: toml::Table,
}

/// `servers = "all"` or a list of server names.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(untagged)]
pub enum ServerSet {
    All(AllMarker),
    List(Vec<String>),
}

#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum AllMarker {
    All,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RoomCfg {
    pub name: String,
    pub servers: ServerSet,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub power_levels: Option<PowerLevelsCfg>,
    /// Clients of the listed servers that are not joined at the start (they may `join` later).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub absent: Vec<String>,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct PowerLevelsCfg {
    /// Client name ("hs1/0") of the room creator (level 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creator: Option<String>,
    #[serde(default)]
    pub default: i64,
    /// Level needed to send an event type (default 0).
    #[serde(default)]
    pub events: std::collections::BTreeMap<String, i64>,
    /// Users (client names) with a level of their own.
    #[serde(default)]
    pub users: std::collections::BTreeMap<String, i64>,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum WorkloadCfg {
    Matrixrtc(MatrixRtcCfg),
    Location(LocationCfg),
    Spam(SpamCfg),
    Script(ScriptCfg),
}

impl WorkloadCfg {
    pub fn kind(&self) -> &'static str {
        match self {
            WorkloadCfg::Matrixrtc(_) => "matrixrtc",
            WorkloadCfg::Location(_) => "location",
            WorkloadCfg::Spam(_) => "spam",
            WorkloadCfg::Script(_) => "script",
        }
    }

    pub fn room(&self) -> &str {
        match self {
            WorkloadCfg::Matrixrtc(c) => &c.room,
            WorkloadCfg::Location(c) => &c.room,
            WorkloadCfg::Spam(c) => &c.room,
            WorkloadCfg::Script(c) => &c.room,
        }
    }

    /// The `name` the file gives, if any.
    pub fn given_name(&self) -> Option<&str> {
        match self {
            WorkloadCfg::Matrixrtc(c) => c.name.as_deref(),
            WorkloadCfg::Location(c) => c.name.as_deref(),
            WorkloadCfg::Spam(c) => c.name.as_deref(),
            WorkloadCfg::Script(c) => c.name.as_deref(),
        }
    }
}

/// Every workload's name, in file order: the given `name`, else `{kind}.{room}`, with
/// `.2`, `.3`, ... appended when that is taken by an earlier workload.
pub fn workload_names(ws: &[WorkloadCfg]) -> Vec<String> {
    let given: std::collections::BTreeSet<&str> =
        ws.iter().filter_map(|w| w.given_name()).collect();
    let mut out: Vec<String> = vec![];
    let mut taken: std::collections::BTreeSet<String> = std::collections::BTreeSet::new();
    for w in ws {
        let name = match w.given_name() {
            Some(n) => n.to_string(),
            None => {
                let base = format!("{}.{}", w.kind(), w.room());
                let mut name = base.clone();
                let mut k = 2;
                while given.contains(name.as_str()) || taken.contains(&name) {
                    name = format!("{base}.{k}");
                    k += 1;
                }
                name
            }
        };
        taken.insert(name.clone());
        out.push(name);
    }
    out
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MatrixRtcCfg {
    /// Names this workload's random stream and the keys it makes (default `{kind}.{room}`),
    /// so that adding a workload never changes another's draws.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub room: String,
    pub participants: u32,
    #[serde(default = "d_join")]
    pub join: Dist,
    #[serde(default = "d_stay")]
    pub stay: Dist,
    #[serde(default)]
    pub crash_fraction: f64,
    #[serde(default = "d_hour")]
    pub sticky_duration: Dur,
    #[serde(default)]
    pub heartbeat: HeartbeatCfg,
    /// The js-sdk re-sends the join this long before its stickiness ends.
    #[serde(default = "d_resend_before")]
    pub resend_before_expiry: Dur,
}
fn d_join() -> Dist {
    Dist::Uniform {
        min: Dur(0),
        max: Dur::from_secs(120),
    }
}
fn d_stay() -> Dist {
    Dist::Exponential {
        mean: Dur::from_secs(1200),
    }
}
fn d_hour() -> Dur {
    Dur::from_secs(3600)
}
fn d_resend_before() -> Dur {
    Dur::from_secs(5)
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct HeartbeatCfg {
    pub leave_delay: Dur,
    pub restart_every: Dur,
    /// Turn delayed events off entirely (a crashed member then stays until its sticky expiry).
    pub enabled: bool,
}
impl Default for HeartbeatCfg {
    fn default() -> Self {
        HeartbeatCfg {
            leave_delay: Dur::from_secs(8),
            restart_every: Dur::from_secs(5),
            enabled: true,
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LocationCfg {
    /// Names this workload's random stream and the keys it makes (default `{kind}.{room}`),
    /// so that adding a workload never changes another's draws.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub room: String,
    /// How many sharing sessions (spread round-robin over the room's clients).
    pub sharers: u32,
    #[serde(default = "d_join")]
    pub start: Dist,
    #[serde(default = "d_stay")]
    pub share_for: Dist,
    #[serde(default = "d_update_every")]
    pub update_every: Dur,
    #[serde(default = "d_loc_duration")]
    pub sticky_duration: Dur,
    /// Send a leave (empty content) when a session stops.
    #[serde(default = "d_true")]
    pub leave_at_end: bool,
}
fn d_update_every() -> Dur {
    Dur::from_secs(30)
}
fn d_loc_duration() -> Dur {
    Dur::from_secs(600)
}
fn d_true() -> bool {
    true
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SpamCfg {
    /// Names this workload's random stream and the keys it makes (default `{kind}.{room}`),
    /// so that adding a workload never changes another's draws.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub room: String,
    pub client: String,
    pub rate: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<Dur>,
    #[serde(default)]
    pub start: Dur,
    /// The sticky duration_ms put in each event, in milliseconds of text ("1h"); may exceed 1 h.
    #[serde(default = "d_hour")]
    pub duration: Dur,
    #[serde(default)]
    pub origin_ts_offset: SignedDur,
    #[serde(default = "d_true")]
    pub distinct_keys: bool,
    #[serde(default = "d_rtc_type", rename = "type")]
    pub event_type: String,
}
fn d_rtc_type() -> String {
    "m.rtc.member".into()
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ScriptCfg {
    /// Names this workload's random stream and the keys it makes (default `{kind}.{room}`),
    /// so that adding a workload never changes another's draws.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub room: String,
    pub actions: Vec<ActionCfg>,
}

#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SendKind {
    Sticky,
    Leave,
    Message,
    PowerLevels,
}

#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum DoKind {
    Crash,
    Restart,
    Offline,
    Online,
    Join,
    LeaveRoom,
}

/// One scripted action (README "Scenario files"). Exactly one of `client`/`server` and one of `send`/`do`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ActionCfg {
    pub at: Dur,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send: Option<SendKind>,
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "do")]
    pub action: Option<DoKind>,
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "type")]
    pub event_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Sticky duration_ms as a duration string; may be "0s" or more than an hour.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<Dur>,
    /// Raw duration_ms, for invalid values (negative or non-integer) a misbehaving sender puts in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<toml::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin_ts_offset: Option<SignedDur>,
    /// power_levels: the client whose level changes, and the level.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<i64>,
    /// equivocate-style sends: only to these servers (default: all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub only_to: Option<Vec<String>>,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum FaultCfg {
    Partition {
        servers: Vec<String>,
        from: Dur,
        to: Dur,
    },
    Crash {
        servers: Vec<String>,
        from: Dur,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        to: Option<Dur>,
    },
    Link {
        /// The pair whose link changes (both directions).
        servers: Vec<String>,
        from: Dur,
        to: Dur,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        latency: Option<Dist>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        loss: Option<f64>,
    },
    ClientOffline {
        clients: Vec<String>,
        from: Dur,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        to: Option<Dur>,
    },
    Clock {
        servers: Vec<String>,
        from: Dur,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        skew: Option<SignedDur>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        drift_ppm: Option<f64>,
    },
    Equivocate {
        server: String,
        room: String,
        /// Server names that get the second version; the rest get the first.
        split: Vec<String>,
        at: Dur,
        #[serde(default = "d_rtc_type", rename = "type")]
        event_type: String,
        #[serde(default = "d_equivocate_key")]
        key: String,
    },
    Withhold {
        server: String,
        /// Destinations this server never sends to.
        to_servers: Vec<String>,
        #[serde(default)]
        from: Dur,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        to: Option<Dur>,
    },
}
fn d_equivocate_key() -> String {
    "equivocated".into()
}

/// A claim checked at the end of the run. At least one of the comparisons must be given.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ExpectCfg {
    pub metric: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub equals: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    /// Relative tolerance for `equals` (default exact).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerance: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}
