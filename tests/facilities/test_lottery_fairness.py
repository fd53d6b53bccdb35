"""The draw is fair: over many seeded draws every applicant wins as often as chance says.

The draw of a frame is ``draw_order`` (the very function ``lottery_draw`` calls, seeded with the
round's recorded seed): 2,000 draws with the seeds the draw would record (``secrets.token_hex``
replaced by fixed seeds, so the test is reproducible) over 5 frames with 2 to 6 applicants, one
application each. For each frame the wins per applicant are compared with the expectation
(draws / applicants) by Pearson's chi-square statistic; scipy is not installed, so the critical
values come from the table below (upper 0.1 % points of the chi-square distribution).
"""

from __future__ import annotations

import hashlib
from collections import Counter

from facilities.services.lottery_draw import draw_order

DRAWS = 2000
# Frame id → applicants (application ids, one application per group), as in a real round:
# ids are not consecutive and not in the order the groups applied in.
FRAMES = {
    11: [301, 305],
    12: [302, 306, 309],
    13: [303, 307, 310, 312],
    14: [304, 308, 311, 313, 315],
    15: [316, 317, 318, 319, 320, 321],
}
# χ² upper 0.001 points by degrees of freedom (e.g. NIST/SEMATECH e-Handbook, table 1.3.6.7.4).
CHI2_CRITICAL_0_001 = {1: 10.828, 2: 13.816, 3: 16.266, 4: 18.467, 5: 20.515, 15: 37.697}


def seeds(n: int) -> list[str]:
    """Seeds shaped like the recorded ones (32 hex digits), fixed for the test."""
    return [hashlib.sha256(f"fairness-{i}".encode()).hexdigest()[:32] for i in range(n)]


def chi_square(observed: Counter[int], applicants: list[int], draws: int) -> float:
    expected = draws / len(applicants)
    return sum((observed[a] - expected) ** 2 / expected for a in applicants)


def wins_per_applicant(draw) -> dict[int, Counter[int]]:
    wins: dict[int, Counter[int]] = {frame: Counter() for frame in FRAMES}
    for seed in seeds(DRAWS):
        for frame, applicants in FRAMES.items():
            wins[frame][draw(seed, frame, applicants)] += 1
    return wins


def the_draw(seed: str, frame: int, applicants: list[int]) -> int:
    return draw_order(seed=seed, frame_id=frame, application_ids=applicants)[0]


def test_every_applicant_wins_as_often_as_chance_says():
    # when
    wins = wins_per_applicant(the_draw)
    # then: each frame on its own, and all frames together
    total = 0.0
    for frame, applicants in FRAMES.items():
        assert sum(wins[frame].values()) == DRAWS
        assert set(wins[frame]) == set(applicants), "someone never won"
        stat = chi_square(wins[frame], applicants, DRAWS)
        df = len(applicants) - 1
        assert stat < CHI2_CRITICAL_0_001[df], (frame, stat, dict(wins[frame]))
        total += stat
    assert total < CHI2_CRITICAL_0_001[sum(len(a) - 1 for a in FRAMES.values())], total


def test_every_rank_is_equally_likely_for_every_applicant():
    # The losers' ranks matter too (a list kept by rank): applicant × rank counts are uniform.
    applicants = FRAMES[13]
    counts: Counter[tuple[int, int]] = Counter()
    for seed in seeds(DRAWS):
        for rank, application in enumerate(draw_order(seed=seed, frame_id=13, application_ids=applicants)):
            counts[(application, rank)] += 1
    expected = DRAWS / len(applicants)
    for rank in range(len(applicants)):
        stat = sum((counts[(a, rank)] - expected) ** 2 / expected for a in applicants)
        assert stat < CHI2_CRITICAL_0_001[len(applicants) - 1], (rank, stat)


def test_the_test_notices_an_unfair_draw():
    # A draw that favours the first applicant a little (one redraw in five for them) fails.
    def biased(seed: str, frame: int, applicants: list[int]) -> int:
        winner = the_draw(seed, frame, applicants)
        if winner != applicants[0] and int(seed[:2], 16) % 5 == 0:
            return applicants[0]
        return winner

    wins = wins_per_applicant(biased)
    stats = [chi_square(wins[f], a, DRAWS) for f, a in FRAMES.items()]
    assert sum(stats) > CHI2_CRITICAL_0_001[15]


def test_the_order_depends_on_the_seed_and_frame_only():
    applicants = FRAMES[15]
    assert draw_order(seed="abc", frame_id=15, application_ids=applicants) == draw_order(
        seed="abc", frame_id=15, application_ids=list(reversed(applicants))
    )
    orders = {tuple(draw_order(seed=s, frame_id=15, application_ids=applicants)) for s in seeds(50)}
    assert len(orders) > 40  # 720 possible orders: 50 seeds give (almost) 50 of them
