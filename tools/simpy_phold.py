#!/usr/bin/env python3
"""PHOLD in SimPy, callback style: the yardstick for `stickysim bench phold` (SPEC 6).

The same model as src/bench/phold.rs: N logical processes each start with `population`
events; handling an event schedules one new event at now + lookahead + Exp(mean) on a
uniformly chosen LP with probability `remote`, else on the LP itself. Events at times
<= end_time are handled. Time is in PHOLD units (SimPy floats; stickysim rounds to µs).

Callback style (env.timeout(...) with .callbacks.append(...)), not generator processes:
it is SimPy's fastest way to run this model, so the comparison is fair to SimPy.
The random numbers come from Python's `random` (Mersenne Twister), so counts agree with
stickysim's only statistically, not exactly.

Prints one line: events=… wall_s=… events_per_s=…

Needs simpy (pip install simpy); stickysim's CI does not run this.
"""

import argparse
import random
import sys
import time


def positive_int(s):
    v = int(s)
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {v}")
    return v


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lps", type=positive_int, default=1000)
    ap.add_argument("--population", type=positive_int, default=10)
    ap.add_argument("--end-time", type=float, default=1000.0)
    ap.add_argument("--remote", type=float, default=0.9)
    ap.add_argument("--lookahead", type=float, default=0.1)
    ap.add_argument("--mean", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args(argv)
    if not 0.0 <= a.remote <= 1.0:
        ap.error(f"--remote must be a probability in [0, 1], got {a.remote}")
    if not a.mean > 0.0 or a.mean == float("inf"):
        ap.error(f"--mean must be a positive finite number, got {a.mean}")
    if not 0.0 <= a.lookahead < float("inf"):
        ap.error(f"--lookahead must be a finite number >= 0, got {a.lookahead}")
    if not 0.0 <= a.end_time < float("inf"):
        ap.error(f"--end-time must be a finite number >= 0, got {a.end_time}")

    try:
        import simpy
    except ImportError:
        sys.exit("simpy is not installed: python3 -m pip install simpy")

    rng = random.Random(a.seed)
    rand = rng.random
    randrange = rng.randrange
    expovariate = rng.expovariate
    rate = 1.0 / a.mean
    lps, remote, lookahead = a.lps, a.remote, a.lookahead
    end = a.end_time

    env = simpy.Environment()
    timeout = env.timeout
    handled = [0]

    def on_event(ev):
        # SimPy's run(until=end) stops before events at exactly `end`; stickysim handles
        # them. With continuous delays that instant is never hit in practice.
        handled[0] += 1
        lp = ev.value
        dest = randrange(lps) if rand() < remote else lp
        timeout(lookahead + expovariate(rate), dest).callbacks.append(on_event)

    for lp in range(lps):
        for _ in range(a.population):
            timeout(lookahead + expovariate(rate), lp).callbacks.append(on_event)

    start = time.perf_counter()
    if end > 0:  # SimPy refuses until=0
        env.run(until=end)
    wall = time.perf_counter() - start
    n = handled[0]
    eps = n / wall if wall > 0 else 0.0
    print(f"events={n} wall_s={wall:.3f} events_per_s={eps:.0f}")


if __name__ == "__main__":
    main()
