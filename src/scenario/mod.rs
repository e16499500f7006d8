//! Scenarios: the TOML schema, loading with file/line/column errors, `--set`, validation.

pub mod commands;
pub mod duration;
pub mod estimate;
pub mod library;
pub mod loader;
pub mod locate;
pub mod metric_names;
pub mod schema;
pub mod set;
mod typed;
pub mod validate;

pub use duration::{Dur, SignedDur};
pub use loader::{load_path, load_str, load_with_overrides, ScenarioError};
pub use schema::*;

use sha2::{Digest, Sha256};

/// The default scenario, compiled in (`stickysim run` with no argument).
pub const DEFAULT_SCENARIO: &str = include_str!("../../scenarios/matrixrtc_call.toml");
pub const DEFAULT_SCENARIO_NAME: &str = "scenarios/matrixrtc_call.toml";

/// One server after merging: built-in defaults < `[servers.defaults]` < its `[[servers.list]]` entry.
#[derive(Clone, Debug, PartialEq)]
pub struct ServerSpec {
    pub name: String,
    pub cfg: ServerCfg,
}

/// A loaded, checked scenario, ready to build a world from.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// The file as run (after `--set` and sweep values).
    pub file: ScenarioFile,
    /// Servers in declaration order (generated names first, then listed ones not generated).
    pub servers: Vec<ServerSpec>,
    /// Where it came from (a path, or `"<embedded>"`), for messages.
    pub origin: String,
    /// The text it was loaded from and the keys overrides set, to locate later findings
    /// (the size estimate's refusals) the way load errors are located.
    pub source: Source,
}

/// A scenario's text and the key paths of the overrides applied to it.
#[derive(Clone, Default)]
pub struct Source {
    pub text: std::sync::Arc<str>,
    pub overrides: Vec<locate::KeyPath>,
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Source {{ {} bytes, {} overrides }}",
            self.text.len(),
            self.overrides.len()
        )
    }
}

impl Scenario {
    pub fn name(&self) -> &str {
        &self.file.simulation.name
    }

    pub fn seed(&self) -> u64 {
        self.file.simulation.seed
    }

    /// The scenario as run, as canonical TOML (written to `scenario.toml`).
    pub fn to_toml(&self) -> String {
        toml::to_string(&self.file)
            .unwrap_or_else(|e| format!("# could not serialise scenario: {e}\n"))
    }

    /// SHA-256 of the canonical TOML with the seed left out: runs of one scenario with
    /// different seeds share it (sweeps and merges compare it).
    pub fn digest(&self) -> String {
        let mut f = self.file.clone();
        f.simulation.seed = 0;
        let text = toml::to_string(&f).unwrap_or_default();
        hex(&Sha256::digest(text.as_bytes()))
    }
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
