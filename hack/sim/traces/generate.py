#!/usr/bin/env python3
"""Writes the simulator's shipped traces (seconds,arrivals_per_second), deterministically.

Run from anywhere: python3 hack/sim/traces/generate.py. Each trace starts with comments saying
what it is; `# model:` lines set model parameters for it (see hack/sim/trace.hpp).
"""
import math
import os
import random

HERE = os.path.dirname(os.path.abspath(__file__))


def write(name, about, rates, model=""):
    with open(os.path.join(HERE, name + ".csv"), "w") as f:
        f.write("# " + about + "\n")
        if model:
            f.write("# model: " + model + "\n")
        f.write("seconds,arrivals_per_second\n")
        prev = None
        for t, r in enumerate(rates):
            r = round(max(0.0, r), 1)
            if r != prev or t == len(rates) - 1:  # rows only where the rate changes
                f.write(f"{t},{r:g}\n")
                prev = r


def batch_dump():
    # Two nightly-job dumps of 20,000 messages in 10 s into an idle channel.
    rates = [0.0] * 2400
    for start in (60, 1260):
        for t in range(start, start + 10):
            rates[t] = 2000
    return rates


def flash_crowd():
    # Quiet, then 800/s for two minutes, a tail of 100/s, a second identical crowd, quiet.
    rates = [0.0] * 2400
    for t in range(60, 2100):
        rates[t] = 100
    for start in (60, 1200):
        for t in range(start, start + 120):
            rates[t] = 800
    return rates


def noisy_diurnal(rng):
    # A day compressed into two hours: 50..350/s, +-25% noise each second.
    rates = []
    for t in range(7200):
        base = 200 - 150 * math.cos(2 * math.pi * t / 7200)
        rates.append(base * (1 + rng.uniform(-0.25, 0.25)))
    return rates


def on_off():
    # 2 minutes at 200/s, 10 minutes off (long enough to scale to zero), four times.
    rates = []
    for _ in range(4):
        rates += [200.0] * 120 + [0.0] * 600
    return rates


def sawtooth():
    # Ramps from 0 to 600/s over 5 minutes, then drops to 0, five times.
    rates = []
    for _ in range(5):
        rates += [600.0 * t / 300 for t in range(300)]
    return rates + [0.0] * 300


def slow_ramp():
    # Up from 0 to 1000/s over an hour, down over 10 minutes, quiet.
    rates = [1000.0 * t / 3600 for t in range(3600)]
    rates += [1000.0 * (1 - t / 600) for t in range(600)]
    return rates + [0.0] * 300


def heavy_tail(rng):
    # 150/s steady with +-20% noise and three bursts of 600/s for 60 s; handler times Pareto
    # (alpha 1.5: heavy tail, finite mean), 8 at a time per pod.
    rates = []
    for t in range(3600):
        r = 150 * (1 + rng.uniform(-0.2, 0.2))
        if any(s <= t < s + 60 for s in (600, 1800, 3000)):
            r = 600
        rates.append(r)
    return rates


def main():
    rng = random.Random(13)
    write("batch-dump", "two dumps of 20,000 messages in 10 s into an idle channel", batch_dump())
    write("flash-crowd", "800/s for 2 minutes out of nothing, 100/s after, twice", flash_crowd())
    write("noisy-diurnal", "a day in two hours: 50..350/s with +-25% noise every second",
          noisy_diurnal(rng))
    write("on-off", "2 minutes at 200/s, 10 minutes off, four times (scale to zero)", on_off())
    write("sawtooth", "0 -> 600/s over 5 minutes, drop to 0, five times", sawtooth())
    write("slow-ramp", "0 -> 1000/s over an hour, down in 10 minutes", slow_ramp())
    write("heavy-tail", "150/s +-20% with three 60 s bursts of 600/s; Pareto handler times",
          heavy_tail(rng), "handler=pareto shape=1.5 concurrency=8")


if __name__ == "__main__":
    main()
