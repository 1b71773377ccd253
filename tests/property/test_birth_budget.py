"""Track creation bounded per source (issue 18 item 2): whatever a source asks for, its birth budget
(``manage.BirthBudget``) starts at most its burst plus its rate times the batch time elapsed, and
counts every birth it refused, per source; one source's requests never spend another's budget."""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from fusion.core.config import TrackerConfig
from fusion.core.manage import BirthBudget

_REQUEST = st.tuples(st.sampled_from(["radar/rogue", "radar/good", "oth/hf", "ais/rx", "adsb/flood"]),
                     st.floats(0.0, 5.0, allow_nan=False),  # batch time step (s)
                     st.integers(0, 30_000))  # births wanted


@settings(max_examples=200, deadline=None)
@given(st.lists(_REQUEST, min_size=1, max_size=60))
def test_a_source_starts_at_most_its_burst_plus_its_rate_and_the_rest_is_counted(requests: list[tuple[str, float, int]]) -> None:
    cfg = TrackerConfig()
    budget = BirthBudget(cfg)
    t = 1.8e9
    allowed: Counter[str] = Counter()
    wanted: Counter[str] = Counter()
    first: dict[str, float] = {}
    for source, dt, n in requests:
        t += dt
        first.setdefault(source, t)
        got = budget.allow(source, t, n)
        assert 0 <= got <= n
        allowed[source] += got
        wanted[source] += n
    for source in wanted:
        rate, depth = budget._bucket(source)
        assert allowed[source] <= depth + rate * (t - first[source]) + 1e-6
        assert budget.refused[source] == wanted[source] - allowed[source]


def test_the_radar_bound_is_the_physical_rate_after_a_cold_start_burst() -> None:
    """A radar / OTH site: 2,000 tracks at once (a cold start's picture), then 20 a second (docs/SECURITY.md)."""
    budget = BirthBudget(TrackerConfig())
    assert budget.allow("radar/rogue", 0.0, 9_000) == 2_000
    assert sum(budget.allow("radar/rogue", float(k), 9_000) for k in range(1, 31)) == 20 * 30
    assert budget.refused["radar/rogue"] == 31 * 9_000 - 2_000 - 600
    assert budget.allow("radar/good", 30.0, 1_000) == 1_000  # another site keeps its own budget
