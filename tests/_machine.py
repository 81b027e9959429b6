"""A simulated device for timing tests: a clock that advances by the work done, runners on it, and load.

Nothing here reads the real clock: every measurement is a deterministic function of the work and
of the load the test injects, so timing logic is tested on what it does, not on how busy the
machine running the tests happens to be.
"""

from __future__ import annotations

import time

import onnx

from edgeperf.estimator import graph_from_model


class SimulatedMachine:
    """A clock that advances by the work done, at a speed that changes over time.

    ``speeds`` is the slowdown factor per phase of ``round_calls`` calls; ``stall(call)`` (optional)
    returns extra seconds a call loses to other load (pre-emption), by call number. ``shares`` is
    the share of a core the process gets per phase (other load time-slicing it evenly): the wall
    clock advances by the work over the share, :meth:`cpu_clock` (the process's CPU time) by the
    work alone, times ``cpu_inflation`` when the share is below one (neighbours' cache traffic).
    """

    def __init__(self, speeds=(1.0,), round_calls=10**9, stall=None, shares=(1.0,), cpu_inflation=1.0):
        self.now = 0.0
        self.cpu = 0.0
        self.shares = list(shares)
        self.cpu_inflation = cpu_inflation
        self.speeds = list(speeds)
        self.calls = 0
        self.round_calls = round_calls
        self.stall = stall
        self.slept: list[float] = []

    def clock(self):
        return self.now

    def cpu_clock(self):
        return self.cpu

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.now += seconds

    def speed(self):
        return self.speeds[(self.calls // self.round_calls) % len(self.speeds)]

    def work(self, seconds, stall=None):
        """A callable that takes ``seconds`` at full speed (plus what ``stall`` adds, by its own call count)."""
        count = [0]

        def run():
            share = self.shares[(self.calls // self.round_calls) % len(self.shares)]
            busy = seconds * self.speed() * (self.cpu_inflation if share < 1.0 else 1.0)
            self.cpu += busy
            self.now += busy / share
            if stall is not None:
                self.now += stall(count[0])
            elif self.stall is not None:
                self.now += self.stall(self.calls)
            count[0] += 1
            self.calls += 1
        return run


def true_seconds(graph, *, gflops=50.0, gbps=20.0, per_layer_s=2e-6, per_call_s=5e-6) -> float:
    """The simulated device's time for a model: every layer at its FLOPs and bytes, plus fixed costs."""
    total = per_call_s
    for layer in graph.layers:
        bytes_ = 4 * (layer.act_in_elems + layer.weight_elems + layer.act_out_elems)      # fp32
        total += layer.flops / (gflops * 1e9) + bytes_ / (gbps * 1e9) + per_layer_s
    return total


class SimulatedRunner:
    """A runner (``load(bytes).run``, ``settings()``) whose models take :func:`true_seconds` on a simulated machine.

    ``load_s`` is real time spent loading each model (gives a test that kills a process a window
    to do so); ``speedup(graph)`` lets a test make some models run impossibly fast.
    """

    name = "simulated"

    def __init__(self, machine: SimulatedMachine, *, load_s: float = 0.0, speedup=None, **rates):
        self.machine, self.load_s, self.speedup, self.rates = machine, load_s, speedup, rates
        self.loaded = 0

    def settings(self) -> dict:
        return {"name": self.name, "version": "1", "threads": 1, "providers": ["CPUExecutionProvider"],
                "graph_optimization": "all"}

    def load(self, model, *, input_shapes=None):
        if self.load_s:
            time.sleep(self.load_s)
        graph = graph_from_model(onnx.load_from_string(model) if isinstance(model, bytes) else onnx.load(model),
                                 input_shapes=input_shapes)
        seconds = true_seconds(graph, **self.rates)
        if self.speedup is not None:
            seconds /= self.speedup(graph)
        self.loaded += 1
        return _Loaded(self.machine.work(seconds))


class _Loaded:
    def __init__(self, run):
        self.run = run
