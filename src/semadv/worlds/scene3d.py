"""The **scene3d** world: a small physically based 3D scene rendered differentiably by Mitsuba 3 (seed 003).

One object (a box mesh whose proportions give its class: cube, pillar or slab) stands on a ground plane, lit by
a sky (a constant environment emitter: soft light with contact shadows), seen by a perspective camera.
Parameters: the class (``shape``, not differentiable), the object's pose (``yaw`` in degrees, ``x`` and ``z`` on
the ground), its diffuse colour (``red``, ``green``, ``blue``) and the light (``light_intensity``,
``light_warmth``). Rendering uses Mitsuba's ``llvm_ad_rgb`` variant with the projective path-tracer
``prb_projective`` (``guiding='none'``) so that gradients w.r.t. pose include visibility changes, and is bridged
to PyTorch by ``drjit.wrap``: the returned image is an ordinary differentiable torch tensor, so
:class:`~semadv.spaces.RenderSpace` and every search work on it unchanged. The image is the radiance scaled
linearly into [0, 1) (:data:`EXPOSURE`).

Two findings fixed the pose gradient (checked against finite differences in ``tests/test_render_sae.py``):
Mitsuba's built-in ``cube`` has split vertices, which the projective integrator treats as silhouette edges
(gradients came out ~2× too large), so the object is a watertight PLY box; and delta or small area lights cast
hard shadows whose edge terms this CPU setup did not reproduce (2–4× off), so the light is the sky. Third: a
nonlinear tone curve (1 − exp(−L)) applied after the render made the lateral-translation gradient ~30% too
small (AD/FD 0.7, unchanged by integrator, depth, guiding or sppi); on the linear image it matches within 2%.

Requires the ``render3d`` extra (``pip install 'semadv[render3d]'``) and, on Debian, ``libllvm19`` (Dr.Jit's
LLVM backend; the LLVM 14/15 libraries crash it). Monte Carlo noise is fixed by the ``seed`` given to the world,
so renders are deterministic and finite differences of them are meaningful.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from semadv.errors import InputError
from semadv.worlds.base import ParamDef, Render, World

CLASSES3D: tuple[str, ...] = ("cube", "pillar", "slab")
#: radiance divided by this gives the image (linear; a tone curve 1 − exp(−L) biased the pose gradient)
EXPOSURE = 2.5
#: half-extents (x, y, z) of each class's box
EXTENTS = ((0.45, 0.45, 0.45), (0.25, 0.75, 0.25), (0.7, 0.2, 0.5))

PARAMS3D: tuple[ParamDef, ...] = (
    ParamDef("shape", 0.0, 2.999, "object class: floor(shape) indexes CLASSES3D (not differentiable)"),
    ParamDef("yaw", -60.0, 60.0, "rotation about the vertical axis, degrees (pose)"),
    ParamDef("x", -0.8, 0.8, "lateral position on the ground (pose)"),
    ParamDef("z", -0.6, 0.6, "depth position on the ground (pose)"),
    ParamDef("red", 0.05, 0.95, "diffuse reflectance, red (material colour)"),
    ParamDef("green", 0.05, 0.95, "diffuse reflectance, green"),
    ParamDef("blue", 0.05, 0.95, "diffuse reflectance, blue"),
    ParamDef("light_intensity", 0.4, 1.6, "sky radiance (light)"),
    ParamDef("light_warmth", -0.4, 0.4, "sky tint: negative cool, positive warm (light)"),
)


def mitsuba_available() -> bool:
    """Can Mitsuba's ``llvm_ad_rgb`` variant be loaded here?"""
    try:
        import mitsuba as mi

        mi.set_variant("llvm_ad_rgb")
    except Exception:
        return False
    return True


def _box_ply(mi: Any) -> Path:
    """A watertight box (8 shared vertices, 12 triangles) as a PLY file. Mitsuba's built-in ``cube`` has
    24 split vertices, so the projective integrator sees every face edge as a silhouette and the pose
    gradient came out twice the finite difference; with shared edges they agree (tests/test_render_sae)."""
    path = Path(tempfile.gettempdir()) / "semadv-box-v1.ply"
    if not path.exists():
        v = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], dtype=np.float32)
        f = np.array(
            [[0, 1, 3], [0, 3, 2], [4, 6, 7], [4, 7, 5], [0, 4, 5], [0, 5, 1],
             [2, 3, 7], [2, 7, 6], [0, 2, 6], [0, 6, 4], [1, 5, 7], [1, 7, 3]],
            dtype=np.uint32,
        )  # fmt: skip
        mesh = mi.Mesh("box", vertex_count=8, face_count=12, has_vertex_normals=False, has_vertex_texcoords=False)
        mp = mi.traverse(mesh)
        mp["vertex_positions"] = mi.Float(v.ravel())
        mp["faces"] = mi.UInt32(f.ravel())
        mp.update()
        tmp = path.with_suffix(f".{os.getpid()}.ply")
        mesh.write_ply(str(tmp))
        tmp.replace(path)
    return path


class Scene3DWorld(World):
    """H×W renders of one box on a ground plane; see the module docstring and :data:`PARAMS3D`.

    Args:
        size: image side in pixels. spp: samples per pixel. seed: Monte Carlo seed (fixed ⇒ deterministic).
    """

    name = "scene3d"
    params = PARAMS3D

    def __init__(self, size: int = 32, spp: int = 16, seed: int = 0, integrator: str = "prb_projective") -> None:
        super().__init__()
        if int(size) < 8 or int(spp) < 1:
            raise InputError(f"size must be >= 8 and spp >= 1; got size={size!r}, spp={spp!r}")
        self.H = self.W = int(size)
        self.spp, self.seed, self.integrator = int(spp), int(seed), integrator
        self.integrator_options: dict[str, Any] = {}
        #: gap between the box and the ground (scene units)
        self.lift = 0.005
        self._scene: Any = None

    # ----- Mitsuba scene ----------------------------------------------------------------------------
    def _build(self) -> None:
        if self._scene is not None:
            return
        try:
            import drjit as dr
            import mitsuba as mi

            mi.set_variant("llvm_ad_rgb")
        except Exception as err:  # pragma: no cover - depends on the machine
            raise InputError(
                "the scene3d world needs Mitsuba 3 with the llvm_ad_rgb variant: pip install 'semadv[render3d]' "
                f"and (Debian) apt-get install libllvm19 ({err})"
            ) from err
        T = mi.ScalarTransform4f
        scene = mi.load_dict(
            {
                "type": "scene",
                "integrator": {"type": self.integrator, "guiding": "none", "max_depth": 3, **self.integrator_options}
                if self.integrator == "prb_projective"
                else {"type": self.integrator},
                "sensor": {
                    "type": "perspective",
                    "fov": 40,
                    "to_world": T().look_at(origin=[0, 1.6, 4.2], target=[0, 0.35, 0], up=[0, 1, 0]),
                    "film": {
                        "type": "hdrfilm",
                        "width": self.W,
                        "height": self.H,
                        "rfilter": {"type": "box"},
                        "pixel_format": "rgb",
                        "sample_border": True,
                    },
                    "sampler": {"type": "independent", "sample_count": self.spp},
                },
                "light": {"type": "constant", "radiance": {"type": "rgb", "value": 1.0}},
                "ground": {
                    "type": "rectangle",
                    "to_world": T().rotate([1, 0, 0], -90).scale(6),
                    "bsdf": {"type": "diffuse", "reflectance": {"type": "rgb", "value": [0.45, 0.45, 0.42]}},
                },
                "obj": {
                    "type": "ply",
                    "filename": str(_box_ply(mi)),
                    "face_normals": True,
                    "bsdf": {"type": "diffuse", "reflectance": {"type": "rgb", "value": 0.5}},
                },
            }
        )
        params = mi.traverse(scene)
        self._v0 = mi.Point3f(dr.unravel(mi.Point3f, params["obj.vertex_positions"]))
        self._scene, self._params, self._mi, self._dr = scene, params, mi, dr

        @dr.wrap(source="torch", target="drjit")
        def render_one(theta: Any, extent: Any, seed: int) -> Any:
            g = lambda t, i: dr.gather(mi.Float, t.array, i)
            p = self._params
            e = [g(extent, i) for i in range(3)]
            tr = (
                mi.Transform4f()
                .translate(mi.Point3f(g(theta, 1), e[1] + self.lift, g(theta, 2)))
                .rotate(mi.Vector3f(0, 1, 0), g(theta, 0))
                .scale(mi.Vector3f(e[0], e[1], e[2]))
            )
            p["obj.vertex_positions"] = dr.ravel(tr @ self._v0)
            p["obj.bsdf.reflectance.value"] = mi.Color3f(g(theta, 3), g(theta, 4), g(theta, 5))
            li, warm = g(theta, 6), g(theta, 7)
            p["light.radiance.value"] = mi.Color3f(li * (1 + warm), li, li * (1 - warm))
            p.update()
            return mi.render(self._scene, p, spp=self.spp, seed=seed)  # type: ignore[arg-type]

        self._render_one = render_one

    def render(self, params: torch.Tensor, with_labels: bool = False) -> Render:
        """Render each scene (Mitsuba renders one image per call); differentiable in every parameter but
        ``shape``. ``extras['label']`` holds the class index."""
        P = self.validate(params)
        self._build()
        cls = P[:, 0].detach().floor().long().clamp(0, len(CLASSES3D) - 1)
        images = []
        for b in range(P.shape[0]):
            theta = P[b, 1:].to(torch.float32)
            extent = torch.tensor(EXTENTS[int(cls[b])], dtype=torch.float32)
            radiance = self._render_one(theta, extent, self.seed)
            images.append(radiance.permute(2, 0, 1))
        # linear exposure: radiance never exceeds 2.24 (sky 1.6 × warmth 1.4), so L / EXPOSURE stays in [0, 1)
        img = (torch.stack(images) / EXPOSURE).clamp(0, 1)
        return Render(image=img.to(params.dtype), extras={"label": cls})

    def sample(self, n: int, seed: int = 0) -> torch.Tensor:
        """``n`` random scenes with classes balanced round-robin (deterministic in ``seed``)."""
        g = torch.Generator().manual_seed(seed)
        P = self.lo + (self.hi - self.lo) * torch.rand(n, len(self.params), generator=g)
        P[:, 0] = (torch.arange(n) % len(CLASSES3D)).float() + 0.5
        return P
