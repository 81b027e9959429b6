"""Derive the Coral thermal resistance and time constant from seed 000's observations; print the arithmetic.

seed 000 ran 70,000 inferences on a Coral dev board: idle at 59.5 C, the clock
drops at 65 C, Inception v1 (17.97 ms per inference measured) never throttled
and Inception v4 did. With this profile's own estimates, the host time per
inference is what the measured Inception v1 latency leaves over the estimated
TPU time; the duty cycle of each network follows, and the steady temperature
``idle + R * P_dyn * duty`` must stay below 65 C for v1 and exceed it for v4.
The middle of that interval is the profile's R.

Run:  python benchmarks/thermal_seed000.py
"""

from __future__ import annotations

import edgeperf

IDLE_C, TRIP_C, V1_MEASURED_MS = 59.5, 65.0, 17.97           # seed 000
HEATSINK_CM3 = 4.4 * 4.0 * 0.9                                # seed 001: 44x40x9 mm
METAL_FRACTION, DENSITY_G_CM3, HEAT_J_PER_G_K = 0.5, 2.7, 0.9  # assumed half aluminium by volume


def main() -> None:
    profile = edgeperf.load_profile("coral-edgetpu")
    dynamic_w = profile.power.active_for("conv") / 1000.0
    v1 = edgeperf.estimate("zoo:googlenet", profile).total_latency_ms
    v4 = edgeperf.estimate("zoo:inception_v4", profile).total_latency_ms
    host_ms = V1_MEASURED_MS - v1
    duty_v1, duty_v4 = v1 / (v1 + host_ms), v4 / (v4 + host_ms)
    r_high = (TRIP_C - IDLE_C) / (dynamic_w * duty_v1)
    r_low = (TRIP_C - IDLE_C) / (dynamic_w * duty_v4)
    capacity = HEATSINK_CM3 * METAL_FRACTION * DENSITY_G_CM3 * HEAT_J_PER_G_K
    r_mid = (r_low + r_high) / 2
    print(f"estimated TPU time: Inception v1 {v1:.2f} ms, Inception v4 {v4:.2f} ms")
    print(f"host time per inference = {V1_MEASURED_MS} - {v1:.2f} = {host_ms:.2f} ms")
    print(f"duty cycles: v1 {duty_v1:.3f}, v4 {duty_v4:.3f}; dynamic power {dynamic_w:.2f} W")
    print(f"R must lie in ({r_low:.2f}, {r_high:.2f}) C/W; middle {r_mid:.2f} C/W")
    print(f"C = {HEATSINK_CM3:.2f} cm3 x {METAL_FRACTION} x {DENSITY_G_CM3} g/cm3 x {HEAT_J_PER_G_K} J/(g K) "
          f"= {capacity:.1f} J/K; tau = R C = {r_mid * capacity:.0f} s")


if __name__ == "__main__":
    main()
