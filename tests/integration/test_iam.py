"""IAM's real download, parsing and DataModules, against a generated IAM in the real layout
served over loopback. The fixture knows where it drew every line: parsing must find it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.fixtures.http_server import LoopbackFileServer
from tests.fixtures.iam_fixture import IAMFixture, make_iam_fixture
from text_recognizer.data.download import ChecksumError, DownloadError
from text_recognizer.data.iam import IAM, Region
from text_recognizer.data.iam_lines import IAMLines
from text_recognizer.data.iam_paragraphs import IAMParagraphs
from text_recognizer.data.iam_synthetic_paragraphs import IAMSyntheticParagraphs
from text_recognizer.metadata import iam as iam_metadata
from text_recognizer.metadata import iam_lines as lines_metadata
from text_recognizer.metadata import iam_paragraphs as paragraphs_metadata

pytestmark = pytest.mark.integration
INK_THRESHOLD = 128  # stored forms: ink is darker than this, paper lighter


@pytest.fixture(scope="module")
def fixture(tmp_path_factory) -> IAMFixture:
    return make_iam_fixture(tmp_path_factory.mktemp("served"))


@pytest.fixture(scope="module")
def server(fixture):
    with LoopbackFileServer(fixture.root) as server:
        yield server


def iam_args(server, fixture, tmp_path, **extra) -> dict:
    return {
        "iam_url": f"{server.url}/iamdb.zip",
        "iam_sha256": fixture.sha256,
        "download_dir": tmp_path / "downloaded",
        "batch_size": 3,
        "num_workers": 0,
        **extra,
    }


@pytest.fixture(scope="module")
def prepared(server, fixture, tmp_path_factory):
    """One download + extraction shared by the tests that only read."""
    tmp_path = tmp_path_factory.mktemp("prepared")
    args = iam_args(server, fixture, tmp_path)
    iam = IAM(args)
    iam.prepare_data()
    return iam, args, tmp_path


def decode(row: torch.Tensor, mapping: list[str]) -> str:
    """Label row -> text between <S> and <E>."""
    tokens = [mapping[i] for i in row.tolist()]
    assert tokens[0] == "<S>"
    return "".join(tokens[1 : tokens.index("<E>")])


def dark_box(image) -> tuple[int, int, int, int] | None:
    ys, xs = np.nonzero(np.asarray(image) < INK_THRESHOLD)
    return (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1) if len(xs) else None


# ---------------------------------------------------------------------------- download
def test_download_is_hash_checked_extracted_once_and_cached(server, fixture, tmp_path):
    before = server.requests["/iamdb.zip"]
    iam = IAM(iam_args(server, fixture, tmp_path))
    iam.prepare_data()
    assert server.requests["/iamdb.zip"] == before + 1
    extracted = tmp_path / "downloaded" / "iamdb"
    assert {p.name for p in extracted.iterdir()} == {"forms", "xml", "task"}
    assert not [p for p in (tmp_path / "downloaded").iterdir() if ".tmp" in p.name]
    IAM(iam_args(server, fixture, tmp_path)).prepare_data()  # cached: no second request
    assert server.requests["/iamdb.zip"] == before + 1


def test_wrong_checksum_keeps_nothing(server, fixture, tmp_path):
    iam = IAM(iam_args(server, fixture, tmp_path, iam_sha256="0" * 64))
    with pytest.raises(ChecksumError, match="corrupted or has changed"):
        iam.prepare_data()
    assert [p.name for p in (tmp_path / "downloaded").iterdir()] == []


def test_offline_fails_fast_naming_the_alternative(tmp_path, expect_network_attempt):
    iam = IAM({"download_dir": tmp_path / "downloaded"})  # the real URL
    assert iam.url == iam_metadata.URL
    with pytest.raises(DownloadError, match="Offline alternative: a synthetic handwriting"):
        iam.prepare_data()
    assert expect_network_attempt  # it tried the real host, and the guard refused it
    assert not (tmp_path / "downloaded" / "iamdb").exists()


# ---------------------------------------------------------------------------- parsing
def test_parsing_recovers_the_drawn_lines_exactly(prepared, fixture):
    iam, _, _ = prepared
    assert iam_metadata.DOWNSAMPLE_FACTOR == 2  # the fixture's (and FSDL's) stored size
    assert iam.all_ids == sorted(fixture.forms)
    for form_id, truth in fixture.forms.items():
        assert iam.line_strings_by_id[form_id] == truth.line_texts
        assert iam.line_ink_regions_by_id[form_id] == [Region(*b) for b in truth.line_boxes]
        assert iam.paragraph_string_by_id[form_id] == truth.paragraph_text
        assert iam.load_image(form_id).size == truth.image_size


def test_quotes_and_ampersands_are_decoded(prepared):
    iam, _, _ = prepared
    texts = [t for lines in iam.line_strings_by_id.values() for t in lines]
    assert '"Yes," said the 2 men' in texts  # &quot; in the file
    assert 'jumps "over" the dog.' in texts  # &amp;quot; in the file (double-escaped)
    assert "at the door & left." in texts
    assert not [t for t in texts if "&quot;" in t or "&amp;" in t]


def test_splits_follow_lwitlrt_with_unlisted_forms_in_train(prepared, fixture):
    iam, _, _ = prepared
    for split in ("train", "val", "test"):
        assert sorted(iam.ids_by_split[split]) == fixture.ids(split)
    assert "a01-003" in iam.train_ids  # listed in no split file
    assert iam.split_by_id["n02-082a"] == "test"


def test_padded_regions_contain_the_ink_and_do_not_overlap(prepared, fixture):
    iam, _, _ = prepared
    pad = iam_metadata.LINE_REGION_PADDING_X
    for form_id in fixture.forms:
        inks, regions = iam.line_ink_regions_by_id[form_id], iam.line_regions_by_id[form_id]
        for ink, region in zip(inks, regions):
            assert (region.x1, region.x2) == (ink.x1 - pad, ink.x2 + pad)
            assert ink.y1 - pad <= region.y1 <= ink.y1 and ink.y2 <= region.y2 <= ink.y2 + pad
        for above, below in zip(regions[:-1], regions[1:]):
            assert above.y2 <= below.y1
        paragraph = iam.paragraph_region_by_id[form_id]
        assert paragraph == Region(
            min(r.x1 for r in regions),
            min(r.y1 for r in regions),
            max(r.x2 for r in regions),
            max(r.y2 for r in regions),
        )
        assert paragraph.y1 > fixture.forms[form_id].printed_bottom  # the prompt is left out


def test_crops_have_the_region_shapes_and_show_only_their_ink(prepared, fixture):
    iam, _, _ = prepared
    for form_id in fixture.forms:
        regions = iam.line_regions_by_id[form_id]
        for crop, region, ink in zip(
            iam.line_crops(form_id), regions, iam.line_ink_regions_by_id[form_id]
        ):
            assert crop.mode == "L" and crop.size == (region.width, region.height)
            found = dark_box(crop)  # the ink seen in the JPEG, in crop coordinates
            expected = (
                ink.x1 - region.x1,
                ink.y1 - region.y1,
                ink.x2 - region.x1,
                ink.y2 - region.y1,
            )
            assert found is not None
            assert all(abs(a - b) <= 2 for a, b in zip(found, expected)), (found, expected)
        paragraph = iam.paragraph_region_by_id[form_id]
        crop = iam.paragraph_crop(form_id)
        assert crop.size == (paragraph.width, paragraph.height)
        dark = np.asarray(crop) < INK_THRESHOLD
        inside = np.zeros_like(dark)
        for ink in iam.line_ink_regions_by_id[form_id]:  # +-2 px for JPEG and resampling
            inside[
                max(ink.y1 - paragraph.y1 - 2, 0) : ink.y2 - paragraph.y1 + 2,
                max(ink.x1 - paragraph.x1 - 2, 0) : ink.x2 - paragraph.x1 + 2,
            ] = True
        assert dark.any() and not (dark & ~inside).any()  # no printed text, no rules


# ---------------------------------------------------------------------------- DataModules
def test_iam_lines_datamodule(prepared, fixture, tmp_path):
    _, args, _ = prepared
    data = IAMLines({**args, "processed_dir": tmp_path / "lines"})
    assert data.config()["input_dims"] == lines_metadata.DIMS
    data.prepare_data()
    assert not [p for p in tmp_path.iterdir() if ".tmp" in p.name]  # built atomically
    data.setup()
    for split, dataset in (
        ("train", data.data_train),
        ("val", data.data_val),
        ("test", data.data_test),
    ):
        truth = [t for i in fixture.ids(split) for t in fixture.forms[i].line_texts]
        assert len(dataset) == len(truth)
        if split != "train":  # not shuffled: same order as the forms and their lines
            x, y = next(iter(data.val_dataloader() if split == "val" else data.test_dataloader()))
            assert x.shape == (min(3, len(truth)), *lines_metadata.DIMS)
            assert y.shape == (x.shape[0], lines_metadata.MAX_LABEL_LENGTH)
            assert [decode(row, data.mapping) for row in y] == truth[: x.shape[0]]
            assert x.dtype == torch.float32 and 0 <= x.min() and x.max() <= 1
            assert x.amax(dim=(1, 2, 3)).min() > 0.9  # every line shows ink ~ 1
            assert x.mean() < 0.2  # on a background ~ 0
    x, y = next(iter(data.train_dataloader()))
    assert x.shape == (3, *lines_metadata.DIMS) and y.shape == (3, 89)


def test_iam_lines_sizes_shrink_by_args(prepared, tmp_path):
    _, args, _ = prepared
    data = IAMLines(
        {
            **args,
            "processed_dir": tmp_path / "lines",
            "image_height": 28,
            "image_width": 200,
            "max_label_length": 40,
            "augment_data": False,
        }
    )
    data.prepare_data()
    data.setup()
    x, y = next(iter(data.train_dataloader()))
    assert x.shape == (3, 1, 28, 200) and y.shape == (3, 40)
    assert data.config()["input_dims"] == (1, 28, 200)
    assert data.config()["output_dims"] == (40, 1)


def test_iam_paragraphs_datamodule(prepared, fixture, tmp_path):
    _, args, _ = prepared
    data = IAMParagraphs({**args, "processed_dir": tmp_path / "paragraphs"})
    data.prepare_data()
    data.setup()
    assert data.mapping[-1] == "\n" and data.mapping[:-1] == lines_metadata.MAPPING
    assert [len(d) for d in (data.data_train, data.data_val, data.data_test)] == [
        len(fixture.ids(s)) for s in ("train", "val", "test")
    ]
    x, y = next(iter(data.test_dataloader()))
    assert x.shape == (2, *paragraphs_metadata.DIMS)
    assert y.shape == (2, paragraphs_metadata.MAX_LABEL_LENGTH)
    assert [decode(row, data.mapping) for row in y] == [
        fixture.forms[i].paragraph_text for i in fixture.ids("test")
    ]
    assert x.amax(dim=(1, 2, 3)).min() > 0.9 and x.mean() < 0.1
    x, _ = next(iter(data.train_dataloader()))
    assert x.shape == (3, *paragraphs_metadata.DIMS)


def test_iam_synthetic_paragraphs(prepared, fixture, tmp_path):
    _, args, _ = prepared
    options = {
        **args,
        "processed_dir": tmp_path / "paragraphs",
        "image_height": 192,
        "image_width": 160,
        "lines_processed_dir": tmp_path / "lines",
        "num_synthetic": 8,
        "max_lines": 3,
        "seed": 3,
    }
    data = IAMSyntheticParagraphs(options)
    data.prepare_data()
    data.setup()
    num_real = len(fixture.ids("train"))
    assert len(data.data_train) == num_real + 8
    assert len(data.data_val) == len(fixture.ids("val"))  # validation stays real
    train_lines = {t for i in fixture.ids("train") for t in fixture.forms[i].line_texts}
    counts = set()
    for index in range(8):
        x, y = data.data_synthetic[index]
        assert x.shape == (1, 192, 160) and y.shape == (paragraphs_metadata.MAX_LABEL_LENGTH,)
        lines = decode(y, data.mapping).split("\n")
        assert set(lines) <= train_lines and len(set(lines)) == len(lines)
        counts.add(len(lines))
        image, text = data.data_synthetic.compose(index)
        assert text.split("\n") == lines and image.mode == "L"
    assert counts <= {1, 2, 3} and len(counts) > 1  # random number of lines
    x, y = next(iter(data.train_dataloader()))
    assert x.shape == (3, 1, 192, 160) and y.shape == (3, paragraphs_metadata.MAX_LABEL_LENGTH)

    again = IAMSyntheticParagraphs({**options, "synthetic_only": True, "augment_data": False})
    again.setup()
    assert len(again.data_train) == 8
    for index in range(8):  # same seed, same paragraphs, byte for byte
        first, second = data.data_synthetic.compose(index), again.data_synthetic.compose(index)
        assert first[1] == second[1] and first[0].tobytes() == second[0].tobytes()
    assert torch.equal(again.data_train[0][0], again.data_train[0][0])  # no augmentation
