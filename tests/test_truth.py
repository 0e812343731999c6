"""Targets that move with the scene (issue 26): spaces carry task ground truth through their transformation.

The behavioural tests compare the engine with a goal that ignores the motion (``truth_kind = None``, what
every goal was before): a whole-face rotation or a car's translation "succeeds" against the stale target and
does not against the moved one.
"""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from semadv import Attack, GridSearch, LatentSpace, LpBall, PixelSpace, TransformSpace
from semadv.errors import IncompatibleError, InputError
from semadv.goals import DetectionGoal, LandmarkErrorGoal, LandmarkTargetGoal, RegionGoal, SegmentationGoal
from semadv.spaces.render import RenderSpace
from semadv.truth import affine_boxes, check_truth
from semadv.types import AttackResult
from semadv.worlds.faces import FacesWorld
from semadv.worlds.streets import MIN_BOX, SLOTS, StreetsWorld

H = W = 32


def blobs(points: torch.Tensor, sigma: float = 1.2) -> torch.Tensor:
    """One channel per point: a Gaussian centred on the point in continuous pixel coordinates."""
    ys = torch.arange(H, dtype=torch.float64) + 0.5
    xs = torch.arange(W, dtype=torch.float64) + 0.5
    gx = xs.reshape(1, 1, 1, W)
    gy = ys.reshape(1, 1, H, 1)
    px, py = points[..., 0, None, None], points[..., 1, None, None]
    return torch.exp(-((gx - px) ** 2 + (gy - py) ** 2) / (2 * sigma**2))


class SoftArgmaxDetector(torch.nn.Module):
    """An equivariant landmark detector: the intensity centroid of each channel (continuous pixels)."""

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        w = img / img.flatten(2).sum(-1).clamp_min(1e-12)[..., None, None]
        xs = torch.arange(img.shape[-1], dtype=img.dtype) + 0.5
        ys = torch.arange(img.shape[-2], dtype=img.dtype) + 0.5
        return torch.stack([(w.sum(-2) * xs).sum(-1), (w.sum(-1) * ys).sum(-1)], -1)


def _points(n: int = 2, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (12 + 8 * torch.rand(n, 3, 2, generator=g)).double()


class StaleLandmarkError(LandmarkErrorGoal):
    truth_kind = None  # the old behaviour: the target stays where the source had it


# ----- geometry: the moved truth is where the image content went ---------------------------------------------
@settings(max_examples=25, deadline=None)
@given(
    rot=st.floats(-40, 40),
    scale=st.floats(0.8, 1.25),
    tx=st.floats(-0.1, 0.1),
    ty=st.floats(-0.1, 0.1),
)
def test_transform_moves_points_where_the_pixels_went(rot, scale, tx, ty):
    p = _points()
    space = TransformSpace(rotation=(-45.0, 45.0), scale=(0.75, 1.3), translate_x=(-0.2, 0.2), translate_y=(-0.2, 0.2))
    z = torch.tensor([[rot, scale, tx, ty]], dtype=torch.float64).expand(len(p), -1)
    img, moved = space.decode_with_truth(z, blobs(p), p, "points")
    found = SoftArgmaxDetector()(img)
    assert (found - moved).norm(dim=-1).max() < 0.25, (found, moved)
    # the stale target is off by exactly the content's motion (large for large rotations)
    motion = (moved - p).norm(dim=-1)
    assert ((found - p).norm(dim=-1) - motion).abs().max() < 0.25
    if abs(rot) > 20:
        assert motion.max() > 1.0


def test_boxes_follow_the_pixels_and_leave_the_frame():
    space = TransformSpace(rotation=(-45.0, 45.0), translate_x=(-1.0, 1.0))
    img = torch.zeros(1, 1, H, W, dtype=torch.float64)
    img[..., 10:18, 8:20] = 1.0  # pixels 8..19 × 10..17 → box (8, 10, 20, 18) in continuous pixels
    box = torch.tensor([[[8.0, 10.0, 20.0, 18.0, 2.0]]], dtype=torch.float64)
    for rot, tx in ((30.0, 0.0), (0.0, 0.2), (-20.0, -0.1)):
        z = torch.tensor([[rot, tx]], dtype=torch.float64)
        out, moved = space.decode_with_truth(z, img, box, "boxes")
        ys, xs = (out[0, 0] > 0.5).nonzero(as_tuple=True)
        hull = torch.tensor([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], dtype=torch.float64)
        assert (moved[0, 0, :4] - hull).abs().max() <= 1.6, (rot, tx, moved, hull)
        assert moved[0, 0, 4] == 2.0  # the class is kept
    _, gone = space.decode_with_truth(torch.tensor([[0.0, 0.95]], dtype=torch.float64), img, box, "boxes")
    assert gone.isnan().all()  # moved out of the frame: no object to score


def test_masks_are_warped_like_the_image():
    g = torch.Generator().manual_seed(1)
    mask = torch.zeros(2, H, W, dtype=torch.int64)
    mask[:, 6:20, 4:14] = 1
    mask[:, 14:28, 16:30] = 2
    img = (mask.double() / 2)[:, None]  # the image is the class map itself
    space = TransformSpace(rotation=(-30.0, 30.0), scale=(0.9, 1.1))
    z = torch.stack([torch.empty(2).uniform_(-30, 30, generator=g), torch.ones(2)], 1).double()
    out, moved = space.decode_with_truth(z, img, mask, "mask")
    assert moved.dtype == torch.int64 and moved.shape == mask.shape
    agree = ((out[:, 0] * 2).round().long() == moved).double().mean()
    assert agree > 0.95, agree  # bilinear image vs nearest labels differ only along edges
    assert not torch.equal(moved, mask)


# ----- identity, composition, gradients, pass-through --------------------------------------------------------
def _truth_cases() -> list[tuple[str, object, torch.Tensor, torch.Tensor, str]]:
    p = _points()
    img = blobs(p).float()
    faces, streets = FacesWorld(), StreetsWorld()
    fx = faces.sample(2, 2, seed=0)[0]
    sx = streets.sample(2, seed=0)
    s_truth = streets.render(sx, with_labels=True)
    boxes = torch.cat([s_truth.extras["boxes"], torch.zeros(2, len(SLOTS), 1)], -1)
    wh = boxes[..., 2:4] - boxes[..., :2]
    boxes[~((wh >= MIN_BOX).all(-1) & ~wh.isnan().any(-1))] = float("nan")  # targets as the recipe makes them
    cases = [
        ("transform points", TransformSpace(rotation=(-20.0, 20.0)), img, p.float(), "points"),
        ("transform boxes", TransformSpace(scale=(0.8, 1.2)), img, torch.tensor([[[4.0, 4, 10, 12, 0]]] * 2), "boxes"),
        ("transform mask", TransformSpace(translate_x=(-0.2, 0.2)), img, (img[:, 0] > 0.5).long(), "mask"),
        ("photometric points", TransformSpace(brightness=(-0.2, 0.2), blur=0.5), img, p.float(), "points"),
        ("pixel points", PixelSpace(eps=0.1), img, p.float(), "points"),
        ("render streets boxes", RenderSpace(streets, {"car0_x": 0.3, "car0_depth": 0.2}), sx, boxes, "boxes"),
        ("render streets mask", RenderSpace(streets, {"car0_x": 0.3}), sx, s_truth.labels, "mask"),
    ]
    lm = faces.landmarks(fx)
    cases.append(("render faces points", RenderSpace(faces, {"yaw": 0.5, "roll": 0.3}), fx, lm, "points"))
    return cases


@pytest.mark.parametrize("case", _truth_cases(), ids=lambda c: c[0])
def test_identity_parameters_leave_the_truth_unchanged(case):
    _, space, x, truth, kind = case
    z0 = space.encode(space.check_source(x))
    _, moved = space.decode_with_truth(z0, x, truth, kind)
    assert moved.shape == truth.shape
    assert torch.allclose(moved.double(), truth.double(), atol=1e-4, equal_nan=True)


def test_composed_rotations_compose_the_truth():
    p = _points().float()
    img = blobs(p.double()).float()
    space = TransformSpace(rotation=(-90.0, 90.0))
    a, b = torch.full((2, 1), 25.0), torch.full((2, 1), -40.0)
    _, once = space.decode_with_truth(a + b, img, p, "points")
    mid_img, mid = space.decode_with_truth(a, img, p, "points")
    _, twice = space.decode_with_truth(b, mid_img, mid, "points")
    assert torch.allclose(once, twice, atol=1e-4)


def test_render_space_composes_scene_changes_exactly():
    faces = FacesWorld()
    x = faces.sample(2, 2, seed=3)[0]
    space = RenderSpace(faces, {"yaw": 0.6, "roll": 0.4})
    lm = faces.landmarks(x)
    d1, d2 = torch.tensor([[0.2, -0.1]] * 2), torch.tensor([[-0.3, 0.25]] * 2)
    z0 = space.encode(x)
    _, once = space.decode_with_truth(z0 + d1 + d2, x, lm, "points")
    x1 = space.apply(x, d1)
    _, mid = space.decode_with_truth(z0 + d1, x, lm, "points")
    _, twice = space.decode_with_truth(space.encode(x1) + d2, x1, mid, "points")
    assert torch.allclose(once, twice, atol=1e-5)
    assert torch.allclose(once, faces.landmarks(space.apply(x, d1 + d2)), atol=1e-5)


@pytest.mark.parametrize(
    "space_x",
    [
        (TransformSpace(rotation=(-20.0, 20.0), translate_x=(-0.2, 0.2)), "image"),
        (RenderSpace(FacesWorld(), {"yaw": 0.5, "roll": 0.3}), "faces"),
    ],
    ids=["transform", "render-faces"],
)
def test_gradients_flow_through_the_moved_points(space_x):
    space, src = space_x
    if src == "image":
        p = _points().float()
        x, truth = blobs(p.double()).float(), p
    else:
        x = FacesWorld().sample(2, 2, seed=0)[0]
        truth = FacesWorld().landmarks(x)
    z = (space.encode(space.check_source(x)) + 0.05).requires_grad_(True)
    _, moved = space.decode_with_truth(z, x, truth, "points")
    (g,) = torch.autograd.grad(moved.sum(), z)
    assert torch.isfinite(g).all() and g.abs().sum() > 0


def test_pixel_and_photometric_spaces_pass_truth_through_untouched():
    p = _points().float()
    img = blobs(p.double()).float()
    for space in (PixelSpace(eps=0.1), TransformSpace(brightness=(-0.3, 0.3), fog=(0.0, 1.0))):
        assert space.truth_mode("points") == "fixed"
        z = space.sample(space.encode(img), torch.Generator().manual_seed(0))
        _, moved = space.decode_with_truth(z, img, p, "points")
        assert moved is p


# ----- the Attack hands goals the moved truth --------------------------------------------------------------
def test_rotating_the_whole_face_is_not_a_landmark_success():
    """A pure rotation moves the landmarks with the face; an equivariant detector follows it exactly, so no
    rotation is a success. Against the stale (unrotated) truth every large rotation "succeeds"."""
    p = _points(4, seed=2)
    x = blobs(p).float()
    victim = SoftArgmaxDetector()
    space = TransformSpace(rotation=(-45.0, 45.0))
    search = GridSearch(points=9)
    moved = Attack(LandmarkErrorGoal(tol=0.1), space, search)(victim, x, p.float())
    stale = Attack(StaleLandmarkError(tol=0.1), space, search)(victim, x, p.float())
    assert stale.success.all(), "the stale target must make rotation look like a success (test sanity)"
    assert not moved.success.any(), moved.loss
    assert moved.target_adv is not None and moved.target_adv.shape == p.shape
    assert stale.target_adv is None


def test_a_landmark_target_rotates_with_the_image():
    """LandmarkTargetGoal: targets are points drawn on the scene; rotating the image rotates them, so a
    detector that follows the rotation matches a rotated target only when the target was already met."""
    p = _points(2, seed=4)
    x = blobs(p).float()
    goal = LandmarkTargetGoal(tol=0.02)
    r = Attack(goal, TransformSpace(rotation=(-30.0, 30.0)), GridSearch(points=7))(SoftArgmaxDetector(), x, p.float())
    assert r.success.all()  # the detector's output equals the (moved) target at every rotation
    far = p.float() + 6.0
    r = Attack(goal, TransformSpace(rotation=(-30.0, 30.0)), GridSearch(points=7))(SoftArgmaxDetector(), x, far)
    assert not r.success.any()


class StaleDetection(DetectionGoal):
    truth_kind = None  # the old behaviour: the benign scene's boxes


def test_translating_a_car_away_from_its_old_box_is_not_a_vanishing():
    """Seed 003's stale-box artefact, through the Attack and the zoo detector: a lateral move of car 0 that
    the detector follows "vanishes" the car against its benign box, not against its re-rendered box."""
    from semadv.zoo import cached

    det = cached("streets-squeezedet")
    world = StreetsWorld()
    x = world.sample(200, seed=5)
    r = world.render(x, with_labels=True)
    boxes = r.extras["boxes"][:, 0]
    truth = torch.full((len(x), len(SLOTS), 5), float("nan"))
    truth[:, 0, :4], truth[:, 0, 4] = boxes, 0.0  # target: car 0 (detector class 0)
    with torch.no_grad():
        found = DetectionGoal(det).detected(det(r.image), truth)[:, 0] & ~boxes.isnan().any(-1)
    x, truth = x[found][:24], truth[found][:24]
    assert len(x) >= 12, "the detector must find car 0 in enough benign scenes"
    space = RenderSpace(world, {"car0_x": 0.5})
    search = GridSearch(points=5)
    moved = Attack(DetectionGoal(det), space, search)(det, x, truth)
    stale = Attack(StaleDetection(det), space, search)(det, x, truth)
    # every moved-truth success is real: the car is not detected at the box it now has
    with torch.no_grad():
        still = DetectionGoal(det).detected(det(moved.x_adv), moved.target_adv)[:, 0]
    assert not (moved.success & still).any()
    assert int(stale.success.sum()) > int(moved.success.sum()), (stale.success.sum(), moved.success.sum())


# ----- refusals and bookkeeping ----------------------------------------------------------------------------
def test_truth_goals_are_refused_where_the_space_cannot_say_where_truth_went():
    W_ = torch.randn(3 * 8 * 8, 4)
    gen = lambda w: torch.sigmoid(w @ W_.T).reshape(-1, 3, 8, 8)
    with pytest.raises(IncompatibleError, match="truth='fixed'"):
        Attack(LandmarkErrorGoal(), LatentSpace(gen, LpBall(0.5, 2.0)), GridSearch(points=3))
    Attack(LandmarkErrorGoal(), LatentSpace(gen, LpBall(0.5, 2.0), truth="fixed"), GridSearch(points=3))
    with pytest.raises(InputError, match="truth must be"):
        LatentSpace(gen, LpBall(0.5, 2.0), truth="moved")
    with pytest.raises(IncompatibleError, match="cannot say where its images put it"):
        Attack(SegmentationGoal(), RenderSpace(FacesWorld(), {"yaw": 0.5}), GridSearch(points=3))
    # RegionGoal and SegmentationGoal declare class maps; DetectionGoal boxes
    assert RegionGoal(1).truth_kind == SegmentationGoal().truth_kind == "mask"
    assert DetectionGoal.truth_kind == "boxes"


def test_bad_truth_is_one_clear_error():
    with pytest.raises(InputError, match=r"points truth must be \(B, K, 2\)"):
        check_truth(torch.zeros(2, 3), "points")
    with pytest.raises(InputError, match="unknown truth kind"):
        check_truth(torch.zeros(2, 3, 2), "keypoints")
    with pytest.raises(InputError, match="rows for a batch"):
        TransformSpace(rotation=(-5.0, 5.0)).decode_with_truth(
            torch.zeros(2, 1), torch.rand(2, 1, 8, 8), torch.zeros(3, 4, 2), "points"
        )
    with pytest.raises(IncompatibleError, match="slot by slot"):
        s = StreetsWorld()
        x = s.sample(1, seed=0)
        RenderSpace(s, {"car0_x": 0.2}).decode_with_truth(
            torch.zeros(1, 1) + x[:, s.index("car0_x")], x, torch.zeros(1, 2, 5), "boxes"
        )


def test_results_with_moved_truth_concatenate_and_select():
    p = _points(4, seed=2)
    x = blobs(p).float()
    atk = Attack(LandmarkErrorGoal(tol=0.1), TransformSpace(rotation=(-45.0, 45.0)), GridSearch(points=5))
    a, b = atk(SoftArgmaxDetector(), x[:2], p[:2].float()), atk(SoftArgmaxDetector(), x[2:], p[2:].float())
    both = AttackResult.cat([a, b])
    assert both.target_adv is not None and both.target_adv.shape == (4, 3, 2)
    assert torch.equal(both.take(torch.tensor([3])).target_adv, b.target_adv[1:])
    plain = Attack(StaleLandmarkError(tol=0.1), TransformSpace(rotation=(-45.0, 45.0)), GridSearch(points=5))
    with pytest.raises(InputError, match="target_adv"):
        AttackResult.cat([a, plain(SoftArgmaxDetector(), x[:2], p[:2].float())])


def test_affine_boxes_identity_is_exact():
    b = torch.tensor([[[1.0, 2.0, 5.0, 9.0, 3.0], [float("nan")] * 5]])
    M = torch.tensor([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]])
    out = affine_boxes(b, M, 16, 16)
    assert torch.allclose(out, b, equal_nan=True)
    assert math.isnan(float(out[0, 1, 0]))


# ----- detect → crop → recognise: a switch to a false positive is not a success (item 3) ---------------------
def _two_blobs(w: torch.Tensor) -> torch.Tensor:
    """Latent (B, 2) = peak brightness of a narrow 'face' blob at x = 8 and a wide 'clothing' blob at x = 24."""
    ys = torch.arange(H, dtype=w.dtype) + 0.5
    xs = torch.arange(W, dtype=w.dtype) + 0.5
    gy, gx = ys.reshape(H, 1), xs.reshape(1, W)
    face = torch.exp(-((gx - 8) ** 2 + (gy - 16) ** 2) / (2 * 1.5**2))
    cloth = torch.exp(-((gx - 24) ** 2 + (gy - 16) ** 2) / (2 * 3.0**2))
    return (w[:, 0, None, None] * face + w[:, 1, None, None] * cloth).clamp(0, 1)[:, None]


class Pipeline(torch.nn.Module):
    """Detect the brightest blob (an 8×8 box around the brightest pixel), recognise the crop: class 1 for a
    narrow blob (a face), 0 for a wide one. Returns (box, logits)."""

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        flat = img[:, 0].flatten(1).argmax(1)
        cy, cx = (flat // W).to(img.dtype) + 0.5, (flat % W).to(img.dtype) + 0.5
        box = torch.stack([cx - 4, cy - 4, cx + 4, cy + 4], 1)
        peak = img[:, 0].flatten(1).amax(1)
        ring = torch.stack([img[i, 0, int(cy[i]), min(W - 1, int(cx[i]) + 3)] for i in range(len(img))])
        narrow = 8 * (peak * 0.5 - ring)  # > 0: intensity falls off within 3 px
        return torch.cat([box, torch.stack([-narrow, narrow], 1)], 1)


def test_a_detector_switch_to_a_false_positive_is_not_a_recognition_success():
    from semadv.goals import Misclassification, SameObject

    w = torch.tensor([[1.0, 0.75]] * 3, dtype=torch.float64)
    labels = torch.ones(3, dtype=torch.int64)  # the face's identity class
    face_box = torch.tensor([[4.0, 12.0, 12.0, 20.0, 0.0]] * 3, dtype=torch.float64)
    victim = Pipeline()
    with torch.no_grad():
        clean = victim(_two_blobs(w))
    assert (clean[:, 4:].argmax(1) == 1).all() and (clean[:, 0] < 8).all()  # sees the face, recognises it
    space = LatentSpace(_two_blobs, LpBall(0.4, float("inf")), truth="fixed")
    search = GridSearch(points=5)
    plain = Attack(Misclassification(), space, search)(victim, w, labels)
    # dimming the face below the clothing makes the detector crop the clothing: "misclassified"
    assert plain.success.all()
    guarded = Attack(SameObject(Misclassification(), iou=0.5), space, search)(
        victim, w, SameObject.pack(face_box, labels)
    )
    assert not guarded.success.any()  # the pipeline no longer looked at the face: not a success
    with pytest.raises(InputError, match=r"SameObject\.pack"):
        Attack(SameObject(Misclassification()), space, search)(victim, w, labels)
