"""Worlds: gradients, determinism, exact oracles, labels/boxes vs pixels, datasets, bad input."""

from __future__ import annotations

import pytest
import torch

from semadv import PGD, Attack, Misclassification
from semadv.errors import InputError, NonFiniteError
from semadv.spaces import RenderSpace
from semadv.worlds import FacesWorld, StreetsWorld, WorldDataset, generate, same_identity
from semadv.worlds import render as R
from semadv.worlds.faces import LANDMARKS, N_ID
from semadv.worlds.streets import CAR, SLOTS

D = torch.float64


def grid8():
    return R.pixel_grid(8, 8, D)


PRIMS = {
    "ellipse": (lambda c, r: R.sdf_ellipse(grid8(), c, r, torch.tensor([0.3], dtype=D)), 2),
    "box": (lambda c, r: R.sdf_box(grid8(), c, r, 0.05, torch.tensor([0.2], dtype=D)), 2),
    "segment": (lambda a, b: R.sdf_segment(grid8(), a, b, 0.07), 2),
    "bezier": (lambda a, b: R.sdf_bezier(grid8(), a, b, a * 0.3 + 0.4, 0.06, segments=4), 2),
    "polygon": (lambda a, b: R.sdf_polygon(grid8(), torch.stack([a, b, a.flip(-1) * 0.2 + 0.6], dim=1)), 2),
    "gradient": (lambda a, b: R.linear_gradient(grid8(), a, b, a.repeat(1, 2)[:, :3], b.repeat(1, 2)[:, :3]), 2),
    "shade": (lambda c, light: R.shade(grid8(), c, 0.3, light, torch.tensor([0.5], dtype=D)), 2),
}


@pytest.mark.parametrize("name", list(PRIMS))
def test_gradcheck_render_primitives(name):
    fn, _ = PRIMS[name]
    a = torch.tensor([[0.43, 0.52]], dtype=D, requires_grad=True)
    b = torch.tensor([[0.21, 0.17]], dtype=D, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda x, y: R.coverage(fn(x, y), 0.05) if name not in ("gradient", "shade") else fn(x, y),
        (a, b),
        eps=1e-6,
        atol=1e-5,
    )


def test_gradcheck_global_effects():
    img = torch.rand(1, 3, 6, 6, dtype=D, generator=torch.Generator().manual_seed(0))
    depth = torch.rand(1, 6, 6, dtype=D, generator=torch.Generator().manual_seed(1))
    dens = torch.tensor([0.7], dtype=D, requires_grad=True)
    bright = torch.tensor([0.8], dtype=D, requires_grad=True)
    col = torch.tensor([[1.0, 0.8, 0.6]], dtype=D, requires_grad=True)
    assert torch.autograd.gradcheck(lambda d: R.fog(img, depth, d), (dens,))
    assert torch.autograd.gradcheck(lambda b, c: R.tint(img, b, c), (bright, col))
    x = img.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda t: R.blur(t, 1.0), (x,))


def _interior_faces(n=2):
    w = FacesWorld()
    P, _ = w.sample(n, 10, seed=3)
    P = P.to(D)
    P = w.set(P, "mouth_open", 0.5)  # away from the cavity's on/off gate at 0.02
    return w, P


def test_gradcheck_faces_render_all_parameters():
    w, P = _interior_faces(1)
    P.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda q: w.render(q).image, (P,), eps=1e-6, atol=1e-4, fast_mode=True)
    (g,) = torch.autograd.grad(w.render(P).image.sum(), P)
    # every attribute and identity parameter changes the picture
    zero = [w.params[i].name for i in range(P.shape[1]) if float(g[0, i].abs()) == 0]
    assert zero == [], zero


def test_gradcheck_streets_render():
    w = StreetsWorld()
    P = w.sample(1, seed=5).to(D)
    for slot, _ in SLOTS:
        P = w.set(P, f"{slot}_present", 1.0)
    P = w.set(P, "fog", 0.5)
    P.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda q: w.render(q).image, (P,), eps=1e-6, atol=1e-4, fast_mode=True)
    (g,) = torch.autograd.grad(w.render(P).image.sum(), P)
    zero = [w.params[i].name for i in range(P.shape[1]) if float(g[0, i].abs()) == 0]
    assert zero == [], zero


def test_determinism_same_seed_identical_bytes():
    a = generate("faces", "train", seed=4, n=6)
    b = generate("faces", "train", seed=4, n=6)
    for k in a:
        assert a[k].numpy().tobytes() == b[k].numpy().tobytes(), k
    s1, s2 = generate("streets", "val", seed=1, n=4), generate("streets", "val", seed=1, n=4)
    assert s1["image"].numpy().tobytes() == s2["image"].numpy().tobytes()
    assert not torch.equal(generate("streets", "val", seed=2, n=4)["image"], s1["image"])


def test_identity_oracle_exact():
    w = FacesWorld()
    P, ids = w.sample(60, 12, seed=0)
    same = same_identity(
        P[:, None].expand(-1, 60, -1).reshape(-1, P.shape[1]), P[None].expand(60, -1, -1).reshape(-1, P.shape[1])
    ).reshape(60, 60)
    assert torch.equal(same, ids[:, None] == ids[None])
    # attribute edits never change the identity vector
    g = torch.Generator().manual_seed(1)
    edited = P.clone()
    edited[:, N_ID:] = w.sample_attributes(60, g)
    assert bool(same_identity(P, edited).all())
    assert torch.equal(w.validate(edited)[:, :N_ID], P[:, :N_ID])
    # splits use disjoint identities
    tr, te = generate("faces", "train", n=64), generate("faces", "test", n=64)
    assert set(tr["identity"].tolist()).isdisjoint(te["identity"].tolist())


def test_each_parameter_visibly_changes_the_face():
    """On a neutral base (frontal, no hat, no bangs), every identity and attribute parameter changes at
    least 5 pixels by more than 0.06 somewhere along its range (lo / mid / hi; colours are cyclic)."""
    w = FacesWorld()
    P, _ = w.sample(8, 8, seed=2)
    for name, v in (("yaw", 0.0), ("roll", 0.0), ("hat", 0.0), ("bangs", 0.0), ("eyeglasses", 0.0)):
        P = w.set(P, name, v)
    for d in w.params:
        needs = {"glasses_color": "eyeglasses", "light_direction": "light_intensity"}  # visible only with these on
        base = w.set(P, needs[d.name], 1.0) if d.name in needs else P
        imgs = [w.render(w.set(base, d.name, v)).image for v in (d.lo, 0.5 * (d.lo + d.hi), d.hi)]
        change = torch.stack(
            [
                (a - b).abs().amax(dim=1).gt(0.06).flatten(1).sum(1)
                for a, b in ((imgs[0], imgs[1]), (imgs[1], imgs[2]), (imgs[0], imgs[2]))
            ]
        ).amax(0)
        assert bool((change >= 5).all()), (d.name, change.tolist())


def test_distinct_identities_look_different():
    w = FacesWorld()
    P, _ = w.sample(32, 32, seed=0)
    P[:, :N_ID] = w.identity_vectors(torch.arange(32))  # 32 distinct identities
    P[:, N_ID:] = P[0, N_ID:]  # same attributes everywhere
    img = w.render(P).image.flatten(1)
    dist = torch.cdist(img, img)
    off = dist[~torch.eye(32, dtype=torch.bool)]
    assert float(off.min()) > 1.0  # in [0,1]^(3·64·64) units: clearly different pictures


def test_face_landmarks_and_box():
    w = FacesWorld()
    P, _ = w.sample(8, 8, seed=0)
    r = w.render(P, with_labels=True)
    lm, box = r.extras["landmarks"], r.extras["face_box"]
    assert lm.shape == (8, len(LANDMARKS), 2) and len(LANDMARKS) >= 20
    assert bool(((lm >= 0) & (lm <= 64)).all())
    inside = (
        (lm[..., 0] >= box[:, None, 0] - 1)
        & (lm[..., 0] <= box[:, None, 2] + 1)
        & (lm[..., 1] >= box[:, None, 1] - 1)
        & (lm[..., 1] <= box[:, None, 3] + 1)
    )
    assert bool(inside.all())
    # pixels that change with the iris colour lie at the eye-centre landmarks; lipstick at the mouth ones
    for attr, names, radius in (
        ("iris_color", ("left_eye_center", "right_eye_center"), 3.5),
        ("lipstick", ("mouth_left", "mouth_right", "upper_lip", "lower_lip"), 4.5),
    ):
        other = w.render(w.set(P, attr, (w.get(P, attr) + 0.5) % 1.0)).image
        changed = (other - r.image).abs().amax(1) > 0.02  # (B, H, W)
        ys, xs = torch.meshgrid(torch.arange(64.0), torch.arange(64.0), indexing="ij")
        pts = lm[:, [LANDMARKS.index(n) for n in names]]  # (B, K, 2)
        if attr == "lipstick":  # the lips span the segment between the corners
            t = torch.linspace(0, 1, 9)
            pts = torch.cat([pts, pts[:, :1] + t[None, :, None] * (pts[:, 1:2] - pts[:, :1])], dim=1)
        d = ((xs + 0.5 - pts[..., 0, None, None]) ** 2 + (ys + 0.5 - pts[..., 1, None, None]) ** 2).sqrt()
        near = d.amin(1) <= radius
        assert bool(changed.any()) and bool((changed <= near).all()), attr
    # roll rotates landmarks with the face
    rolled = w.landmarks(w.set(P, "roll", 0.8))
    assert float((rolled - lm).abs().max()) > 2.0


def test_streets_labels_and_boxes_match_pixels():
    w = StreetsWorld()
    P = w.sample(6, seed=7)
    P = w.insert(P, "car0", x=0.1, depth=0.2)
    r = w.render(P, with_labels=True)
    inst, boxes = r.instances, r.extras["boxes"]
    for b in range(6):
        for k in range(len(SLOTS)):
            m = inst[b] == k
            if bool(m.any()):
                ys, xs = m.nonzero(as_tuple=True)
                assert boxes[b, k].tolist() == [
                    xs.min().item(),
                    ys.min().item(),
                    xs.max().item() + 1,
                    ys.max().item() + 1,
                ]
            else:
                assert bool(boxes[b, k].isnan().all())
    assert bool((r.labels[inst == 0] == CAR).all())
    # recolouring car0 changes pixels on (or right next to) car0's labelled region — a few more where a
    # semi-transparent object in front lets it show through — and never outside its box
    other = w.render(w.set(P, "car0_hue", (w.get(P, "car0_hue") + 0.5) % 1.0), with_labels=True).image
    changed = (other - r.image).abs().amax(1) > 0.02
    near = torch.nn.functional.max_pool2d((inst == 0).float()[:, None], 3, 1, 1)[:, 0] > 0
    assert bool(changed.any()) and float((changed & ~near).sum()) <= 0.05 * float(changed.sum())
    ys, xs = torch.meshgrid(torch.arange(64), torch.arange(128), indexing="ij")
    for b in range(6):
        x0, y0, x1, y1 = boxes[b, 0].tolist()
        in_box = (xs >= x0 - 2) & (xs < x1 + 2) & (ys >= y0 - 2) & (ys < y1 + 2)
        assert bool((changed[b] <= in_box).all())
    assert bool((r.labels[:, 0] == 0).float().mean() > 0.5)  # top row mostly sky


def test_layout_editing():
    w = StreetsWorld()
    P = w.sample(4, seed=2)
    P = w.insert(P, "ped0", x=1.3, depth=0.3)
    P = w.remove(P, "car0")
    Q = w.insert_car_beside(P, "ped0", "car0")
    assert torch.equal(w.get(Q, "car0_depth"), w.get(P, "ped0_depth"))
    assert bool((w.get(Q, "car0_x") < w.get(P, "ped0_x")).all())
    r0, r1 = w.render(P, with_labels=True), w.render(Q, with_labels=True)
    assert not bool((r0.instances == 0).any()) and bool((r1.instances == 0).any())
    moved = w.render(w.move(Q, "car0", x=-0.6), with_labels=True)
    assert bool((moved.extras["boxes"][:, 0, 0] < r1.extras["boxes"][:, 0, 0]).all())
    with pytest.raises(InputError, match="'truck0'"):
        w.remove(P, "truck0")


def test_bad_parameters():
    w = FacesWorld()
    P, _ = w.sample(2, 2)
    bad = P.clone()
    bad[1, w.index("smile")] = float("nan")
    with pytest.raises(NonFiniteError, match="'smile' of scene 1"):
        w.render(bad)
    with pytest.raises(InputError, match=r"shape \(B, 32\)"):
        w.render(P[:, :5])
    out_of_range = w.set(P, "yaw", 5.0)  # documented rule: clamped to the range
    assert torch.equal(w.render(out_of_range).image, w.render(w.set(P, "yaw", 1.0)).image)
    with pytest.raises(InputError, match="unknown faces parameter 'nose_ring'"):
        w.index("nose_ring")


def test_dataset_cache_round_trip(tmp_path):
    a = generate("streets", "test", seed=3, n=5, cache_dir=tmp_path)
    files = list(tmp_path.glob("*.npz"))
    assert len(files) == 1
    b = generate("streets", "test", seed=3, n=5, cache_dir=tmp_path)
    for k in a:
        assert torch.equal(a[k], b[k]) or (a[k].isnan() == b[k].isnan()).all(), k
    ds = WorldDataset(b)
    assert len(ds) == 5 and ds[2]["image"].shape == (3, 64, 128)
    with pytest.raises(InputError, match="unknown world 'moon'"):
        generate("moon")
    with pytest.raises(InputError, match="unknown split"):
        generate("faces", "holdout")


def test_digits_split():
    tr, te = generate("digits", "train", n=1348), generate("digits", "test", n=449)
    assert tr["image"].shape == (1348, 1, 16, 16) and te["image"].shape == (449, 1, 16, 16)
    assert set(tr["label"].tolist()) == set(range(10))


def test_render_space_attack_on_world_parameters():
    w = StreetsWorld()
    P = w.insert(w.sample(6, seed=1), "car0", x=0.0, depth=0.3)
    space = RenderSpace(w, {"car0_value": 0.6, "car0_x": 0.4, "fog": 1.5})

    def victim(img):  # "bright scene" detector on the road area
        m = img[:, :, 40:60, 44:84].mean(dim=(1, 2, 3))
        return torch.stack([m, torch.full_like(m, 0.4)], 1)

    y = victim(w.render(P).image).argmax(1)
    r = Attack(Misclassification(), space, PGD(steps=10, alpha=0.2))(victim, P, y)
    assert r.success_rate > 0.3 and not any("zero gradient" in x for x in r.warnings)
    delta = (r.z_adv - r.z0).abs()
    assert bool((delta <= torch.tensor([0.6, 0.4, 1.5]) + 1e-5).all())
    lo, hi = space.bounds(r.z0)
    assert bool(((r.z_adv >= lo - 1e-6) & (r.z_adv <= hi + 1e-6)).all())  # cars stay on the road
    torch.testing.assert_close(r.x_adv, w.render(space.scene(r.z_adv, P)).image)
