#!/usr/bin/env python3
"""Writes random traces the engine was not tuned on, each with a random model, for a check that
Osmosis' lead over the KEDA + HPA model is not an artifact of the shipped traces.

  python3 hack/sim/traces/random.py OUT_DIR [COUNT] [SEED]

Deterministic for a seed. Each trace mixes a base rate (steady, noisy, ramping or off), bursts,
dumps and quiet periods; its model draws the per-pod rate, the pod start-up time, the handler
time distribution, the report interval and maxReplicas.
"""
import math
import os
import random
import sys


def trace(rng, seconds, capacity):
    # Within what maxReplicas pods can take: a sustained overload makes every scaler sit at
    # maxReplicas, which compares nothing.
    base_kind = rng.choice(["steady", "noisy", "ramp", "off", "diurnal"])
    base = rng.uniform(0.02, 0.4) * capacity
    noise = rng.uniform(0, 0.3) if base_kind in ("noisy", "diurnal") else 0.0
    rates = []
    for t in range(seconds):
        if base_kind == "off":
            r = 0.0
        elif base_kind == "ramp":
            r = base * t / seconds
        elif base_kind == "diurnal":
            r = base * (1 - 0.8 * math.cos(2 * math.pi * t / seconds))
        else:
            r = base
        rates.append(r * (1 + rng.uniform(-noise, noise)))
    events = []
    for _ in range(rng.randint(1, 6)):
        kind = rng.choice(["burst", "dump", "quiet"])
        start = rng.randrange(0, seconds - 300)  # room to end: a trace ending mid-burst
        # rewards the slowest scaler
        if kind == "burst":
            length, level = rng.randint(20, 300), rng.uniform(0.2, 0.7) * capacity
        elif kind == "dump":  # at most what full capacity drains in a minute
            length = rng.randint(2, 15)
            level = rng.uniform(10, 60) * capacity / length
        else:
            length, level = rng.randint(60, 900), 0.0
        events.append(f"{kind} {level:.0f}/s at {start} s for {length} s")
        for t in range(start, min(seconds, start + length)):
            rates[t] = level if kind != "burst" else max(rates[t], level)
    return base_kind, events, rates


def model(rng):
    handler = rng.choice(["constant", "constant", "lognormal", "pareto"])
    rate, most = rng.choice([10, 20, 50, 100]), rng.choice([20, 50, 100])
    parts = [
        f"rate={rate}",
        f"startup={rng.choice([3, 5, 10, 20, 30])}",
        f"max={most}",
        f"report={rng.choice([1, 1, 2])}",
        f"handler={handler}",
        f"concurrency={rng.choice([1, 4, 16])}",
        f"seed={rng.randint(1, 10**6)}",
    ]
    if handler == "lognormal":
        parts.append(f"shape={rng.choice([0.5, 1.0])}")
    if handler == "pareto":
        parts.append(f"shape={rng.choice([1.5, 2.5])}")
    return " ".join(parts), rate * most


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    try:
        count = int(sys.argv[2]) if len(sys.argv) > 2 else 20
        seed = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    except ValueError:
        sys.exit("random.py: COUNT and SEED are whole numbers\n" + __doc__)
    if count < 1:
        sys.exit("random.py: COUNT must be at least 1")
    rng = random.Random(seed)
    os.makedirs(out, exist_ok=True)
    for i in range(count):
        seconds = rng.choice([1200, 1800, 3600])
        settings, capacity = model(rng)
        base_kind, events, rates = trace(rng, seconds, capacity)
        name = os.path.join(out, f"random-{seed}-{i:02d}.csv")
        with open(name, "w") as f:
            f.write(f"# random (seed {seed}, #{i}): {base_kind} base; " + "; ".join(events) + "\n")
            f.write("# model: " + settings + "\n")
            f.write("seconds,arrivals_per_second\n")
            prev = None
            for t, r in enumerate(rates):
                r = round(max(0.0, r), 1)
                if r != prev or t == len(rates) - 1:
                    f.write(f"{t},{r:g}\n")
                    prev = r


if __name__ == "__main__":
    main()
