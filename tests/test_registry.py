import pytest

from headstart.datasets import DATASETS, list_datasets
from headstart.encoders import ENCODERS, create_encoder, list_encoders
from headstart.exceptions import UnknownNameError
from headstart.registry import Registry


def test_unknown_encoder_suggests_close_names():
    with pytest.raises(UnknownNameError, match=r"Did you mean 'efficientnet-lite0'"):
        create_encoder("efficientnet-lite")


def test_unknown_dataset_lists_registered_names():
    with pytest.raises(UnknownNameError, match=r"unknown dataset 'fashion'.*fashion-mnist"):
        DATASETS.create("fashion")


def test_prefixed_names_pass_their_argument():
    registry: Registry[tuple] = Registry("thing")

    @registry.register("hub", prefix=True)
    def make(arg, scale=1):
        """A prefixed factory."""
        return (arg, scale)

    assert registry.create("hub:abc/def", scale=3) == ("abc/def", 3)
    assert "hub:x" in registry and "hub" not in registry
    with pytest.raises(UnknownNameError, match="needs an argument"):
        registry.create("hub:")
    assert registry.names() == ["hub:<name>"]
    assert next(iter(registry)).summary == "A prefixed factory."


def test_listings_cover_the_issue_names():
    assert {"digits", "mnist5k", "fashion-mnist", "image-folder", "csv"} <= {
        n for n, _ in list_datasets()
    }
    names = {n for n, _ in list_encoders()}
    assert {
        "efficientnet-lite0",
        "mobilenetv2",
        "raw-pixels",
        "timm:<name>",
        "open_clip:<name>",
        "hf:<name>",
    } <= names
    assert all(summary for _, summary in list_encoders())
    assert len(ENCODERS.names()) == len(names)
