"""Claims of the oracle audit (issue 18's acceptance targets, not a seed paper's)."""

from __future__ import annotations

from semadv.claims import Claim, Measurement, Results


def _agreement(results: Results) -> Measurement:
    r = results["inversion"]["refined"]
    a = r["agreement"]
    m = {
        "agreement": a["rate"],
        "ci": a["ci"],
        "false_match": r["false_match"]["rate"],
        "false_non_match": r["false_non_match"]["rate"],
    }
    return Measurement(
        m, a["n"], "holds" if a["rate"] >= 0.98 else "does not hold", "target ≥ 0.98 on same/different pairs"
    )


def _judge(results: Results) -> Measurement:
    sets = results["generated"]["sets"]
    world = sets["world renders"]["different"]
    m, ok = {}, 0
    judges = [k for k in world if k != "oracle"]
    for j in ["oracle", *judges]:
        w = world[j]["rate"]
        g = max(row["different"][j]["rate"] for name, row in sets.items() if name != "world renders")
        m[j] = {"false_match_world": w, "false_match_generated_max": g}
        ok += j != "oracle" and g <= max(2 * w, 0.02)
    verdict = "holds" if ok == len(judges) else ("partly holds" if ok else "does not hold")
    note = f"false-match rate on generated pairs within 2× (or ≤ 0.02) of renders for {ok} of {len(judges)} embedders"
    n = results["generated"]["pairs"]
    return Measurement(m, n, verdict, note)


CLAIMS = (
    Claim(
        "oracle-identity-agreement",
        "Recovered identity parameters decide same/different identity like the world's exact oracle",
        "issue 18: ≥ 98 % agreement on held-out world pairs",
        _agreement,
        ("inversion",),
    ),
    Claim(
        "judge-valid-on-generated",
        "Identity judges are as reliable on generated faces as on world renders",
        "issue 18: false-match rate on generated pairs within 2× of renders",
        _judge,
        ("generated",),
    ),
)
