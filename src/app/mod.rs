//! The application: the protocol model ([`World`]) with the workloads that drive its
//! clients, as one kernel model. [`build`] makes it from a scenario.

pub mod build;

use crate::kernel::{Ctx, Model};
use crate::matrix::msg::Ev;
use crate::matrix::world::World;
use crate::workload::Workloads;

pub use build::{build, Built};

/// The world and its workloads.
pub struct Sim {
    pub world: World,
    pub workloads: Workloads,
}

impl Model for Sim {
    type Event = Ev;

    fn handle(&mut self, ctx: &mut Ctx<'_, Ev>, ev: Ev) {
        match ev {
            Ev::App(a) => self.workloads.handle(&mut self.world, ctx, a),
            other => self.world.handle(ctx, other),
        }
        // Answers the world handed to the application, in order, at this same instant.
        while let Some(a) = self.world.take_app() {
            self.workloads.handle(&mut self.world, ctx, a);
        }
    }
}
