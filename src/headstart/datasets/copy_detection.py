"""An offline copy-detection set in the manner of INRIA Copydays (the task SEER and "CNN
Features off-the-shelf" report): real photos shipped with scikit-image and scikit-learn, each
copied under seven seeded transformations; the copies are the queries, the originals hide
among distractors, and partial views are junk (neither right nor wrong, as in revisited
Oxford and Paris).

Ids carry the ground truth (the convention `eval instance-retrieval` reads by default):
- `orig/<photo>` — an original, in the gallery (split "train", labelled by photo);
- `copy/<photo>/<transform>` — a query (split "test", labelled by photo), whose one positive
  is `orig/<photo>`;
- `junk/<photo>/<view>` — a partial view of the photo in the gallery (a 25% corner crop; and
  for the left motorcycle, the right camera of the stereo pair), ignored for that photo's
  queries; unlabelled;
- `distractor/<source>-<n>` — unrelated images in the gallery (scikit-image's grey images,
  faces of its LFW subset, scikit-learn's digits), unlabelled.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance, ImageFilter

from headstart.datasets.dataset import Dataset
from headstart.datasets.registry import DATASETS
from headstart.exceptions import DataError

SIDE = 224
PHOTOS = {  # name → (package, file)
    "astronaut": ("skimage", "astronaut.png"),
    "cat": ("skimage", "chelsea.png"),
    "coffee": ("skimage", "coffee.png"),
    "motorcycle": ("skimage", "motorcycle_left.png"),
    "rocket": ("skimage", "rocket.jpg"),
    "hubble": ("skimage", "hubble_deep_field.jpg"),
    "retina": ("skimage", "retina.jpg"),
    "stain": ("skimage", "ihc.png"),
    "china": ("sklearn", "china.jpg"),
    "flower": ("sklearn", "flower.jpg"),
}
GREY = ("brick", "camera", "cell", "coins", "grass", "gravel", "moon", "page", "text")
GREY += ("clock_motion", "microaneurysms", "horse", "logo", "color")
TRANSFORMS = ("crop", "rescale", "jpeg", "blur", "rotate", "colour", "combined")


def _package_file(package: str, name: str) -> Path:
    if package == "skimage":
        try:
            import skimage
        except ImportError as error:
            raise DataError(
                "copy-detection needs scikit-image's sample photos: pip install 'headstart[assets]'"
            ) from error
        return Path(skimage.__file__).parent / "data" / name
    import sklearn

    return Path(sklearn.__file__).parent / "datasets" / "images" / name


def _square(image: Image.Image) -> Image.Image:
    """The centred square of an image, RGB, at SIDE × SIDE."""
    image = image.convert("RGB")
    side = min(image.size)
    left, top = (image.width - side) // 2, (image.height - side) // 2
    return image.crop((left, top, left + side, top + side)).resize((SIDE, SIDE), Image.BICUBIC)


def _jpeg(image: Image.Image, quality: int) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    buffer.seek(0)
    return Image.open(buffer).convert("RGB")


def _crop(image: Image.Image, share: float, rng: np.random.Generator) -> Image.Image:
    """A random window holding `share` of the area, resized back to SIDE."""
    side = round(SIDE * float(np.sqrt(share)))
    left, top = rng.integers(0, SIDE - side + 1, 2)
    window = image.crop((int(left), int(top), int(left) + side, int(top) + side))
    return window.resize((SIDE, SIDE), Image.BICUBIC)


def copy_of(image: Image.Image, transform: str, rng: np.random.Generator) -> Image.Image:
    """One of the seven transformed copies (Copydays' families: crop, scale, JPEG, blur,
    rotation, colour, and all at once)."""
    if transform == "crop":
        return _crop(image, 0.5, rng)
    if transform == "rescale":
        return image.resize((SIDE // 4, SIDE // 4), Image.BILINEAR).resize((SIDE, SIDE))
    if transform == "jpeg":
        return _jpeg(image, 10)
    if transform == "blur":
        return image.filter(ImageFilter.GaussianBlur(3))
    if transform == "rotate":
        return image.rotate(20, resample=Image.BILINEAR)
    if transform == "colour":
        return ImageEnhance.Brightness(ImageEnhance.Color(image).enhance(0.2)).enhance(1.4)
    if transform == "combined":
        return _jpeg(ImageEnhance.Color(_crop(image, 0.7, rng)).enhance(0.5), 30)
    raise ValueError(f"unknown transform {transform!r}")


def _distractors(rng: np.random.Generator) -> list[tuple[str, Image.Image]]:
    out = [
        (f"distractor/{n}", _square(Image.open(_package_file("skimage", f"{n}.png")))) for n in GREY
    ]
    faces = np.load(_package_file("skimage", "lfw_subset.npy"), allow_pickle=False)
    for i in rng.permutation(len(faces))[:150]:
        grey = np.clip(faces[i] * 255.0, 0, 255).astype(np.uint8)
        out.append((f"distractor/face-{i:03d}", _square(Image.fromarray(grey))))
    from sklearn.datasets import load_digits

    digits = load_digits().images
    for i in rng.permutation(len(digits))[:150]:
        grey = np.clip(digits[i] * (255.0 / 16.0), 0, 255).astype(np.uint8)
        out.append((f"distractor/digit-{i:04d}", _square(Image.fromarray(grey))))
    return out


@DATASETS.register(
    "copy-detection",
    "Copydays-style copy detection: 10 bundled photos × 7 transformed copies (queries) among "
    "originals, junk partial views and 314 distractors",
)
def load_copy_detection(seed: int = 0) -> Dataset:
    """The copy-detection set; `seed` draws the crop windows and the distractors."""
    rng = np.random.default_rng(seed)
    ids, images, labels, split = [], [], [], []

    def add(item_id: str, image: Image.Image, label: int, part: str) -> None:
        ids.append(item_id)
        images.append(np.asarray(image, dtype=np.uint8))
        labels.append(label)
        split.append(part)

    for label, (name, (package, file)) in enumerate(PHOTOS.items()):
        original = _square(Image.open(_package_file(package, file)))
        add(f"orig/{name}", original, label, "train")
        for transform in TRANSFORMS:
            add(f"copy/{name}/{transform}", copy_of(original, transform, rng), label, "test")
        corner = original.crop((0, 0, SIDE // 2, SIDE // 2)).resize((SIDE, SIDE), Image.BICUBIC)
        add(f"junk/{name}/corner", corner, -1, "train")
    right = _square(Image.open(_package_file("skimage", "motorcycle_right.png")))
    add("junk/motorcycle/right-camera", right, -1, "train")
    for item_id, image in _distractors(rng):
        add(item_id, image, -1, "train")
    return Dataset(
        name="copy-detection",
        items=np.stack(images),
        labels=np.array(labels),
        class_names=list(PHOTOS),
        ids=ids,
        split=np.array(split, dtype=object),
        source="scikit-image and scikit-learn sample images, transformed by headstart",
        options={"seed": seed},
    )
