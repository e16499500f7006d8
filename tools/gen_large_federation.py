#!/usr/bin/env python3
"""Generate scenarios/large_federation.toml (SPEC 6): a large, realistic federation.

    python3 tools/gen_large_federation.py                     # the committed scenario
    python3 tools/gen_large_federation.py --servers 500 --participants 2500 \
        --name large_federation_half --out /tmp/large_half.toml   # half size (linearity check)

Deterministic: the same arguments always write the same file (Python's `random.Random`
with a fixed seed, no other input). The parameters follow /work/shared/REFERENCES.md,
"Realistic scenario parameters":

- servers per room: P(n) proportional to 1/n^2 (n >= 2, capped), median 2-3, a few rooms
  spanning hundreds of servers;
- users (clients) per server: P(users >= k) proportional to 1/k, capped; one large server;
- four regions with lognormal one-way latencies (half the round trips quoted there);
- some packet loss; a few small servers down for minutes; some listed servers dead
  (down all run, their clients never online);
- calls of 2-4 people typical (bigger in the big rooms), 30-60 min long, js-sdk heartbeat
  defaults (5 s restart, 8 s delayed leave), a few participants crashing.

Every client of a room's listed servers is joined to it (the scenario format has no finer
membership), so the large server is listed only where all its clients belong: in the large
rooms.
"""

import argparse
import bisect
import itertools
import random

REGIONS = [("eu", 0.40), ("na", 0.35), ("asia", 0.15), ("oc", 0.10)]


_POWER_LAW = {}


def power_law_int(rng, lo, hi, alpha):
    """n in [lo, hi] with P(n) proportional to n^-alpha (inverse CDF over the table).

    The table's running sums are built once per (lo, hi, alpha) and searched by bisection:
    the same sums in the same order as a linear scan, so the same n for the same draw
    (100 000 servers need this: a scan per room is quadratic)."""
    key = (lo, hi, alpha)
    if key not in _POWER_LAW:
        weights = [n ** -alpha for n in range(lo, hi + 1)]
        _POWER_LAW[key] = (sum(weights), list(itertools.accumulate(weights)))
    total, acc = _POWER_LAW[key]
    u = rng.random() * total
    i = bisect.bisect_left(acc, u)
    return lo + i if i < len(acc) else hi


def clients_per_server(rng, cap):
    """P(users >= k) = 1/k for k <= cap."""
    u = 1.0 - rng.random()  # (0, 1]
    return max(1, min(cap, int(1.0 / u)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--servers", type=int, default=1000)
    ap.add_argument("--participants", type=int, default=5000)
    ap.add_argument("--name", default="large_federation")
    ap.add_argument("--seed", type=int, default=4354)
    ap.add_argument("--out", default="scenarios/large_federation.toml")
    a = ap.parse_args()
    rng = random.Random(a.seed)
    n_servers = a.servers
    names = [f"hs{i}" for i in range(1, n_servers + 1)]

    # Users per server: heavy-tailed, capped at 12; hs1 is the one large server.
    cps = {s: clients_per_server(rng, 12) for s in names}
    big = names[0]
    cps[big] = 40

    # Regions: contiguous blocks of servers (the names carry no meaning otherwise).
    regions = []
    start = 0
    for i, (rname, frac) in enumerate(REGIONS):
        end = n_servers if i == len(REGIONS) - 1 else start + round(frac * n_servers)
        regions.append((rname, names[start:end]))
        start = end

    # Rooms and calls until the participants are placed.
    max_room = max(2, n_servers // 2)
    rooms = []  # (name, [servers], participants, call start s, mean stay s)
    placed = 0
    i = 0
    while placed < a.participants:
        n = power_law_int(rng, 2, max_room, 2.0)
        servers = rng.sample(names[1:], n)
        large = n >= 30
        if large:
            servers.append(big)
        servers.sort(key=lambda s: int(s[2:]))
        clients = sum(cps[s] for s in servers)
        if large:
            k = rng.randint(8, 40)
        else:
            k = rng.choices([2, 3, 4, 5, 6, 8], weights=[45, 25, 15, 7, 5, 3])[0]
        k = min(k, clients, a.participants - placed)
        if k < 1:
            continue
        call_start = rng.uniform(0, 50 * 60)
        stay = rng.uniform(30 * 60, 60 * 60)
        rooms.append((f"r{i}", servers, k, call_start, stay))
        placed += k
        i += 1

    # Which clients host participants (room clients in server order, round-robin).
    busy = set()
    for _, servers, k, _, _ in rooms:
        clients = [(s, c) for s in servers for c in range(cps[s])]
        for p in range(k):
            busy.add(clients[p % len(clients)][0])
    in_rooms = {s for _, servers, _, _, _ in rooms for s in servers}
    idle = sorted((s for s in in_rooms if s not in busy and s != big), key=lambda s: int(s[2:]))
    # Dead servers: listed in rooms but down all run (REFERENCES: rooms list many dead servers).
    dead = sorted(rng.sample(idle, min(len(idle), max(1, n_servers // 20))), key=lambda s: int(s[2:]))
    # A few small servers go down for minutes (not dead, not the large server).
    dead_set = set(dead)
    alive_small = [s for s in names[1:] if s not in dead_set and cps[s] <= 2]
    flaky = sorted(rng.sample(alive_small, max(1, n_servers // 100)), key=lambda s: int(s[2:]))

    out = []
    w = out.append
    total_clients = sum(cps.values())
    large_rooms = sum(1 for r in rooms if len(r[1]) >= 30)
    sizes = sorted(len(r[1]) for r in rooms)
    median = sizes[len(sizes) // 2]
    w(f"# Generated by tools/gen_large_federation.py (--servers {n_servers} --participants "
      f"{a.participants} --seed {a.seed}); edit the script, not this file.")
    w("[simulation]")
    w(f'name = "{a.name}"')
    w('description = """A large federation for an hour (SPEC 6 performance target): '
      f"{n_servers} servers in four regions, {total_clients} clients, {len(rooms)} rooms whose "
      f"server counts are heavy-tailed (median {median}, {large_rooms} rooms of 30 or more, "
      f"the largest {sizes[-1]}), {a.participants} MatrixRTC participants in calls of mostly 2-4 "
      "people lasting 30-60 minutes. Lognormal latencies by region, 0.2% loss, "
      f"{len(dead)} listed servers dead all along, {len(flaky)} small servers down for a few "
      'minutes each."""')
    w("seed = 7")
    w('duration = "1h"')
    w('sample_interval = "30s"')
    w('records = "summary"')
    w('quiet_tail = "5m"')
    w("")
    w("[network]")
    w('topology = "regions"')
    w("loss = 0.002")
    w("# One way: half the round trips of REFERENCES.md (within a continent ~56 ms RTT,")
    w("# across ~125-350 ms RTT).")
    w('latency = { dist = "lognormal", median = "62ms", sigma = 0.77 }')
    w('intra_latency = { dist = "lognormal", median = "28ms", sigma = 0.64 }')
    w('inter_latency = { dist = "lognormal", median = "80ms", sigma = 0.45 }')
    for rname, members in regions:
        w(f'[[network.regions]]\nname = "{rname}"')
        w("servers = [" + ", ".join(f'"{s}"' for s in members) + "]")
    w("")
    w("[servers]")
    w(f"count = {n_servers}")
    w('name_prefix = "hs"')
    w("")
    w("[servers.defaults]")
    w("clients_per_server = 1")
    w('client_latency = { dist = "lognormal", median = "20ms", sigma = 0.5 }')
    w('processing = { dist = "uniform", min = "15ms", max = "25ms" }')
    w("")
    w("# Users per server: P(users >= k) ~ 1/k (capped at 12), hs1 the large server.")
    for s in names:
        if cps[s] != 1:
            w(f'[[servers.list]]\nname = "{s}"\nclients_per_server = {cps[s]}')
    w("")
    for name, servers, k, call_start, stay in rooms:
        w(f'[[rooms]]\nname = "{name}"')
        w("servers = [" + ", ".join(f'"{s}"' for s in servers) + "]")
    w("")
    # Crashes: each participant crashes with probability 5%, drawn here from a stream of
    # its own (the rooms above do not change); `crash_fraction` is an exact fraction
    # (round(crash_fraction x participants) crash), so each call gets its count as c/k.
    crash_rng = random.Random(a.seed + 1)
    for name, servers, k, call_start, stay in rooms:
        t0 = round(call_start)
        crashes = sum(crash_rng.random() < 0.05 for _ in range(k))
        w("[[workload]]")
        w('kind = "matrixrtc"')
        w(f'room = "{name}"')
        w(f"participants = {k}")
        w(f'join = {{ dist = "uniform", min = "{t0}s", max = "{t0 + 120}s" }}')
        w(f'stay = {{ dist = "exponential", mean = "{round(stay)}s" }}')
        if crashes:
            w(f"crash_fraction = {crashes / k:.6g}")
        w('heartbeat = { leave_delay = "8s", restart_every = "5s" }')
    w("")
    w("[[fault]]")
    w('kind = "crash"')
    w("servers = [" + ", ".join(f'"{s}"' for s in dead) + "]")
    w('from = "0s"')
    w("")
    dead_clients = [f"{s}/{c}" for s in dead for c in range(cps[s])]
    w("[[fault]]")
    w('kind = "client_offline"')
    w("clients = [" + ", ".join(f'"{c}"' for c in dead_clients) + "]")
    w('from = "0s"')
    for s in flaky:
        t0 = rng.randint(5, 45) * 60
        length = rng.randint(2, 10) * 60
        w("")
        w(f'[[fault]]\nkind = "crash"\nservers = ["{s}"]\nfrom = "{t0}s"\nto = "{t0 + length}s"')
    w("")
    w("@EXPECT@")
    text = "\n".join(out) + "\n"
    with open(a.out, "w") as f:
        f.write(text.replace("@EXPECT@\n", EXPECT))


EXPECT = """[[expect]]
metric = "delivery.lost"
equals = 0
note = "sticky_all catch-up and retries deliver every sticky event despite 0.2% loss and the crashes"

[[expect]]
metric = "delivery.count"
min = 100000
note = "the scale this scenario is for: hundreds of thousands of (event, client) deliveries"

[[expect]]
metric = "delivery.latency_ms.p50"
max = 250
note = "most deliveries take one federation hop plus processing on each side"

[[expect]]
metric = "rtc.ghost_ms.p50"
max = 10000
note = "a typical crashed member is gone 8 s (the delayed leave) plus delivery after its crash"

[[expect]]
metric = "rtc.ghost_ms.max"
max = 1000000
note = "a crashed member can linger behind a destination in backoff (Synapse's first backoff: 10 min, up to x1.4 with jitter, then the next attempt and sync) after a crashed server comes back (916 s at seed 7)"
"""

if __name__ == "__main__":
    main()
