"""Face embedders for 64×64 faces: residual CNNs with an L2-normalised embedding, trained with a softmax
head or an additive angular margin (ArcFace, Deng et al. 2019) — seed 000's R-50/R-101 × softmax/cosine
analogues at toy scale."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from semadv.zoo.nets_streets import _cbr, _Res


class FaceEmbedder(nn.Module):
    """``blocks`` residual blocks per stage over 3 stages (stride 2 each after a stride-2 stem), global
    pooling, a linear projection to ``dim`` and L2 normalisation. ``forward`` returns unit embeddings."""

    def __init__(self, blocks: int = 1, dim: int = 64, width: int = 32) -> None:
        super().__init__()
        w = width
        layers: list[nn.Module] = [_cbr(3, w, stride=2)]
        for i, c in enumerate((w, 2 * w, 4 * w)):
            cin = w if i == 0 else c // 2
            layers.append(_cbr(cin, c, stride=2))
            layers += [_Res(c, 1) for _ in range(blocks)]
        self.features = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.proj = nn.Sequential(nn.Linear(4 * w, dim), nn.BatchNorm1d(dim))
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.proj(self.features(x)), dim=1)


class MarginHead(nn.Module):
    """Classification head on unit embeddings: plain softmax on scaled cosines (margin 0) or ArcFace
    (cos(θ + m) for the true class), scale s."""

    def __init__(self, dim: int, classes: int, margin: float = 0.0, scale: float = 16.0) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(classes, dim) * 0.01)
        self.margin, self.scale = margin, scale

    def forward(self, emb: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        cos = emb @ F.normalize(self.weight, dim=1).T
        if self.margin > 0:
            theta = torch.acos(cos.clamp(-1 + 1e-6, 1 - 1e-6))
            target = torch.cos(theta + self.margin)
            onehot = F.one_hot(labels, cos.shape[1]).bool()
            cos = torch.where(onehot, target, cos)
        return F.cross_entropy(self.scale * cos, labels)


class AttributeNet(nn.Module):
    """Multi-label attribute classifier (all binary face attributes): logits (B, n_attributes)."""

    def __init__(self, n_attributes: int = 14, width: int = 32) -> None:
        super().__init__()
        w = width
        self.net = nn.Sequential(
            _cbr(3, w, stride=2),
            _Res(w, 1),
            _cbr(w, 2 * w, stride=2),
            _Res(2 * w, 1),
            _cbr(2 * w, 4 * w, stride=2),
            _Res(4 * w, 1),
            nn.AdaptiveAvgPool2d(2),
            nn.Flatten(),
            nn.Linear(16 * w, 128),
            nn.ReLU(),
            nn.Linear(128, n_attributes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class IdentityJudge(nn.Module):
    """Independent identity judge: a GroupNorm/SiLU network with a wide stem and max pooling (unlike the
    victims' BatchNorm residual nets); unit embeddings of dimension 96."""

    def __init__(self, dim: int = 96, width: int = 40) -> None:
        super().__init__()
        w = width
        gn = lambda c: nn.GroupNorm(8, c)
        self.features = nn.Sequential(
            nn.Conv2d(3, w, 5, padding=2),
            gn(w),
            nn.SiLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(w, 2 * w, 3, padding=1),
            gn(2 * w),
            nn.SiLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(2 * w, 3 * w, 3, padding=1),
            gn(3 * w),
            nn.SiLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(3 * w, 4 * w, 3, padding=1),
            gn(4 * w),
            nn.SiLU(),
            nn.AdaptiveMaxPool2d(1),
            nn.Flatten(),
        )
        self.proj = nn.Sequential(nn.Linear(4 * w, dim), nn.BatchNorm1d(dim))
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.proj(self.features(x)), dim=1)


class LandmarkNet(nn.Module):
    """Heat-map landmark detector (FAN-like hourglass-lite): 64×64 image → K heat-maps at 32×32; landmark
    coordinates (in pixels) by a differentiable soft-argmax, so attacks can differentiate through them."""

    def __init__(self, n_landmarks: int = 23, width: int = 32) -> None:
        super().__init__()
        w = width
        self.down1 = nn.Sequential(_cbr(3, w, stride=2), _Res(w, 1))  # 32
        self.down2 = nn.Sequential(_cbr(w, 2 * w, stride=2), _Res(2 * w, 1))  # 16
        self.down3 = nn.Sequential(_cbr(2 * w, 4 * w, stride=2), _Res(4 * w, 2))  # 8
        self.up2 = _cbr(4 * w + 2 * w, 2 * w)
        self.up1 = _cbr(2 * w + w, 2 * w)
        self.head = nn.Conv2d(2 * w, n_landmarks, 1)
        self.n = n_landmarks

    def heatmaps(self, x: torch.Tensor) -> torch.Tensor:
        a = self.down1(x)
        b = self.down2(a)
        c = self.down3(b)
        u = self.up2(torch.cat([F.interpolate(c, size=b.shape[-2:], mode="nearest"), b], 1))
        u = self.up1(torch.cat([F.interpolate(u, size=a.shape[-2:], mode="nearest"), a], 1))
        return self.head(u)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Landmarks (B, K, 2) in pixel coordinates of the input (x, y)."""
        h = self.heatmaps(x)
        B, K, H, W = h.shape
        p = torch.softmax(h.flatten(2), -1).reshape(B, K, H, W)
        scale = x.shape[-1] / W
        xs = (torch.arange(W, dtype=x.dtype) + 0.5) * scale
        ys = (torch.arange(H, dtype=x.dtype) + 0.5) * scale
        return torch.stack([(p.sum(2) * xs).sum(-1), (p.sum(3) * ys).sum(-1)], -1)


class AttributeEditor(nn.Module):
    """StarGAN-like attribute-conditional editor G(x, c) = G_dec(G_enc(x, c)) (Choi et al. 2018): the
    encoder sees the image and the target attribute vector c (broadcast as channels) and returns the
    intermediate feature map that SemanticAdv interpolates (seed 000 Eq. 2); the decoder renders it."""

    def __init__(self, n_attributes: int = 17, width: int = 32) -> None:
        super().__init__()
        w = width
        self.n_attributes = n_attributes
        self.enc = nn.Sequential(
            _cbr(3 + n_attributes, w),
            _cbr(w, 2 * w, stride=2),
            _cbr(2 * w, 4 * w, stride=2),
        )
        # c is injected again at the bottleneck (global edits such as pose and hair colour need it there)
        self.mix = nn.Sequential(_cbr(4 * w + n_attributes, 4 * w), _Res(4 * w, 1), _Res(4 * w, 2))
        self.dec = nn.Sequential(
            _Res(4 * w, 1),
            nn.Upsample(scale_factor=2, mode="nearest"),
            _cbr(4 * w, 2 * w),
            nn.Upsample(scale_factor=2, mode="nearest"),
            _cbr(2 * w, w),
            nn.Conv2d(w, 3, 3, padding=1),
        )

    def encode(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """Feature map (B, 4·width, 16, 16) of image ``x`` for target attributes ``c`` (B, n_attributes)."""
        cmap = c[:, :, None, None].expand(-1, -1, *x.shape[-2:])
        f = self.enc(torch.cat([x, cmap], 1))
        return self.mix(torch.cat([f, c[:, :, None, None].expand(-1, -1, *f.shape[-2:])], 1))

    def decode(self, f: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.dec(f))

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x, c))


class StyleGenerator(nn.Module):
    """Style-based generator with the StyleGAN interface z → w → image (Karras et al. 2019): a mapping MLP
    z ↦ w and a synthesis network whose convolutions are modulated by w (AdaIN on a learned constant).
    Trained as a VAE (``encoder`` image → q(z|x); see the zoo card), which also gives the inversion
    ``invert(x) → w``."""

    directions: torch.Tensor

    def __init__(self, zdim: int = 64, wdim: int = 64, width: int = 64) -> None:
        super().__init__()
        self.zdim, self.wdim = zdim, wdim
        self.mapping = nn.Sequential(
            nn.Linear(zdim, wdim), nn.LeakyReLU(0.2), nn.Linear(wdim, wdim), nn.LeakyReLU(0.2), nn.Linear(wdim, wdim)
        )
        self.const = nn.Parameter(torch.randn(1, width, 4, 4) * 0.1)
        chans = [width, width, width // 2, width // 2, width // 4]  # 4 → 8 → 16 → 32 → 64
        self.convs = nn.ModuleList([nn.Conv2d(chans[i], chans[i + 1], 3, padding=1) for i in range(4)])
        self.styles = nn.ModuleList([nn.Linear(wdim, 2 * chans[i + 1]) for i in range(4)])
        self.to_rgb = nn.Conv2d(chans[-1], 3, 1)
        #: InterFaceGAN attribute directions in w (unit rows, one per binary attribute; zero if none found)
        self.register_buffer("directions", torch.zeros(14, wdim))
        self.encoder = nn.Sequential(
            _cbr(3, 32, stride=2),
            _cbr(32, 64, stride=2),
            _cbr(64, 128, stride=2),
            _cbr(128, 128, stride=2),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(128, 2 * zdim),
        )

    def synthesis(self, w: torch.Tensor) -> torch.Tensor:
        x = self.const.expand(len(w), -1, -1, -1)
        for conv, style in zip(self.convs, self.styles, strict=True):
            x = conv(F.interpolate(x, scale_factor=2, mode="nearest"))
            gamma, beta = style(w).chunk(2, dim=1)
            x = F.instance_norm(x) * (1 + gamma[:, :, None, None]) + beta[:, :, None, None]
            x = F.leaky_relu(x, 0.2)
        return torch.sigmoid(self.to_rgb(x))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.synthesis(self.mapping(z))

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.encoder(x).chunk(2, dim=1)
        return mu, logvar.clamp(-8, 4)

    def invert(self, x: torch.Tensor) -> torch.Tensor:
        """w of a face: mapping(μ(x))."""
        return self.mapping(self.encode(x)[0])
