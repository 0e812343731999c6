"""SemanticAdv benchmark: all attributes of all images in one batch vs a per-image-per-attribute loop.

The same work on both sides: B source faces × K = 17 attributes, feature-map interpolation (seed 000 Eq. 2)
over the zoo's ``face-editor-hifi``, ``face-r2-softmax`` verification loss (Eq. 4) + 0.01·squared TV (Eq. 6),
Adam for ``STEPS`` steps without early stopping. semadv runs one :class:`~semadv.attack.Attack` on the B·K
pairs; the loop (the structure of the paper's released code: for each image, for each attribute, encode both
feature maps, optimise one α tensor) runs the same optimisation one pair at a time. Prints pairs per second
of each, the ratio, and the largest difference of the final losses.
"""

from __future__ import annotations

import time

import torch

from semadv.attack import Attack
from semadv.goals import VerificationGoal, verification_distance
from semadv.recipes.semanticadv import ATTRS, edit_attributes, face_pairs, threshold
from semadv.search import AdamPenalty, total_variation
from semadv.spaces import FeatureInterpolationSpace
from semadv.zoo import load

torch.set_num_threads(2)
B, STEPS, LR, TV, ALPHA0 = 4, 20, 0.1, 0.01, 0.5


def loop(editor, emb, x, c_rep, c_new, t_emb, thr):
    losses = []
    for i in range(len(c_rep)):  # one (image, attribute) pair at a time
        with torch.no_grad():
            f1 = editor.encode(x[i : i + 1], c_rep[i : i + 1])
            f2 = editor.encode(x[i : i + 1], c_new[i : i + 1])
        a = torch.full_like(f1, ALPHA0).requires_grad_(True)
        opt = torch.optim.Adam([a], lr=LR)
        for _ in range(STEPS):
            opt.zero_grad()
            out = emb(editor.decode(a * f1 + (1 - a) * f2))
            loss = verification_distance(out, t_emb[i : i + 1]).clamp(min=thr) + TV * total_variation(a - ALPHA0, True)
            loss.sum().backward()
            opt.step()
            with torch.no_grad():
                a.clamp_(0, 1)
        with torch.no_grad():
            losses.append(verification_distance(emb(editor.decode(a * f1 + (1 - a) * f2)), t_emb[i : i + 1]))
    return torch.cat(losses)


def batched(editor, emb, x, c_rep, c_new, t_emb, thr):
    with torch.no_grad():
        f1, f2 = editor.encode(x, c_rep), editor.encode(x, c_new)
    space = FeatureInterpolationSpace(
        lambda f, _: editor.decode(f), f1.shape[1:], alpha_range=(0, 1), alpha_init=ALPHA0
    )
    search = AdamPenalty(steps=STEPS, lr=LR, tv=TV, tv_squared=True, early_stop=False)
    r = Attack(VerificationGoal(thr), space, search, checks=False)(emb, space.pack(f1, f2), t_emb)
    return r.loss


def main() -> None:
    editor, emb = load("face-editor-hifi"), load("face-r2-softmax")
    p = face_pairs(B, 0)
    K = 17
    c_rep, c_new, _ = edit_attributes(p["c"], list(ATTRS))
    x = p["x"].repeat_interleave(K, 0)
    with torch.no_grad():
        t_emb = emb(p["x_tgt"].repeat_interleave(K, 0))
    thr = threshold("face-r2-softmax", 1e-3)
    n = len(c_rep)
    t0 = time.perf_counter()
    lb = batched(editor, emb, x, c_rep, c_new, t_emb, thr)
    tb = time.perf_counter() - t0
    t0 = time.perf_counter()
    ll = loop(editor, emb, x, c_rep, c_new, t_emb, thr)
    tl = time.perf_counter() - t0
    print(f"SemanticAdv, {B} images × {K} attributes = {n} pairs, {STEPS} Adam steps each")
    print(f"  semadv batched : {tb:7.2f} s  {n * 1.0 / tb:7.2f} pairs/s")
    print(f"  per-pair loop  : {tl:7.2f} s  {n * 1.0 / tl:7.2f} pairs/s")
    print(f"  ratio (batched / loop, pairs per second): {tl / tb:.1f}x")
    print(f"  final loss difference (max |Δ|): {(lb - ll.clamp(min=thr)).abs().max():.2e}")


if __name__ == "__main__":
    main()
