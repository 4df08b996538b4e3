"""The input a model is traced on: a tensor or array file, a photograph, or scikit-learn's bundled ones.

``load_input(spec, input_shape)`` -> (tensor, description), ``spec`` as a recipe's ``activations``:

* ``sample:china`` / ``sample:flower``: the two photographs scikit-learn ships
  (``sklearn.datasets.load_sample_image``, 427 x 640 RGB); ``sample:digits``: the first test image
  of its bundled digits, for the small digits models;
* an image file (.png, .jpg, .jpeg, .bmp), read with Pillow;
* a ``.npy`` array or a ``.pt`` tensor, batch first, used as it is.

A photograph is prepared as torchvision's ImageNet models expect: the centre square cropped,
resized (bilinear, antialiased) to the model's H x W, scaled to [0, 1], normalised with the ImageNet
mean and std per channel; a 1-channel model gets the luminance (ITU-R 601), normalised by its own
mean and std.  One image is a batch of 1.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812

from accelsim.errors import AccelsimError
from accelsim.spec.recipe import IMAGE_SUFFIXES

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def load_input(spec: str, input_shape: tuple[int, ...] | None) -> tuple[torch.Tensor, str]:
    """(tensor batch first, a description for the layers' activation-density source)."""
    if spec == "sample:digits":
        return _digit(input_shape)
    if spec.startswith("sample:"):
        from sklearn.datasets import load_sample_image

        name = spec.split(":", 1)[1]
        return _photo(load_sample_image(f"{name}.jpg"), input_shape, f"scikit-learn's photograph {name}.jpg")
    path = Path(spec)
    if path.suffix.lower() in IMAGE_SUFFIXES:
        from PIL import Image

        with Image.open(path) as image:
            pixels = np.asarray(image.convert("RGB"))
        return _photo(pixels, input_shape, f"the image {path.name}")
    if path.suffix == ".npy":
        tensor = torch.from_numpy(np.load(path, allow_pickle=False))
    else:
        tensor = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(tensor, torch.Tensor) or tensor.dim() < 2:
        raise AccelsimError(f"{spec}: does not hold one tensor of shape (batch, *input_shape)")
    return tensor.float() if tensor.is_floating_point() else tensor, f"the user input tensor in {path.name}"


def _digit(input_shape: tuple[int, ...] | None) -> tuple[torch.Tensor, str]:
    """The first test image of scikit-learn's digits (seed 0 split), standardised as the small models
    are trained (pruning/training.py), flat (64,) or as an image (1, 8, 8)."""
    from accelsim.workload.pruning.training import load_digits_split

    x = load_digits_split(0).x_test[:1]
    if input_shape is not None and tuple(input_shape) == (1, 8, 8):
        x = x.reshape(1, 1, 8, 8)
    elif input_shape is None or tuple(input_shape) != (64,):
        raise AccelsimError(f"sample:digits feeds a model of input shape (64,) or (1, 8, 8), not"
                            f" {input_shape}")
    return x.contiguous(), "the first test image of scikit-learn's digits (8x8), standardised as in training"


def _photo(pixels: np.ndarray, input_shape: tuple[int, ...] | None, what: str) -> tuple[torch.Tensor, str]:
    if input_shape is None or len(input_shape) != 3 or input_shape[0] not in (1, 3):
        raise AccelsimError(f"{what}: a photograph feeds a model of input shape (1 or 3, H, W), not "
                            f"{input_shape}; give a .pt or .npy tensor instead")
    channels, h, w = input_shape
    x = torch.from_numpy(np.array(pixels, dtype=np.float32)).permute(2, 0, 1) / 255.0  # C, H, W in [0, 1]
    side = min(x.shape[1:])
    top, left = (x.shape[1] - side) // 2, (x.shape[2] - side) // 2
    x = x[:, top:top + side, left:left + side]
    x = F.interpolate(x[None], size=(h, w), mode="bilinear", antialias=True, align_corners=False)[0]
    if channels == 3:
        x = (x - torch.tensor(IMAGENET_MEAN)[:, None, None]) / torch.tensor(IMAGENET_STD)[:, None, None]
        how = "ImageNet-normalised"
    else:
        x = (0.299 * x[0] + 0.587 * x[1] + 0.114 * x[2])[None]
        x = (x - x.mean()) / x.std()
        how = "luminance, standardised"
    return x[None].contiguous(), f"{what}, centre-cropped and resized to {h}x{w}, {how}"
