//! Workloads: what clients do. Each is built from its scenario table into the steps it
//! schedules at the start ([`Plan`]) and, for those that react while the run goes on
//! (MatrixRTC participants), a [`Workload`] that handles its timers and the answers to
//! its requests. Workloads sit outside the protocol model: they act on it only through
//! the calls a client application has ([`World::client_send`] and friends).

pub mod location;
pub mod matrixrtc;
pub mod script;
pub mod spam;

use crate::kernel::{stream, Ctx, RngStream, Time};
use crate::matrix::event::DurationField;
use crate::matrix::msg::{AppEv, ClientReq, Ev, Input};
use crate::matrix::world::World;
use crate::matrix::{ClientId, EvType, ReqTag, RoomId, ServerId};
use crate::scenario::{workload_names, WorkloadCfg};
use std::collections::BTreeMap;

/// A workload that acts while the run goes on.
pub trait Workload {
    /// Handle one of its timers or the answer to one of its requests.
    fn on_app(&mut self, w: &mut World, ctx: &mut Ctx<'_, Ev>, ev: AppEv);
}

/// A workload with nothing to do after planning.
struct Planned;

impl Workload for Planned {
    fn on_app(&mut self, _: &mut World, _: &mut Ctx<'_, Ev>, _: AppEv) {}
}

/// Every workload of a run, by application number (the `app` of its timers and tags).
#[derive(Default)]
pub struct Workloads {
    list: Vec<Box<dyn Workload>>,
}

impl Workloads {
    pub fn handle(&mut self, w: &mut World, ctx: &mut Ctx<'_, Ev>, ev: AppEv) {
        let app = match &ev {
            AppEv::Timer { app, .. } => *app,
            AppEv::Answer { tag, .. } => tag.app,
        };
        if let Some(wl) = self.list.get_mut(app as usize) {
            wl.on_app(w, ctx, ev);
        }
    }
}

/// What a workload's planner sees: the built world (names, who is in which room) and the
/// run's times; it appends the steps it schedules to `steps`.
pub struct Plan<'a> {
    pub world: &'a mut World,
    pub seed: u64,
    pub end: Time,
    /// Workloads start nothing from here on (the quiet tail).
    pub quiet_from: Time,
    pub steps: &'a mut Vec<(Time, Ev)>,
    /// This workload's application number.
    pub app: u32,
    /// This workload's name (its random stream and the keys it makes).
    pub name: String,
    /// MatrixRTC participants planned so far, over all workloads (they are numbered
    /// across the run).
    pub participants: &'a mut u32,
    /// Clients joined to each room at the start, in client order (built once for every
    /// workload: a scan of every client per workload was quadratic in big federations).
    pub joined: &'a BTreeMap<RoomId, Vec<ClientId>>,
}

impl Plan<'_> {
    pub fn room(&self, name: &str) -> anyhow::Result<RoomId> {
        self.world
            .sh
            .dir
            .room_id(name)
            .ok_or_else(|| anyhow::anyhow!("unknown room `{name}`"))
    }

    pub fn client(&self, name: &str) -> anyhow::Result<ClientId> {
        self.world
            .sh
            .dir
            .client_id(name)
            .ok_or_else(|| anyhow::anyhow!("unknown client `{name}`"))
    }

    pub fn server(&self, name: &str) -> anyhow::Result<ServerId> {
        self.world
            .sh
            .dir
            .server_id(name)
            .ok_or_else(|| anyhow::anyhow!("unknown server `{name}`"))
    }

    pub fn event_type(&mut self, name: &str) -> EvType {
        self.world.sh.dir.type_index(name)
    }

    /// Clients joined to a room at the start, in server then client order.
    pub fn room_clients(&self, room: RoomId) -> Vec<ClientId> {
        self.joined.get(&room).cloned().unwrap_or_default()
    }

    /// This workload's random stream for planning (keyed by its name).
    pub fn rng(&self) -> RngStream {
        stream(self.seed, &format!("workload/{}", self.name), "plan")
    }

    /// A client sends `req` at `at`.
    pub fn send(&mut self, at: Time, client: ClientId, req: ClientReq, tag: Option<ReqTag>) {
        self.steps.push((
            at,
            Ev::Input(Input::Send {
                client,
                req: Box::new(req),
                tag,
            }),
        ));
    }

    pub fn input(&mut self, at: Time, i: Input) {
        self.steps.push((at, Ev::Input(i)));
    }

    pub fn timer(&mut self, at: Time, token: u64) {
        self.steps.push((
            at,
            Ev::App(AppEv::Timer {
                app: self.app,
                token,
            }),
        ));
    }
}

/// A sticky duration_ms from a duration (ms), as the sender writes it.
pub fn duration_field(ms: u64) -> DurationField {
    DurationField::Ms(ms.min(i64::MAX as u64) as i64)
}

/// Each room's joined clients as their own servers see them, in client order: what
/// `world.is_joined` says for every (room, client) pair, gathered in one pass.
fn joined_at_start(world: &World) -> BTreeMap<RoomId, Vec<ClientId>> {
    let mut out: BTreeMap<RoomId, Vec<ClientId>> = BTreeMap::new();
    for (s, server) in world.servers.enumerate() {
        for (&room, view) in &server.rooms {
            let own = view
                .members
                .iter()
                .filter(|&&c| world.sh.dir.server_of(c) == s);
            out.entry(room).or_default().extend(own);
        }
    }
    for list in out.values_mut() {
        list.sort_unstable();
    }
    out
}

/// Plan every workload of the scenario, in file order.
pub fn plan_all(
    cfgs: &[WorkloadCfg],
    world: &mut World,
    seed: u64,
    end: Time,
    quiet_from: Time,
    steps: &mut Vec<(Time, Ev)>,
) -> anyhow::Result<Workloads> {
    let mut out = Workloads::default();
    let mut participants = 0;
    let names = workload_names(cfgs);
    let joined = joined_at_start(world);
    for (index, (cfg, name)) in cfgs.iter().zip(names).enumerate() {
        let mut plan = Plan {
            world: &mut *world,
            seed,
            end,
            quiet_from,
            steps: &mut *steps,
            app: index as u32,
            name,
            participants: &mut participants,
            joined: &joined,
        };
        let wl: Box<dyn Workload> = match cfg {
            WorkloadCfg::Script(s) => {
                script::plan(&mut plan, s)?;
                Box::new(Planned)
            }
            WorkloadCfg::Spam(s) => {
                spam::plan(&mut plan, s)?;
                Box::new(Planned)
            }
            WorkloadCfg::Location(l) => {
                location::plan(&mut plan, l)?;
                Box::new(Planned)
            }
            WorkloadCfg::Matrixrtc(m) => Box::new(matrixrtc::MatrixRtc::plan(&mut plan, m)?),
        };
        out.list.push(wl);
    }
    Ok(out)
}
