//! The convergence sampler's cached per-(client, room) views give exactly the answers of a
//! full recomputation at every sample and at the end (the run panics on any mismatch).

use std::path::Path;
use stickysim::run::{simulate_limited, Guards, StreamTo};

fn verify(name: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(name);
    let scn = stickysim::scenario::load_path(&path, &[]).expect("scenario");
    let guards = Guards {
        verify_views: true,
        ..Guards::default()
    };
    simulate_limited(&scn, false, false, false, &guards, StreamTo::Nowhere).expect("run");
}

#[test]
fn cached_views_equal_full_recomputation() {
    for name in [
        "expiry_divergence.toml",
        "live_location.toml",
        "matrixrtc_call.toml",
        "new_joiner.toml",
        "partition_catch_up.toml",
        "access_control_race.toml",
        "transitive_delivery.toml",
        "spam_window.toml",
        "rate_limit_policies.toml",
        // Many rooms, clients in several: most samples reuse a room's answer.
        "large_federation.toml",
    ] {
        verify(name);
    }
}
