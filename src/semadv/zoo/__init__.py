"""Model zoo: small models trained on the worlds, shipped as safetensors with model cards.

Every entry has an architecture factory, a training recipe (``semadv zoo train NAME``), shipped weights
``weights/NAME.safetensors`` and a card ``weights/NAME.json`` (reproduce command, seed, data, wall time,
metrics, SHA-256). :func:`load` verifies the SHA-256 and loads offline from inside the package.
"""

from semadv.zoo.registry import ModelCard, ZooEntry, cached, card, entries, load, sha256, train

__all__ = ["ModelCard", "ZooEntry", "cached", "card", "entries", "load", "sha256", "train"]
