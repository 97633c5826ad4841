import torch

from sweeplib.measure.data import (
    TensorBatches,
    dataset_sha256,
    make_dataset,
    make_loader,
)


def test_same_seed_same_bytes_other_seed_other_bytes():
    a, b, c = (
        make_dataset(100, 50, 10, seed=7),
        make_dataset(100, 50, 10, seed=7),
        make_dataset(100, 50, 10, seed=8),
    )
    assert dataset_sha256(a) == dataset_sha256(b)
    assert dataset_sha256(a) != dataset_sha256(c)
    for name in a:
        assert torch.equal(a[name], b[name])


def test_shapes_and_labels():
    d = make_dataset(300, 1000, 200, seed=0)
    assert d["X_train"].shape == (1000, 300) and d["X_test"].shape == (200, 300)
    assert set(d["Y_train"].unique().tolist()) == {0, 1}
    assert d["X_train"].dtype == torch.float32


def test_data_does_not_touch_the_global_generator():
    torch.manual_seed(1)
    expected = torch.rand(3)
    torch.manual_seed(1)
    make_dataset(10, 5, 5, seed=0)
    assert torch.equal(torch.rand(3), expected)


def epoch_indices(loader, X):
    seen = []
    for x, _ in loader:
        seen += [int(i) for i in x[:, 0]]
    return seen


def test_both_loaders_visit_every_sample_once_per_epoch():
    X = torch.arange(23, dtype=torch.float32).unsqueeze(1).repeat(1, 3)
    Y = torch.zeros(23, dtype=torch.long)
    torch.manual_seed(0)
    for kind in ("dataloader", "tensor"):
        loader = make_loader(X, Y, kind=kind, batch_size=5, shuffle=True)
        assert len(loader) == 5
        seen = epoch_indices(loader, X)
        assert sorted(seen) == list(range(23))
        assert seen != list(range(23))  # shuffled


def test_tensor_loader_keeps_order_without_shuffle_and_drops_last():
    X = torch.arange(7, dtype=torch.float32).unsqueeze(1)
    loader = TensorBatches(
        X, torch.zeros(7), batch_size=3, shuffle=False, drop_last=True
    )
    assert len(loader) == 2
    assert epoch_indices(loader, X) == [0, 1, 2, 3, 4, 5]


def test_loaders_with_own_generators_shuffle_alike_and_spare_the_global_stream():
    X = torch.arange(30, dtype=torch.float32).unsqueeze(1)
    Y = torch.zeros(30, dtype=torch.long)
    for kind in ("dataloader", "tensor"):
        a, b = (
            make_loader(
                X,
                Y,
                kind=kind,
                batch_size=4,
                shuffle=True,
                generator=torch.Generator().manual_seed(5),
            )
            for _ in range(2)
        )
        torch.manual_seed(1)
        expected = torch.rand(3)
        torch.manual_seed(1)
        # Interleave two epochs of each: their orders match, whatever the other draws.
        first = [
            epoch_indices(a, X),
            epoch_indices(b, X),
            epoch_indices(a, X),
            epoch_indices(b, X),
        ]
        assert first[0] == first[1] and first[2] == first[3] and first[0] != first[2]
        assert torch.equal(torch.rand(3), expected)
