"""Settings for the whole suite (tests/, tests/hostile/, tests/livekit/).

No pass/fail verdict may depend on how fast the machine is at the moment. Hypothesis has two
wall-clock checks: the per-example `deadline` (200 ms by default) and the `too_slow` health
check on how long generating examples takes. Both are off for every test, including those
that give `@settings` of their own (they inherit what they do not set). The work is bounded
by `max_examples` and by the size limits of the strategies instead.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings

settings.register_profile(
    "sip-policy",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("sip-policy")
