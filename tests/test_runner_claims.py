"""The one dataset runner (evaluate), AttackResult.cat/take/reduce, and the claims machinery."""

from __future__ import annotations

import json

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from semadv import PGD, Attack, Misclassification, PixelSpace
from semadv.claims import Claim, Measurement, claims_table, evaluate_claims
from semadv.errors import InputError
from semadv.runner import chunks, evaluate
from semadv.types import AttackResult


class Lin(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.w = nn.Parameter(torch.randn(16, 3, generator=g))

    def forward(self, x):
        return x.flatten(1) @ self.w


def _data(n=10):
    g = torch.Generator().manual_seed(1)
    x = torch.rand(n, 1, 4, 4, generator=g)
    with torch.no_grad():
        y = Lin()(x).argmax(1)
    return x, y


def _result(success, distance, loss, clean=None):
    b = len(success)
    return AttackResult(
        success=torch.tensor(success),
        distance=torch.tensor(distance, dtype=torch.float32),
        loss=torch.tensor(loss, dtype=torch.float32),
        queries=torch.ones(b, dtype=torch.int64),
        steps=torch.full((b,), 2, dtype=torch.int64),
        z_adv=torch.arange(b, dtype=torch.float32)[:, None].repeat(1, 2),
        x_adv=torch.zeros(b, 1, 2, 2),
        z0=torch.zeros(b, 2),
        clean_reached=torch.zeros(b, dtype=torch.bool) if clean is None else torch.tensor(clean),
        wall_time=1.0,
        warnings=("w",),
    )


def test_evaluate_equals_one_batch_for_a_deterministic_search():
    x, y = _data(10)
    attack = Attack(Misclassification(), PixelSpace(eps=0.1), PGD(steps=5, random_start=False))
    whole = attack(Lin(), x, y)
    chunked = evaluate(attack, Lin(), (x, y), batch=3)
    assert chunked.batch == 10
    assert torch.equal(whole.success, chunked.success)
    assert torch.allclose(whole.x_adv, chunked.x_adv, atol=1e-6)
    # queries are per sample: every row counted once per evaluation, whatever the chunking
    assert torch.equal(whole.queries, chunked.queries)


def test_evaluate_seeded_and_progress():
    x, y = _data(7)
    attack = Attack(Misclassification(), PixelSpace(eps=0.1), PGD(steps=3, random_start=True))
    seen: list[tuple[int, int]] = []
    a = evaluate(
        attack, Lin(), (x, y), batch=4, generator=torch.Generator().manual_seed(5), progress=lambda *p: seen.append(p)
    )
    b = evaluate(attack, Lin(), (x, y), batch=4, generator=torch.Generator().manual_seed(5))
    assert torch.equal(a.z_adv, b.z_adv)
    assert seen == [(4, 7), (7, 7)]


def test_evaluate_bad_input():
    x, y = _data(4)
    attack = Attack(Misclassification(), PixelSpace(eps=0.1), PGD(steps=1))
    with pytest.raises(InputError, match="batch must be >= 1"):
        evaluate(attack, Lin(), (x, y), batch=0)
    with pytest.raises(InputError, match="empty"):
        evaluate(attack, Lin(), (x[:0], y[:0]))
    with pytest.raises(InputError, match="4 rows"):
        evaluate(attack, Lin(), (x, y[:3]))
    with pytest.raises(InputError, match="pair"):
        evaluate(attack, Lin(), [1, 2, 3])  # type: ignore[arg-type]


@given(st.integers(1, 40), st.integers(1, 50))
def test_chunks_cover_exactly(n, size):
    parts = chunks(n, size)
    assert [i for s in parts for i in range(s.start, s.stop)] == list(range(n))
    assert all(0 < s.stop - s.start <= size for s in parts)


def test_cat_and_take():
    a = _result([True, False], [0.1, 0.2], [0.0, 1.0])
    b = _result([False], [0.3], [2.0])
    c = AttackResult.cat([a, b])
    assert c.batch == 3 and c.success.tolist() == [True, False, False]
    assert c.wall_time == 2.0 and c.warnings == ("w",)
    assert c.take(torch.tensor([2, 0])).distance.tolist() == pytest.approx([0.3, 0.1])
    assert c.take(c.success).batch == 1
    with pytest.raises(InputError, match="at least one"):
        AttackResult.cat([])
    with pytest.raises(InputError, match="per-sample shapes"):
        AttackResult.cat([a, AttackResult(**{**a.__dict__, "z_adv": torch.zeros(2, 5), "z0": torch.zeros(2, 5)})])


def test_reduce_best_any_worst():
    # group 0: rows 0 (ok, d 0.5), 1 (ok, d 0.2), 2 (fail); group 1: rows 3, 4 fail (loss 3, 1)
    r = _result([True, True, False, False, False], [0.5, 0.2, 0.9, 0.4, 0.1], [0.0, 0.0, 5.0, 3.0, 1.0])
    groups = torch.tensor([0, 0, 0, 1, 1])
    best = r.reduce(groups, "best")
    assert best.success.tolist() == [True, False]
    assert best.z_adv[:, 0].tolist() == [1.0, 4.0]  # min distance among successes; else min loss
    assert best.queries.tolist() == [3, 2] and best.steps.tolist() == [6, 4]
    anyr = r.reduce(groups, "any")
    assert anyr.success.tolist() == [True, False] and anyr.z_adv[:, 0].tolist() == [0.0, 3.0]
    worst = r.reduce(groups, "worst")
    assert worst.success.tolist() == [False, False]
    assert worst.z_adv[:, 0].tolist() == [2.0, 3.0]  # a failed row with the largest loss
    allok = _result([True, True], [0.1, 0.7], [0.0, 0.0]).reduce(torch.tensor([3, 3]), "worst")
    assert allok.success.tolist() == [True] and allok.z_adv[0, 0] == 1.0  # the largest distance
    with pytest.raises(InputError, match="mode"):
        r.reduce(groups, "mean")
    with pytest.raises(InputError, match="groups must have shape"):
        r.reduce(groups[:2])


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 3)), min_size=1, max_size=30))
def test_reduce_rates_order(rows):
    """Best ≥ Average ≥ Worst for any outcome pattern (seed 000 Table C)."""
    succ = [s for s, _ in rows]
    groups = torch.tensor([g for _, g in rows])
    r = _result(succ, [0.1] * len(rows), [1.0] * len(rows))
    best = r.reduce(groups, "best").success.float().mean()
    worst = r.reduce(groups, "worst").success.float().mean()
    ids = torch.unique(groups)
    avg = torch.stack([r.success[groups == i].float().mean() for i in ids]).mean()
    assert best >= avg - 1e-6 >= worst - 2e-6


def test_claims_rows_and_table(tmp_path):
    def ok(results):
        return Measurement({"rate": results["exp"]["rate"], "bad": float("nan")}, 10, "holds", "note")

    claims = (
        Claim("a", "claim a", "paper a", ok, ("exp",)),
        Claim("b", "claim b", "paper b", lambda r: None, ("exp",)),
        Claim("c", "claim c", "paper c", lambda r: r["exp"]["missing"], ("exp",)),
        Claim("d", "claim d", "paper d", ok, ("other",)),
    )
    rows = evaluate_claims(claims, {"exp": {"rate": 0.123456}})
    by = {r["id"]: r for r in rows}
    assert by["a"]["verdict"] == "holds" and by["a"]["measured"] == {"rate": 0.1235, "bad": None}
    assert by["b"]["verdict"] == "not measured"
    assert by["c"]["verdict"] == "not measured" and "missing" in by["c"]["note"]
    assert by["d"]["verdict"] == "not measured" and "other" in by["d"]["note"]
    json.dumps(rows)  # JSON-safe
    table = claims_table(rows)
    assert table.startswith("## Claims") and table.count("\n| `") == 4
    with pytest.raises(InputError, match="unique"):
        evaluate_claims((claims[0], claims[0]), {})
    with pytest.raises(InputError, match="verdict"):
        Measurement({}, 0, "maybe")


def test_shipped_claims_files_match_the_recipes():
    """Every recipe declares claims; the shipped claims.json equals what its measures compute from the
    shipped experiment JSON (pages are generated, never edited by hand)."""
    from pathlib import Path

    from semadv.recipes.base import recipes

    root = Path(__file__).resolve().parents[1] / "docs" / "results"
    for name, recipe in recipes().items():
        assert recipe.claims, name
        d = root / recipe.page_name.removesuffix(".md")
        results = {p.stem: json.loads(p.read_text()) for p in d.glob("*.json") if p.stem in recipe.experiments}
        rows = evaluate_claims(recipe.claims, results)
        assert json.loads((d / "claims.json").read_text()) == json.loads(json.dumps(rows)), name
        page = (root / recipe.page_name).read_text()
        assert page.split("\n")[2] == "## Claims", name
        for r in rows:
            assert f"`{r['id']}`" in page
