"""Reproductions of the seed papers: each module declares its paper's headline claims (:class:`semadv.claims.
Claim`) measured from the recipe's experiment JSON. The experiment functions themselves still live in
:mod:`semadv.recipes` (their move here is issue 17's remaining step, see NOTES.md)."""
