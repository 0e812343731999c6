"""The **streets** world: differentiable 64×128 street scenes with exact semantic labels and boxes.

Layers (back to front): sky, buildings, terrain, sidewalk, road with a lane marking, trees, then the
dynamic objects — up to 3 cars, 2 pedestrians and 1 cyclist — sorted by depth per scene, then fog (with a
depth map) and a time-of-day illumination tint. Parameters cover seed 003's groups: colour (car hue and
value), weather (fog), foliage (density, colour), rotate (car yaw: side ↔ front view), translate (lateral
position and depth), mesh (car length / height / roof).

Objects are "present" when their ``*_present`` parameter is > 0.5; the parameter is also their opacity, so
scenes are sampled with 0 or 1 and the layout-editing API (:meth:`StreetsWorld.insert`, ``remove``,
``move``) sets it. Semantic classes are :data:`CLASSES`; ground-truth boxes come from the rendered
instance map, so they agree with the pixels by construction.
"""

from __future__ import annotations

import torch

from semadv.errors import IncompatibleError, InputError
from semadv.worlds import render as R
from semadv.worlds.base import ParamDef, Render, World
from semadv.worlds.faces import _palette

CLASSES: tuple[str, ...] = ("sky", "road", "sidewalk", "building", "vegetation", "car", "person", "cyclist")
SKY, ROAD, SIDEWALK, BUILDING, VEGETATION, CAR, PERSON, CYCLIST = range(8)
HORIZON = 0.42
N_CARS, N_PEDS, N_CYC, N_BUILDINGS, N_TREES = 3, 2, 1, 6, 4
TAU = 0.5 / 64

_GLOBAL = (
    [
        ParamDef("fog", 0.0, 3.0, "fog density (weather)"),
        ParamDef("time_of_day", 0.0, 1.0, "0 noon → 0.5 dusk → 1 night"),
        ParamDef("foliage_density", 0.0, 1.0, "tree crown size"),
        ParamDef("foliage_color", 0.0, 1.0, "green → olive → autumn"),
        ParamDef("building_color", 0.0, 1.0, "facade palette"),
    ]
    + [ParamDef(f"building{i}_height", 0.08, 0.36, "building height above the horizon") for i in range(N_BUILDINGS)]
    + [ParamDef(f"tree{i}_x", 0.0, 2.0, "tree position across the image") for i in range(N_TREES)]
)


def _car(k: int) -> list[ParamDef]:
    return [
        ParamDef(f"car{k}_present", 0.0, 1.0, "present if > 0.5 (opacity)"),
        ParamDef(f"car{k}_x", -0.85, 0.85, "lateral position on the road (road edges at ±1)"),
        ParamDef(f"car{k}_depth", 0.0, 1.0, "distance: 0 near, 1 far"),
        ParamDef(f"car{k}_hue", 0.0, 1.0, "paint colour"),
        ParamDef(f"car{k}_value", 0.2, 1.0, "paint brightness"),
        ParamDef(f"car{k}_yaw", 0.0, 1.0, "0 side view → 1 front view"),
        ParamDef(f"car{k}_length", 0.8, 1.3, "body length (mesh)"),
        ParamDef(f"car{k}_height", 0.8, 1.25, "body height (mesh)"),
        ParamDef(f"car{k}_roof", 0.0, 1.0, "roof size (mesh)"),
    ]


def _ped(k: int) -> list[ParamDef]:
    return [
        ParamDef(f"ped{k}_present", 0.0, 1.0, "present if > 0.5 (opacity)"),
        ParamDef(f"ped{k}_x", -1.7, 1.7, "lateral position (|x| > 1: sidewalk)"),
        ParamDef(f"ped{k}_depth", 0.0, 1.0, "distance: 0 near, 1 far"),
        ParamDef(f"ped{k}_hue", 0.0, 1.0, "clothes colour"),
        ParamDef(f"ped{k}_height", 0.85, 1.15, "body height"),
    ]


def _cyc(k: int) -> list[ParamDef]:
    return [
        ParamDef(f"cyc{k}_present", 0.0, 1.0, "present if > 0.5 (opacity)"),
        ParamDef(f"cyc{k}_x", -0.9, 0.9, "lateral position on the road"),
        ParamDef(f"cyc{k}_depth", 0.0, 1.0, "distance: 0 near, 1 far"),
        ParamDef(f"cyc{k}_hue", 0.0, 1.0, "clothes colour"),
    ]


PARAMS: tuple[ParamDef, ...] = (
    *_GLOBAL,
    *(d for k in range(N_CARS) for d in _car(k)),
    *(d for k in range(N_PEDS) for d in _ped(k)),
    *(d for k in range(N_CYC) for d in _cyc(k)),
)
#: ground-truth boxes narrower or lower than this (pixels) are not objects a detector is scored on
MIN_BOX = 3.0
#: instance slots in order: cars, pedestrians, cyclists, with their semantic class
SLOTS: tuple[tuple[str, int], ...] = tuple(
    [(f"car{k}", CAR) for k in range(N_CARS)]
    + [(f"ped{k}", PERSON) for k in range(N_PEDS)]
    + [(f"cyc{k}", CYCLIST) for k in range(N_CYC)]
)

PAINT = [(0.8, 0.1, 0.1), (0.9, 0.6, 0.1), (0.2, 0.6, 0.2), (0.1, 0.3, 0.8), (0.6, 0.6, 0.65), (0.8, 0.1, 0.1)]
CLOTHES = [(0.9, 0.2, 0.2), (0.2, 0.3, 0.8), (0.95, 0.8, 0.1), (0.2, 0.7, 0.3), (0.6, 0.2, 0.7), (0.9, 0.2, 0.2)]
FOLIAGE = [(0.16, 0.45, 0.15), (0.4, 0.5, 0.15), (0.8, 0.45, 0.1)]
FACADES = [(0.62, 0.55, 0.5), (0.75, 0.7, 0.6), (0.5, 0.5, 0.55), (0.7, 0.5, 0.4)]
DAYLIGHT = [(1.0, 1.0, 1.0), (1.0, 0.78, 0.58), (0.5, 0.55, 0.85)]


def ground_y(depth: torch.Tensor) -> torch.Tensor:
    """Image y of the ground point at ``depth`` (0 near → bottom, 1 far → just below the horizon)."""
    return HORIZON + 0.03 + (0.97 - HORIZON - 0.03) * (1 - depth)


def road_half_width(y: torch.Tensor) -> torch.Tensor:
    return 0.06 + 1.0 * (y - HORIZON) / (1 - HORIZON)


class StreetsWorld(World):
    """64×128 RGB street scenes; see the module docstring and :data:`PARAMS`."""

    name = "streets"
    H = 64
    W = 128
    params = PARAMS

    # ----- sampling ----------------------------------------------------------------------------------
    def sample(self, n: int, seed: int = 0) -> torch.Tensor:
        """``n`` random scenes (deterministic in ``seed``)."""
        g = torch.Generator().manual_seed(seed)
        u = torch.rand(n, len(self.params), generator=g)
        P = self.lo + (self.hi - self.lo) * u
        fog = torch.where(torch.rand(n, generator=g) < 0.65, 0.0, 0.5 * P[:, self.index("fog")])
        P[:, self.index("fog")] = fog  # 35% of scenes foggy, density up to half the range
        P[:, self.index("time_of_day")] *= torch.where(torch.rand(n, generator=g) < 0.7, 0.3, 1.0)
        rates = {"car": 0.7, "ped": 0.6, "cyc": 0.35}
        for slot, _ in SLOTS:
            kind = slot.rstrip("0123456789")
            P[:, self.index(f"{slot}_present")] = (torch.rand(n, generator=g) < rates[kind]).float()
        return P

    # ----- layout editing -----------------------------------------------------------------------------
    def insert(self, params: torch.Tensor, slot: str, **values: float | torch.Tensor) -> torch.Tensor:
        """Make object ``slot`` (e.g. ``"car1"``) present with the given parameters (others unchanged)."""
        self._check_slot(slot)
        out = self.set(params, f"{slot}_present", 1.0)
        for k, v in values.items():
            out = self.set(out, f"{slot}_{k}", v)
        return self.validate(out)

    def remove(self, params: torch.Tensor, slot: str) -> torch.Tensor:
        """Remove object ``slot`` from every scene."""
        self._check_slot(slot)
        return self.set(params, f"{slot}_present", 0.0)

    def move(
        self,
        params: torch.Tensor,
        slot: str,
        x: float | torch.Tensor | None = None,
        depth: float | torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Move object ``slot`` to lateral position ``x`` and/or ``depth`` (clamped to the valid range)."""
        self._check_slot(slot)
        out = params
        if x is not None:
            out = self.set(out, f"{slot}_x", x)
        if depth is not None:
            out = self.set(out, f"{slot}_depth", depth)
        return self.validate(out)

    def insert_car_beside(
        self, params: torch.Tensor, ped: str = "ped0", car: str = "car0", gap: float = 0.45
    ) -> torch.Tensor:
        """SemanticAdv's street manipulation (seed 000 §4.1): put ``car`` next to pedestrian ``ped``, at its
        depth, on the road side of it."""
        self._check_slot(ped)
        px = self.get(params, f"{ped}_x")
        side = torch.where(px > 0, -1.0, 1.0).to(params)
        cx = (px + side * gap).clamp(-0.85, 0.85)
        return self.insert(params, car, x=cx, depth=self.get(params, f"{ped}_depth").clamp(0, 1))

    def _check_slot(self, slot: str) -> None:
        if slot not in dict(SLOTS):
            raise InputError(f"unknown object slot {slot!r}; known: {', '.join(s for s, _ in SLOTS)}")

    # ----- rendering ----------------------------------------------------------------------------------
    def render(self, params: torch.Tensor, with_labels: bool = False) -> Render:
        P = self.validate(params)
        B = P.shape[0]
        dt, dev = P.dtype, P.device
        g = {d.name: P[:, i] for i, d in enumerate(self.params)}
        grid = R.pixel_grid(self.H, self.W, dt, dev)
        p = grid.expand(B, -1, -1, -1)
        pair = lambda x, y: torch.stack([x, y], dim=-1)
        z = torch.zeros(B, dtype=dt, device=dev)
        col = lambda c: torch.tensor(c, dtype=dt, device=dev).expand(B, 3)
        tau = TAU

        sky = R.linear_gradient(p, pair(z, z), pair(z, z + HORIZON), col((0.35, 0.55, 0.9)), col((0.75, 0.85, 0.95)))
        canvas = R.Canvas(sky, track_labels=with_labels)
        # buildings on the horizon
        facade = _palette(g["building_color"], FACADES)
        bw = 2.0 / N_BUILDINGS
        for i in range(N_BUILDINGS):
            h = g[f"building{i}_height"]
            cx = z + bw * (i + 0.5)
            d = R.sdf_box(p, pair(cx, HORIZON + 0.03 - h / 2), pair(z + bw * 0.46, h / 2 + 0.005))
            shade = 0.85 + 0.15 * ((i * 37) % 5) / 4
            canvas.paint(R.coverage(d, tau), facade * shade, BUILDING)
        # terrain (grass), sidewalk band and road
        terrain = HORIZON + 0.02 - p[:, 1]
        canvas.paint(R.coverage(terrain, tau), col((0.35, 0.5, 0.25)), VEGETATION)
        yb = torch.full((B,), 1.05, dtype=dt, device=dev)
        yt = torch.full((B,), HORIZON + 0.02, dtype=dt, device=dev)

        def trapezoid(extra: float) -> torch.Tensor:
            hb, ht = road_half_width(yb) + extra, road_half_width(yt) + extra * 0.15
            v = torch.stack([pair(1 - ht, yt), pair(1 + ht, yt), pair(1 + hb, yb), pair(1 - hb, yb)], dim=1)
            return R.sdf_polygon(p, v)

        canvas.paint(R.coverage(trapezoid(0.45), tau), col((0.7, 0.68, 0.64)), SIDEWALK)
        canvas.paint(R.coverage(trapezoid(0.0), tau), col((0.33, 0.33, 0.35)), ROAD)
        lane = R.sdf_polygon(
            p,
            torch.stack(
                [pair(1 - 0.003 + z, yt), pair(1 + 0.003 + z, yt), pair(1 + 0.02 + z, yb), pair(1 - 0.02 + z, yb)],
                dim=1,
            ),
        )
        canvas.paint(R.coverage(lane, tau) * 0.9, col((0.95, 0.95, 0.85)), ROAD)
        # trees behind the objects, near the horizon
        leaf = _palette(g["foliage_color"], FOLIAGE)
        for i in range(N_TREES):
            tx = g[f"tree{i}_x"]
            base = z + HORIZON + 0.06
            trunk = R.sdf_segment(p, pair(tx, base), pair(tx, base - 0.12), 0.008)
            canvas.paint(R.coverage(trunk, tau), col((0.35, 0.25, 0.15)), VEGETATION)
            r = 0.045 + 0.06 * g["foliage_density"]
            crown = R.sdf_ellipse(p, pair(tx, base - 0.13 - 0.3 * r), pair(r * 1.1, r))
            canvas.paint(R.coverage(crown, tau), leaf, VEGETATION)

        # dynamic objects: premultiplied RGBA per slot, composited far to near
        layers_a, layers_c, depths = [], [], []
        for slot, _cls in SLOTS:
            A, C = self._object(slot, g, p, B, dt, dev, tau)
            pres = g[f"{slot}_present"].reshape(B, 1, 1)
            layers_a.append(A * pres)
            layers_c.append(C * pres[:, None])
            depths.append(g[f"{slot}_depth"])
        A = torch.stack(layers_a, dim=1)  # (B, K, H, W)
        C = torch.stack(layers_c, dim=1)  # (B, K, 3, H, W)
        order = torch.argsort(torch.stack(depths, dim=1).detach(), dim=1, descending=True)
        A = torch.gather(A, 1, order[:, :, None, None].expand_as(A))
        C = torch.gather(C, 1, order[:, :, None, None, None].expand_as(C))
        slot_cls = torch.tensor([c for _, c in SLOTS], device=dev)
        img = canvas.img
        labels, instances = canvas.labels, canvas.instances
        for k in range(len(SLOTS)):
            a = A[:, k, None]
            img = img * (1 - a) + C[:, k]
            if labels is not None and instances is not None:
                hard = A[:, k].detach() > 0.5
                labels = torch.where(hard, slot_cls[order[:, k]].reshape(B, 1, 1), labels)
                instances = torch.where(hard, order[:, k].reshape(B, 1, 1), instances)
        # weather and time of day
        y = p[:, 1]
        depth = torch.where(y < HORIZON + 0.02, torch.ones_like(y), 1 - (y - HORIZON) / (1 - HORIZON))
        img = R.fog(img, depth, g["fog"], 0.8)
        light = _palette(g["time_of_day"], DAYLIGHT)
        img = R.tint(img, 1 - 0.55 * g["time_of_day"], light).clamp(0.0, 1.0)
        extras: dict[str, torch.Tensor] = {}
        if labels is not None and instances is not None:
            extras = {"boxes": self.boxes(instances), "box_classes": slot_cls.expand(B, -1).clone()}
        return Render(img, labels, instances, extras)

    def _object(
        self,
        slot: str,
        g: dict[str, torch.Tensor],
        p: torch.Tensor,
        B: int,
        dt: torch.dtype,
        dev: torch.device,
        tau: float,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Premultiplied (alpha (B, H, W), colour (B, 3, H, W)) of one object slot."""
        pair = lambda x, y: torch.stack([x, y], dim=-1)
        col = lambda c: torch.tensor(c, dtype=dt, device=dev).expand(B, 3)
        H, W = p.shape[2:4]
        A = torch.zeros(B, H, W, dtype=dt, device=dev)
        C = torch.zeros(B, 3, H, W, dtype=dt, device=dev)

        def paint(d: torch.Tensor, c: torch.Tensor, opacity: torch.Tensor | float = 1.0) -> None:
            nonlocal A, C
            a = R.coverage(d, tau)
            if isinstance(opacity, torch.Tensor):
                a = a * opacity.reshape(B, 1, 1)
            A = A + a * (1 - A)
            C = C * (1 - a[:, None]) + (c[:, :, None, None] if c.dim() == 2 else c) * a[:, None]

        d = g[f"{slot}_depth"]
        yg = ground_y(d)
        s = (yg - HORIZON) / (1 - HORIZON)  # perspective scale
        x = 1 + g[f"{slot}_x"] * road_half_width(yg)
        if slot.startswith("car"):
            yaw, length, height, roof = g[f"{slot}_yaw"], g[f"{slot}_length"], g[f"{slot}_height"], g[f"{slot}_roof"]
            paint_col = _palette(g[f"{slot}_hue"], PAINT) * g[f"{slot}_value"][:, None]
            half_w = s * (0.3 * length * (1 - yaw) + 0.16 * yaw)
            wheel_r = 0.045 * s
            body_h = 0.075 * s * height
            body_y = yg - wheel_r * 0.8 - body_h
            roof_h = 0.05 * s * (0.7 + 0.6 * roof)
            roof_w = half_w * (0.62 - 0.12 * yaw)
            wheels = [
                R.sdf_ellipse(
                    p,
                    pair(x + side * half_w * (0.68 - 0.25 * yaw), yg - wheel_r),
                    pair(wheel_r * (1 - 0.5 * yaw), wheel_r),
                )
                for side in (-1.0, 1.0)
            ]
            paint(torch.minimum(*wheels), col((0.08, 0.08, 0.08)))  # hidden as the car turns to face us
            paint(
                R.sdf_box(p, pair(x, body_y + body_h * 0.45), pair(roof_w, body_h * 0.45 + roof_h), 0.3 * roof_h),
                paint_col * 0.9,
            )
            paint(
                R.sdf_box(p, pair(x, body_y - roof_h * 0.2), pair(roof_w * 0.82, roof_h * 0.65), 0.2 * roof_h),
                col((0.55, 0.7, 0.85)) * 0.7,
            )
            paint(R.sdf_box(p, pair(x, body_y + body_h), pair(half_w, body_h), 0.35 * body_h), paint_col)
            lights = [
                R.sdf_ellipse(
                    p, pair(x + side * half_w * 0.7, body_y + body_h * 0.9), pair(0.02 * s + 0 * x, 0.012 * s + 0 * x)
                )
                for side in (-1.0, 1.0)
            ]
            paint(torch.minimum(*lights), col((1.0, 0.95, 0.6)), opacity=yaw.clamp(0, 1))  # seen from the front
        else:
            scale = s * (g[f"{slot}_height"] if slot.startswith("ped") else torch.ones_like(s))
            clothes = _palette(g[f"{slot}_hue"], CLOTHES)
            skin = col((0.85, 0.65, 0.5))
            body = 0.3 * scale  # person height in image units
            hip = yg - 0.45 * body
            if slot.startswith("cyc"):
                wr = 0.08 * s
                wheels = [
                    R.ring(R.sdf_ellipse(p, pair(x + side * 0.1 * s, yg - wr), pair(wr, wr)), 0.01 * s)
                    for side in (-1.0, 1.0)
                ]
                paint(torch.minimum(*wheels), col((0.1, 0.1, 0.1)))
                paint(
                    R.sdf_segment(p, pair(x - 0.1 * s, yg - wr), pair(x + 0.1 * s, yg - wr), 0.008 * s),
                    col((0.2, 0.2, 0.2)),
                )
                hip = yg - wr - 0.12 * s
                body = 0.3 * s
                paint(R.sdf_segment(p, pair(x, hip), pair(x + 0.06 * s, yg - wr), 0.018 * s), col((0.15, 0.15, 0.3)))
            else:
                legs = [
                    R.sdf_segment(p, pair(x + side * 0.01 * s, hip), pair(x + side * 0.03 * s, yg), 0.017 * s)
                    for side in (-1.0, 1.0)
                ]
                paint(torch.minimum(*legs), col((0.15, 0.15, 0.3)))
            shoulder = hip - 0.33 * body
            lean = 0.04 * s if slot.startswith("cyc") else 0.0 * s
            paint(R.sdf_segment(p, pair(x, hip), pair(x + lean, shoulder), 0.045 * s), clothes)
            paint(
                R.sdf_ellipse(
                    p, pair(x + lean, shoulder - 0.07 * body - 0.02 * s), pair(0.032 * s + 0.004, 0.036 * s + 0.004)
                ),
                skin,
            )
        return A, C

    truth_kinds = ("boxes", "mask")

    def move_truth(
        self, before: torch.Tensor, after: torch.Tensor, truth: torch.Tensor, kind: str, render: Render
    ) -> torch.Tensor:
        """Exact ground truth of the changed scenes. ``"mask"``: the re-rendered class map. ``"boxes"``: truth
        with one row per object slot (:data:`SLOTS`, as the rendering recipe's targets are) keeps each row's
        class and takes the object's re-rendered box; a row becomes NaN when it was NaN or the object is no
        longer visible or smaller than :data:`MIN_BOX` (it left the frame or hides behind another)."""
        if kind == "mask":
            assert render.labels is not None
            return render.labels
        if kind != "boxes":
            return super().move_truth(before, after, truth, kind, render)
        if truth.dim() != 3 or truth.shape[1:] != (len(SLOTS), 5):
            raise IncompatibleError(
                f"the streets world moves boxes slot by slot: truth must be (B, {len(SLOTS)}, 5), one row per "
                f"object slot; got {tuple(truth.shape)}"
            )
        new = render.extras["boxes"].to(truth)
        wh = new[..., 2:] - new[..., :2]
        ok = ~truth[..., 0].isnan() & ~new.isnan().any(-1) & (wh >= MIN_BOX).all(-1)
        out = torch.cat([new, truth[..., 4:5]], -1)
        return torch.where(ok[..., None], out, torch.full_like(out, float("nan")))

    def boxes(self, instances: torch.Tensor) -> torch.Tensor:
        """(B, slots, 4) pixel boxes (x0, y0, x1, y1) of each slot's visible pixels; NaN when not visible."""
        B, H, W = instances.shape
        out = torch.full((B, len(SLOTS), 4), float("nan"))
        ys = torch.arange(H).reshape(1, H, 1).expand(B, H, W)
        xs = torch.arange(W).reshape(1, 1, W).expand(B, H, W)
        for k in range(len(SLOTS)):
            m = instances == k
            any_ = m.flatten(1).any(1)
            big = torch.tensor(10**6)
            x0 = torch.where(m, xs, big).flatten(1).amin(1)
            y0 = torch.where(m, ys, big).flatten(1).amin(1)
            x1 = torch.where(m, xs, -big).flatten(1).amax(1) + 1
            y1 = torch.where(m, ys, -big).flatten(1).amax(1) + 1
            box = torch.stack([x0, y0, x1, y1], dim=1).float()
            out[:, k] = torch.where(any_[:, None], box, torch.full_like(box, float("nan")))
        return out


# ----- seed 003's semantic parameter groups ----------------------------------------------------------------
#: the six groups of seed 003 §4.1 and this world's parameters in each (all car slots for per-car groups)
SAE_GROUPS: dict[str, tuple[str, ...]] = {
    "colour": tuple(f"car{k}_{p}" for k in range(N_CARS) for p in ("hue", "value")),
    "weather": ("fog", "time_of_day"),
    "foliage": ("foliage_density", "foliage_color"),
    "rotate": tuple(f"car{k}_yaw" for k in range(N_CARS)),
    "translate": tuple(f"car{k}_{p}" for k in range(N_CARS) for p in ("x", "depth")),
    "mesh": tuple(f"car{k}_{p}" for k in range(N_CARS) for p in ("length", "height", "roof")),
}
#: per-group step sizes in normalised units (fractions of each parameter's range), seed 003 §4.2
SAE_STEPS: dict[str, float] = {
    "colour": 0.05,
    "weather": 0.25,
    "foliage": 0.10,
    "rotate": 0.01,
    "translate": 0.01,
    "mesh": 0.025,
}


def sae_budgets(
    groups: tuple[str, ...] | list[str], multiple: float = 1.0, steps: dict[str, float] | None = None
) -> dict[str, float]:
    """Per-parameter budgets (physical units) for a RenderSpace over ``groups``: ``multiple`` × the group's
    normalised step × the parameter's range. With ``multiple = 1`` one sFGSM step moves every parameter by
    exactly its group's step; with ``multiple = k`` the box holds k such steps (iterative sFGSM / sPGD)."""
    steps = SAE_STEPS if steps is None else steps
    world = StreetsWorld()
    out: dict[str, float] = {}
    for gname in groups:
        if gname not in SAE_GROUPS:
            raise InputError(f"unknown parameter group {gname!r}; groups: {', '.join(SAE_GROUPS)}")
        if gname not in steps or not steps[gname] > 0:
            raise InputError(f"group {gname!r} needs a step > 0; got {steps.get(gname)!r}")
        for name in SAE_GROUPS[gname]:
            i = world.index(name)
            out[name] = float(multiple * steps[gname] * (world.hi[i] - world.lo[i]))
    return out
