"""The **faces** world: differentiable 64×64 cartoon faces with exact identity, attributes and landmarks.

A scene is ``[identity (15) | attributes (17)]``. Identity parameters are drawn once per identity id from
a seed and never change under attribute edits; attribute parameters are the identity-preserving factors of
SemanticAdv (seed 000 §4.1, 17 attributes) and seed 002 Table 1 (pose, age, smile, eyeglasses …). Because
the identity vector is explicit, :func:`same_identity` is an exact oracle.

Binary attribute labels (:data:`BINARY`) are thresholds on the continuous attributes, documented there.
Landmarks (23 points, :data:`LANDMARKS`) and the face box are computed analytically from the parameters.
"""

from __future__ import annotations

import math

import torch

from semadv.errors import IncompatibleError
from semadv.worlds import render as R
from semadv.worlds.base import ParamDef, Render, World

IDENTITY: tuple[ParamDef, ...] = (
    ParamDef("face_width", 0.21, 0.29, "half-width of the face ellipse"),
    ParamDef("face_height", 0.28, 0.35, "half-height of the face ellipse"),
    ParamDef("jaw", 0.0, 1.0, "chin narrowing (0 round, 1 pointed)"),
    ParamDef("eye_spacing", 0.085, 0.12, "half distance between eye centres"),
    ParamDef("eye_size", 0.034, 0.052, "eye half-width"),
    ParamDef("eye_shape", 0.45, 0.9, "eye height / width"),
    ParamDef("iris_color", 0.0, 1.0, "iris palette: brown → hazel → green → blue → grey"),
    ParamDef("nose_length", 0.06, 0.12, "nose bridge length"),
    ParamDef("nose_width", 0.018, 0.045, "nose tip half-width"),
    ParamDef("mouth_width", 0.07, 0.125, "mouth half-width"),
    ParamDef("brow_thickness", 0.009, 0.02, "eyebrow half-thickness"),
    ParamDef("brow_height", 0.045, 0.08, "eyebrow height above the eye centre"),
    ParamDef("ear_size", 0.035, 0.065, "ear radius"),
    ParamDef("skin_tone", 0.0, 1.0, "skin palette: light → dark"),
    ParamDef("hair_style", 0.0, 1.0, "hair volume and length (0 short, 1 long)"),
)

ATTRIBUTES: tuple[ParamDef, ...] = (
    ParamDef("smile", 0.0, 1.0, "mouth curvature"),
    ParamDef("mouth_open", 0.0, 1.0, "opening of the mouth"),
    ParamDef("eyeglasses", 0.0, 1.0, "opacity of the glasses"),
    ParamDef("glasses_color", 0.0, 1.0, "frame hue"),
    ParamDef("hair_color", 0.0, 1.0, "hair palette: black → brown → auburn → blond"),
    ParamDef("bangs", 0.0, 1.0, "fringe over the forehead"),
    ParamDef("yaw", -1.0, 1.0, "head turn left/right"),
    ParamDef("roll", -1.0, 1.0, "head tilt, ×20°"),
    ParamDef("age", 0.0, 1.0, "wrinkles and grey hair"),
    ParamDef("rosy_cheeks", 0.0, 1.0, "cheek blush"),
    ParamDef("lipstick", 0.0, 1.0, "lip colour"),
    ParamDef("brow_arch", 0.0, 1.0, "eyebrow arch"),
    ParamDef("light_direction", -1.0, 1.0, "light angle, ×90° from above"),
    ParamDef("light_intensity", 0.0, 1.0, "strength of directional shading"),
    ParamDef("background", 0.0, 1.0, "background hue"),
    ParamDef("hat", 0.0, 1.0, "hat opacity"),
    ParamDef("earrings", 0.0, 1.0, "earring opacity"),
)

#: binary attribute labels: name → (parameter, threshold, direction); "above" means value > threshold
BINARY: dict[str, tuple[str, float, str]] = {
    "smiling": ("smile", 0.5, "above"),
    "mouth_open": ("mouth_open", 0.5, "above"),
    "eyeglasses": ("eyeglasses", 0.5, "above"),
    "bangs": ("bangs", 0.5, "above"),
    "old": ("age", 0.5, "above"),
    "rosy_cheeks": ("rosy_cheeks", 0.5, "above"),
    "lipstick": ("lipstick", 0.5, "above"),
    "arched_brows": ("brow_arch", 0.5, "above"),
    "hat": ("hat", 0.5, "above"),
    "earrings": ("earrings", 0.5, "above"),
    "blond_hair": ("hair_color", 0.75, "above"),
    "black_hair": ("hair_color", 0.25, "below"),
    "turned_left": ("yaw", -0.35, "below"),
    "turned_right": ("yaw", 0.35, "above"),
}

LANDMARKS: tuple[str, ...] = (
    "left_eye_outer",
    "left_eye_inner",
    "right_eye_inner",
    "right_eye_outer",
    "left_eye_center",
    "right_eye_center",
    "left_brow_outer",
    "left_brow_inner",
    "right_brow_inner",
    "right_brow_outer",
    "nose_top",
    "nose_tip",
    "nose_left",
    "nose_right",
    "mouth_left",
    "mouth_right",
    "upper_lip",
    "lower_lip",
    "jaw_left",
    "jaw_lower_left",
    "chin",
    "jaw_lower_right",
    "jaw_right",
)

N_ID = len(IDENTITY)
N_ATTR = len(ATTRIBUTES)
CENTER = (0.5, 0.53)
TAU = 0.45 / 64  # soft-edge temperature: 0.45 pixel


def _palette(t: torch.Tensor, colors: list[tuple[float, float, float]]) -> torch.Tensor:
    """Piecewise-linear colour palette, t ∈ [0, 1] (B,) → (B, 3); differentiable in t."""
    c = torch.tensor(colors, dtype=t.dtype, device=t.device)
    k = len(colors) - 1
    x = (t.clamp(0, 1) * k).unsqueeze(1)
    w = torch.relu(1 - (x - torch.arange(k + 1, dtype=t.dtype, device=t.device)).abs())  # hat functions
    return w @ c


SKIN = [(0.98, 0.85, 0.74), (0.92, 0.74, 0.6), (0.78, 0.56, 0.42), (0.55, 0.37, 0.26), (0.36, 0.24, 0.17)]
IRIS = [(0.38, 0.22, 0.1), (0.5, 0.4, 0.15), (0.2, 0.5, 0.25), (0.2, 0.4, 0.8), (0.55, 0.6, 0.65)]
HAIR = [(0.08, 0.07, 0.07), (0.35, 0.2, 0.1), (0.6, 0.25, 0.1), (0.93, 0.8, 0.45)]
FRAMES = [(0.1, 0.1, 0.1), (0.6, 0.1, 0.1), (0.1, 0.2, 0.6), (0.75, 0.6, 0.2), (0.1, 0.1, 0.1)]
BACKGROUNDS = [
    (0.55, 0.7, 0.9),
    (0.6, 0.85, 0.6),
    (0.95, 0.85, 0.55),
    (0.9, 0.6, 0.6),
    (0.75, 0.65, 0.9),
    (0.55, 0.7, 0.9),
]


class FacesWorld(World):
    """64×64 RGB cartoon faces; scene vector = identity (15) ‖ attributes (17)."""

    name = "faces"
    H = 64
    W = 64
    params = IDENTITY + ATTRIBUTES

    # ----- sampling ----------------------------------------------------------------------------------
    def identity_vectors(self, ids: torch.Tensor, seed: int = 0) -> torch.Tensor:
        """Identity parameters (n, 15) of identity ids, drawn deterministically from (seed, id)."""
        out = torch.empty(len(ids), N_ID)
        lo, hi = self.lo[:N_ID], self.hi[:N_ID]
        for i, ident in enumerate(ids.tolist()):
            g = torch.Generator().manual_seed(1_000_003 * int(seed) + 7919 * int(ident) + 17)
            out[i] = lo + (hi - lo) * torch.rand(N_ID, generator=g)
        return out

    def sample_attributes(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """Attribute parameters (n, 17): binary-like attributes are bimodal, pose/light continuous."""
        u = torch.rand(n, N_ATTR, generator=generator)
        a = self.lo[N_ID:] + (self.hi[N_ID:] - self.lo[N_ID:]) * u
        bimodal = [
            ATTRIBUTES.index(p)
            for p in ATTRIBUTES
            if p.name in ("smile", "mouth_open", "eyeglasses", "bangs", "rosy_cheeks", "lipstick", "hat", "earrings")
        ]
        on = torch.rand(n, len(bimodal), generator=generator) < torch.tensor(
            [0.5, 0.3, 0.35, 0.35, 0.3, 0.3, 0.2, 0.25]
        )
        mag = 0.65 + 0.35 * torch.rand(n, len(bimodal), generator=generator)
        a[:, bimodal] = torch.where(on, mag, 0.06 * torch.rand(n, len(bimodal), generator=generator))
        a[:, ATTRIBUTES.index(next(p for p in ATTRIBUTES if p.name == "yaw"))] *= 0.8
        a[:, ATTRIBUTES.index(next(p for p in ATTRIBUTES if p.name == "roll"))] *= 0.5
        return a

    def sample(self, n: int, n_identities: int, seed: int = 0, id_offset: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
        """``n`` scenes of ``n_identities`` identities (ids ``id_offset …``); returns (params, ids)."""
        g = torch.Generator().manual_seed(seed)
        ids = torch.randint(0, n_identities, (n,), generator=g) + id_offset
        ident = self.identity_vectors(ids, seed=0)
        return torch.cat([ident, self.sample_attributes(n, g)], dim=1), ids

    # ----- ground truth ------------------------------------------------------------------------------
    def binary_attributes(self, params: torch.Tensor) -> torch.Tensor:
        """(B, len(BINARY)) bool labels by the thresholds of :data:`BINARY`."""
        cols = []
        for pname, thr, how in BINARY.values():
            v = self.get(params, pname)
            cols.append(v > thr if how == "above" else v < thr)
        return torch.stack(cols, dim=1)

    # ----- geometry shared by render and landmarks ---------------------------------------------------
    def _geometry(self, P: torch.Tensor) -> dict[str, torch.Tensor]:
        g = {n.name: P[:, i] for i, n in enumerate(self.params)}
        B = P.shape[0]
        cx = torch.full((B,), CENTER[0], dtype=P.dtype, device=P.device)
        cy = torch.full((B,), CENTER[1], dtype=P.dtype, device=P.device)
        yaw = g["yaw"]
        g["cx"], g["cy"] = cx, cy
        g["squash"] = 1 - 0.22 * yaw.abs()  # horizontal foreshortening
        g["shift"] = 0.06 * yaw  # features slide towards the turn
        g["eye_y"] = cy - 0.02
        return g

    def _fx(self, g: dict[str, torch.Tensor], rel: torch.Tensor) -> torch.Tensor:
        """x of a feature at signed offset ``rel`` from the face centre, after yaw."""
        return g["cx"] + g["shift"] + rel * g["squash"] * (1 + 0.25 * g["yaw"] * torch.sign(rel))

    truth_kinds = ("points",)

    def move_truth(
        self, before: torch.Tensor, after: torch.Tensor, truth: torch.Tensor, kind: str, render: Render
    ) -> torch.Tensor:
        """Points ``(B, 23, 2)`` carried with the face: each point keeps its offset to its own landmark, so the
        true landmarks move exactly (offset 0) and drawn targets (e.g. rotated eyes) follow their landmark."""
        if kind != "points":
            return super().move_truth(before, after, truth, kind, render)
        if truth.dim() != 3 or truth.shape[1:] != (len(LANDMARKS), 2):
            raise IncompatibleError(
                f"the faces world moves its {len(LANDMARKS)} landmarks: truth must be (B, {len(LANDMARKS)}, 2); "
                f"got {tuple(truth.shape)}"
            )
        return truth + self.landmarks(after).to(truth) - self.landmarks(before).to(truth)

    def landmarks(self, params: torch.Tensor) -> torch.Tensor:
        """(B, 23, 2) landmark positions in pixels (x, y), in :data:`LANDMARKS` order."""
        P = self.validate(params)
        g = self._geometry(P)
        es, ew = g["eye_spacing"], g["eye_size"]
        ey = g["eye_y"]
        by = ey - g["brow_height"]
        ny0, ny1 = ey + 0.01, ey + 0.01 + g["nose_length"]
        my = ny1 + 0.06
        mw = g["mouth_width"] * (1 + 0.15 * g["smile"])
        fw, fh = g["face_width"], g["face_height"]
        chin_w = fw * (1 - 0.45 * g["jaw"])
        pts = [
            (self._fx(g, -es - ew), ey),
            (self._fx(g, -es + ew), ey),
            (self._fx(g, es - ew), ey),
            (self._fx(g, es + ew), ey),
            (self._fx(g, -es), ey),
            (self._fx(g, es), ey),
            (self._fx(g, -es - ew * 1.1), by),
            (self._fx(g, -es + ew * 0.9), by),
            (self._fx(g, es - ew * 0.9), by),
            (self._fx(g, es + ew * 1.1), by),
            (self._fx(g, 0 * es), ny0),
            (self._fx(g, 0 * es), ny1),
            (self._fx(g, -g["nose_width"]), ny1 - 0.005),
            (self._fx(g, g["nose_width"]), ny1 - 0.005),
            (self._fx(g, -mw), my - 0.02 * g["smile"]),
            (self._fx(g, mw), my - 0.02 * g["smile"]),
            (self._fx(g, 0 * es), my - 0.008 - 0.01 * g["mouth_open"]),
            (self._fx(g, 0 * es), my + 0.008 + 0.025 * g["mouth_open"]),
            (g["cx"] - fw * g["squash"] + g["shift"] * 0.3, g["cy"]),
            (g["cx"] + g["shift"] * 0.6 - chin_w * 0.8 * g["squash"], g["cy"] + fh * 0.75),
            (g["cx"] + g["shift"] * 0.8, g["cy"] + fh + 0.02 * g["jaw"]),
            (g["cx"] + g["shift"] * 0.6 + chin_w * 0.8 * g["squash"], g["cy"] + fh * 0.75),
            (g["cx"] + fw * g["squash"] + g["shift"] * 0.3, g["cy"]),
        ]
        xy = torch.stack([torch.stack([x, y], dim=-1) for x, y in pts], dim=1)  # (B, 23, 2), height units
        roll = g["roll"] * (math.pi / 9)
        c = torch.stack([g["cx"], g["cy"]], dim=-1)[:, None]
        q = xy - c
        ca, sa = torch.cos(roll)[:, None], torch.sin(roll)[:, None]
        # image = R(roll) · local (the grid is rotated by −roll when rendering)
        rot = torch.stack([ca * q[..., 0] - sa * q[..., 1], sa * q[..., 0] + ca * q[..., 1]], dim=-1) + c
        return rot * self.H

    def face_box(self, params: torch.Tensor) -> torch.Tensor:
        """(B, 4) face box (x0, y0, x1, y1) in pixels: the jaw landmarks' extent and the forehead."""
        lm = self.landmarks(params)
        P = self.validate(params)
        g = self._geometry(P)
        top = (g["cy"] - g["face_height"]) * self.H
        x0 = lm[:, 18:, 0].amin(1)
        x1 = lm[:, 18:, 0].amax(1)
        return torch.stack([x0, torch.minimum(top, lm[:, 6:10, 1].amin(1)), x1, lm[:, 18:, 1].amax(1)], dim=1)

    # ----- rendering ----------------------------------------------------------------------------------
    def render(self, params: torch.Tensor, with_labels: bool = False) -> Render:
        P = self.validate(params)
        B = P.shape[0]
        dt, dev = P.dtype, P.device
        g = self._geometry(P)
        grid = R.pixel_grid(self.H, self.W, dt, dev)
        center = torch.stack([g["cx"], g["cy"]], dim=-1)
        p = R.rotate(grid, center, g["roll"] * (math.pi / 9))  # face-local grid (B, H, W, 2)
        pair = lambda x, y: torch.stack([x, y], dim=-1)
        tau = TAU

        bg = _palette(g["background"], BACKGROUNDS)
        canvas = R.Canvas(
            R.linear_gradient(
                grid.expand(B, -1, -1, -1),
                pair(g["cx"] * 0, g["cy"] * 0),
                pair(g["cx"] * 0, g["cy"] * 0 + 1.0),
                bg,
                bg * 0.75,
            )
        )
        skin = _palette(g["skin_tone"], SKIN)
        hair = _palette(g["hair_color"], HAIR)
        grey = torch.tensor([0.78, 0.78, 0.8], dtype=dt, device=dev)
        age = g["age"][:, None]
        hair = hair * (1 - 0.8 * age**2) + grey * 0.8 * age**2
        light_ang = g["light_direction"] * (math.pi / 2)
        light = pair(torch.sin(light_ang), torch.cos(light_ang))  # travels downwards by default
        fw, fh = g["face_width"] * g["squash"], g["face_height"]
        fcx = g["cx"] + 0.3 * g["shift"]

        # long hair behind the head
        hs = g["hair_style"]
        back = R.sdf_ellipse(p, pair(fcx, g["cy"] + 0.05 * hs), pair(fw + 0.04 + 0.07 * hs, fh + 0.03 + 0.1 * hs))
        canvas.paint(R.coverage(back, tau), hair)
        # ears with a darker inner ear; the far ear shrinks and fades as the head turns away
        for side in (-1.0, 1.0):
            vis = (1 + side * g["yaw"]).clamp(0, 1.5) / 1.5
            ex = fcx + side * (fw + 0.005)
            rx = g["ear_size"] * 0.6 * vis + 1e-3
            fade = (2 * vis).clamp(0, 1)[:, None, None]
            ear = R.sdf_ellipse(p, pair(ex, g["eye_y"] + 0.03), pair(rx, g["ear_size"]))
            inner_ear = R.sdf_ellipse(
                p, pair(ex + side * 0.2 * rx, g["eye_y"] + 0.03), pair(0.5 * rx, 0.6 * g["ear_size"])
            )
            canvas.paint(R.coverage(ear, tau) * fade, skin * 0.92)
            canvas.paint(R.coverage(inner_ear, tau) * fade, skin * 0.6)
        # face = union of the skull ellipse and a chin ellipse
        chin_w = g["face_width"] * (1 - 0.45 * g["jaw"]) * g["squash"]
        d_face = torch.minimum(
            R.sdf_ellipse(p, pair(fcx, g["cy"]), pair(fw, fh * 0.92)),
            R.sdf_ellipse(p, pair(fcx + 0.5 * g["shift"], g["cy"] + fh * 0.35), pair(chin_w, fh * 0.65)),
        )
        a_face = R.coverage(d_face, tau)
        shading = R.shade(p, center, fh, light, g["light_intensity"] * 0.35)
        canvas.paint(a_face, skin[:, :, None, None] * shading)
        # cheeks
        cheeks = [
            R.sdf_ellipse(
                p,
                pair(self._fx(g, side * (g["eye_spacing"] + 0.01)), g["eye_y"] + 0.085),
                pair(0.035 + 0 * fw, 0.024 + 0 * fw),
            )
            for side in (-1.0, 1.0)
        ]
        canvas.paint(
            R.coverage(torch.minimum(*cheeks), 2 * tau) * 0.55 * g["rosy_cheeks"][:, None, None],
            torch.tensor([0.95, 0.35, 0.4], dtype=dt, device=dev).expand(B, 3),
        )
        # wrinkles (age): three forehead arcs (rings of one ellipse family, cut to a band) and crow's feet
        fore_y = g["cy"] - fh * 0.5
        arcs = [
            R.ring(R.sdf_ellipse(p, pair(fcx, fore_y + 0.2 + 0.022 * k), pair(0.2 + 0 * fw, 0.2 + 0 * fw)), 0.0035)
            for k in range(3)
        ]
        band = R.sdf_box(p, pair(fcx, fore_y + 0.01), pair(0.085 + 0 * fw, 0.03 + 0 * fw))
        wr = [torch.maximum(torch.stack(arcs).amin(0), band)]
        for side in (-1.0, 1.0):
            x0 = self._fx(g, side * (g["eye_spacing"] + g["eye_size"] + 0.012))
            for dy in (-0.012, 0.012):
                wr.append(R.sdf_segment(p, pair(x0, g["eye_y"]), pair(x0 + side * 0.025, g["eye_y"] + dy), 0.003))
        wrinkles = torch.stack(wr).amin(0)
        canvas.paint(R.coverage(wrinkles, tau) * 0.75 * g["age"][:, None, None], skin * 0.55)
        # eyes: whites, irises and pupils share one layer each for both eyes; iris and pupil reuse one distance
        whites, irises, pupils, brows = [], [], [], []
        for side in (-1.0, 1.0):
            ex = self._fx(g, side * g["eye_spacing"])
            far = 1 - 0.3 * torch.relu(-side * g["yaw"])
            rx = g["eye_size"] * far * g["squash"]
            ry = g["eye_size"] * g["eye_shape"] * far
            whites.append(R.sdf_ellipse(p, pair(ex, g["eye_y"]), pair(rx, ry)))
            iris_r = torch.minimum(rx, ry) * 0.85
            look = ex + 0.25 * rx * g["yaw"]
            dist = R.sdf_ellipse(p, pair(look, g["eye_y"]), pair(iris_r, iris_r)) + iris_r[:, None, None]
            irises.append(dist - iris_r[:, None, None])
            pupils.append(dist - 0.45 * iris_r[:, None, None])
            by = g["eye_y"] - g["brow_height"]
            inner = self._fx(g, side * (g["eye_spacing"] - g["eye_size"] * 0.9))
            outer = self._fx(g, side * (g["eye_spacing"] + g["eye_size"] * 1.1))
            mid = 0.5 * (inner + outer)
            brows.append(
                R.sdf_bezier(
                    p,
                    pair(inner, by),
                    pair(mid, by - 0.01 - 0.035 * g["brow_arch"]),
                    pair(outer, by + 0.005),
                    g["brow_thickness"],
                    segments=3,
                )
            )
        canvas.paint(
            R.coverage(torch.minimum(*whites), tau), torch.tensor([0.97, 0.97, 0.97], dtype=dt, device=dev).expand(B, 3)
        )
        canvas.paint(R.coverage(torch.minimum(*irises), tau), _palette(g["iris_color"], IRIS))
        canvas.paint(R.coverage(torch.minimum(*pupils), tau), torch.zeros(B, 3, dtype=dt, device=dev))
        canvas.paint(R.coverage(torch.minimum(*brows), tau), torch.minimum(hair * 0.4, skin * 0.5))
        # nose
        ny0, ny1 = g["eye_y"] + 0.01, g["eye_y"] + 0.01 + g["nose_length"]
        nx = self._fx(g, 0 * g["eye_spacing"])
        nose = R.sdf_segment(p, pair(nx - 0.3 * g["shift"], ny0), pair(nx, ny1 - 0.008), 0.007)
        canvas.paint(R.coverage(nose, tau) * 0.7, skin * 0.72)
        tip = R.sdf_ellipse(p, pair(nx, ny1 - 0.004), pair(g["nose_width"] * g["squash"], 0.014 + 0 * nx))
        canvas.paint(R.coverage(tip, tau), skin[:, :, None, None] * 0.78 * shading)
        nostrils = [
            R.sdf_ellipse(
                p,
                pair(nx + side * g["nose_width"] * 0.75 * g["squash"], ny1 + 0.002),
                pair(0.012 + 0 * nx, 0.008 + 0 * nx),
            )
            for side in (-1.0, 1.0)
        ]
        canvas.paint(R.coverage(torch.minimum(*nostrils), tau), skin * 0.4)
        # mouth: open cavity, then lips as a Bézier stroke bent by the smile
        my = ny1 + 0.06
        mw = g["mouth_width"] * (1 + 0.15 * g["smile"])
        ml, mr = self._fx(g, -mw), self._fx(g, mw)
        corner_y = my - 0.035 * g["smile"]
        cav = R.sdf_ellipse(
            p,
            pair(0.5 * (ml + mr), my + 0.01 * g["mouth_open"]),
            pair(0.5 * (mr - ml) * 0.85, 0.004 + 0.022 * g["mouth_open"]),
        )
        canvas.paint(
            R.coverage(cav, tau) * (g["mouth_open"][:, None, None] > 0.02).to(dt),
            torch.tensor([0.35, 0.08, 0.1], dtype=dt, device=dev).expand(B, 3),
        )
        lip_col = (
            torch.tensor([0.75, 0.4, 0.4], dtype=dt, device=dev) * (1 - g["lipstick"][:, None])
            + torch.tensor([0.85, 0.05, 0.2], dtype=dt, device=dev) * g["lipstick"][:, None]
        )
        lips = R.sdf_bezier(
            p,
            pair(ml, corner_y),
            pair(0.5 * (ml + mr), my + 0.06 * g["smile"] - 0.01),
            pair(mr, corner_y),
            0.009,
            segments=4,
        )
        canvas.paint(R.coverage(lips, tau), lip_col)
        # hair on top of the head (cap = head ellipse ∩ upper half-plane) and bangs
        cap_line = g["cy"] - fh * (0.55 - 0.2 * hs)
        cap = torch.maximum(
            R.sdf_ellipse(p, pair(fcx, g["cy"]), pair(fw + 0.012, fh * 0.92 + 0.015)), p[:, 1] - cap_line[:, None, None]
        )
        canvas.paint(R.coverage(cap, tau), hair)
        bangs = R.sdf_ellipse(p, pair(fcx + 0.3 * g["shift"], cap_line), pair(fw * 0.85, 0.02 + 0.06 * g["bangs"]))
        canvas.paint(R.coverage(bangs, tau) * g["bangs"][:, None, None].clamp(0, 1), hair)
        # glasses: two rings and a bridge
        frame = _palette(g["glasses_color"], FRAMES)
        op = g["eyeglasses"][:, None, None]
        rings = []
        for side in (-1.0, 1.0):
            ex = self._fx(g, side * g["eye_spacing"])
            rings.append(R.sdf_ellipse(p, pair(ex, g["eye_y"]), pair(0.048 * g["squash"], 0.036 + 0 * ex)))
        lens = torch.minimum(rings[0], rings[1])
        canvas.paint(
            R.coverage(lens, tau) * 0.25 * op, torch.tensor([0.6, 0.75, 0.85], dtype=dt, device=dev).expand(B, 3)
        )
        bridge = R.sdf_segment(
            p,
            pair(self._fx(g, -g["eye_spacing"] + 0.045), g["eye_y"] - 0.01),
            pair(self._fx(g, g["eye_spacing"] - 0.045), g["eye_y"] - 0.01),
            0.004,
        )
        canvas.paint(R.coverage(torch.minimum(R.ring(lens, 0.005), bridge), tau) * op, frame)
        # earrings
        rings_e = [
            R.sdf_ellipse(
                p,
                pair(fcx + side * (fw + 0.005), g["eye_y"] + 0.03 + g["ear_size"] + 0.012),
                pair(0.012 + 0 * fw, 0.012 + 0 * fw),
            )
            for side in (-1.0, 1.0)
        ]
        canvas.paint(
            R.coverage(torch.minimum(*rings_e), tau) * g["earrings"][:, None, None],
            torch.tensor([0.95, 0.8, 0.2], dtype=dt, device=dev).expand(B, 3),
        )
        # hat: crown and brim
        top = g["cy"] - fh * 0.92
        crown = R.sdf_box(p, pair(fcx, top - 0.05), pair(fw * 0.85, 0.07 + 0 * fw), 0.03)
        brim = R.sdf_box(p, pair(fcx, top + 0.015), pair(fw * 1.25, 0.014 + 0 * fw), 0.01)
        hat_col = torch.tensor([0.2, 0.25, 0.45], dtype=dt, device=dev).expand(B, 3)
        canvas.paint(R.coverage(torch.minimum(crown, brim), tau) * g["hat"][:, None, None], hat_col)

        img = canvas.img * (0.85 + 0.3 * g["light_intensity"].reshape(-1, 1, 1, 1) * 0.5)
        img = img.clamp(0.0, 1.0)
        extras = {}
        if with_labels:
            extras = {"landmarks": self.landmarks(P), "face_box": self.face_box(P), "binary": self.binary_attributes(P)}
        return Render(img, extras=extras)


def same_identity(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Exact identity oracle: do scenes ``a`` and ``b`` (B, 32) share the identity vector? (B,) bool."""
    return (a[:, :N_ID] == b[:, :N_ID]).all(dim=1)
