"""The shipped quadrature rule files (symlearn/symmetry/rules/data/graef, NOTICE.md):
each is exact to the degree it claims once polished, and to about 1e-11 as read; it
fails one degree above; polishing moves it by round-off of the published digits; a
missing or corrupt file is a clear error that names it; ``auto`` takes the smallest
positive-weight rule; a degree no rule of the chosen family reaches is refused at the
start, naming the key."""

from __future__ import annotations

import numpy as np
import pytest

from symlearn.settings.checks import semantic_errors
from symlearn.symmetry import o3_quadrature
from symlearn.symmetry.rules import (
    CHOICES,
    FAMILIES,
    NoRule,
    _files,
    _polish,
    _product,
    choose,
    graef_s2,
    graef_so3,
    largest_degree,
)

SO3_FILES = [(t, n, path) for t, (n, path) in _files.catalogue("graef", "so3_gauss").items()]
S2_FILES = [(t, n, path) for t, (n, path) in _files.catalogue("graef", "s2_gauss").items()]


def _rotations(path, size, sphere):
    if sphere:
        (theta, phi), weights = _files.load(path, 3, size)
        return _product.zyz_matrices(phi, theta, np.zeros_like(phi)), weights
    angles, weights = _files.load(path, 4, size)
    return _product.zyz_matrices(*angles), weights


def test_every_file_expected_is_shipped_with_its_notice():
    assert [t for t, _, _ in SO3_FILES] == [1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 14]
    assert [t for t, _, _ in S2_FILES] == list(range(1, 31))
    assert {t: n for t, n, _ in SO3_FILES}[8] == 240
    assert {t: n for t, n, _ in S2_FILES}[12] == 58
    folder = _files.DATA / "graef"
    assert "Mozilla Public License" in (folder / "LICENSE-MPL-2.0").read_text()
    assert "tu-chemnitz.de" in (folder / "NOTICE.md").read_text()


@pytest.mark.parametrize("sphere, degree, size, path",
                         [(False, *f) for f in SO3_FILES] + [(True, *f) for f in S2_FILES],
                         ids=[f"so3-{t}" for t, _, _ in SO3_FILES]
                         + [f"s2-{t}" for t, _, _ in S2_FILES])
def test_file_is_exact_to_its_degree_and_not_beyond(sphere, degree, size, path):
    rotations, weights = _rotations(path, size, sphere)
    raw = _polish.moments(rotations, weights, degree, sphere=sphere)
    assert raw.max() < 1e-10, raw  # the published digits
    polished, new_weights, residual = _polish.polish(rotations, weights, degree, sphere)
    moments = _polish.moments(polished, new_weights, degree + 1, sphere=sphere)
    assert residual == pytest.approx(moments[:-1].max())
    assert moments[:-1].max() < 1e-15, moments
    assert moments[-1] > 1e-2, moments  # one degree more is not integrated
    # the published rule, to its digits: nothing moves by more than 1e-9
    assert np.abs(polished - rotations).max() < 1e-9
    assert np.abs(new_weights - weights).max() < 1e-10


@pytest.mark.parametrize("family", ["graef_so3", "graef_s2"])
def test_built_rules_hold_the_identity_first_and_stay_exact(family):
    rotations, weights = FAMILIES[family].build(8)
    assert (rotations[0] == np.eye(3)).all()
    assert _polish.moments(rotations, weights, 8).max() < 1e-15


def _broken_rules(tmp_path, monkeypatch, name, data):
    folder = tmp_path / "graef"
    folder.mkdir(exist_ok=True)
    np.save(folder / name, data)
    monkeypatch.setattr(_files, "DATA", tmp_path)
    _files.catalogue.cache_clear()
    graef_so3.build.cache_clear()
    graef_s2.sphere_rule.cache_clear()


@pytest.fixture
def restore_caches():
    yield
    _files.catalogue.cache_clear()
    _files.positive.cache_clear()
    graef_so3.build.cache_clear()
    graef_s2.sphere_rule.cache_clear()
    o3_quadrature.cache_clear()


def test_a_missing_rule_file_names_it(tmp_path, monkeypatch, restore_caches):
    path = SO3_FILES[7][2]
    monkeypatch.setattr(_files, "DATA", tmp_path)
    with pytest.raises(_files.RuleFileError, match=r"missing.*reinstall"):
        _files.load(tmp_path / path.name, 4, 240)


@pytest.mark.parametrize("change, message", [
    (lambda d: d[:, :-1], r"needs shape \(4, 240\), the file holds \(4, 239\)"),
    (lambda d: d[:3], r"needs shape \(4, 240\)"),
    (lambda d: np.where(np.arange(240) == 5, np.nan, d), "non-finite"),
    (lambda d: np.vstack([d[:3], 2 * d[3:]]), "must sum to 1; they sum to 2"),
    (lambda d: np.vstack([np.random.default_rng(0).uniform(0, 3, (3, 240)), d[3:]]),
     r"does not integrate degree 8 \(largest moment .* after polishing\): the file is "
     "corrupt"),
], ids=["truncated", "rows", "nan", "weights", "not-a-rule"])
def test_a_corrupt_rule_file_names_it(tmp_path, monkeypatch, restore_caches, change,
                                      message):
    degree, size, path = SO3_FILES[7]
    data = change(np.load(path))
    name = f"so3_gauss_size{size}_degree{degree}.npy"
    _broken_rules(tmp_path, monkeypatch, name, data)
    with pytest.raises(_files.RuleFileError, match=message) as error:
        graef_so3.build(8)
    assert name in str(error.value)


def test_an_unreadable_rule_file_names_it(tmp_path, monkeypatch, restore_caches):
    _broken_rules(tmp_path, monkeypatch, "so3_gauss_size240_degree8.npy", np.zeros(3))
    path = tmp_path / "graef" / "so3_gauss_size240_degree8.npy"
    path.write_bytes(b"\x93NUMPY garbage")
    with pytest.raises(_files.RuleFileError, match=r"so3_gauss_size240_degree8.npy: not a "
                                                   "readable .npy"):
        graef_so3.build(8)


def test_auto_passes_over_negative_weights():
    """Gräf's sphere rules of degree 18 and 24 have negative weights, and so does SciPy's
    Lebedev rule of order 13: auto never takes them."""
    assert not graef_s2.smallest(18)[3] and not FAMILIES["lebedev"].smallest(12)[3]
    assert graef_s2.smallest(18, positive=True)[1] == 130 * 19  # degree 19's nodes
    for degree in range(0, 31):
        family, exactness, n_proper, _ = choose(degree)
        assert FAMILIES[family].smallest(degree, positive=True)[1] == n_proper, degree
        assert exactness >= degree


def test_a_degree_no_rule_reaches():
    assert largest_degree("graef_so3") == 14 and largest_degree("graef_s2") == 30
    assert largest_degree("auto") == largest_degree("lebedev") == 131
    with pytest.raises(NoRule, match=r"no graef_s2 .* degree 40 \(the largest is 30\); "
                                     "analysis.quadrature: auto"):
        choose(40, "graef_s2")
    with pytest.raises(NoRule, match="unknown quadrature rule 'gauss'; known: auto"):
        choose(8, "gauss")
    assert CHOICES == ("auto", "lebedev", "graef_so3", "graef_s2")


def test_config_refuses_a_degree_the_chosen_rule_lacks(default_config):
    config = dict(default_config)
    config["analysis"] = dict(config["analysis"], quadrature="graef_so3")
    config["analysis"]["pet"] = dict(config["analysis"]["pet"], grid_degree=16)
    errors = semantic_errors(config)
    assert any(e.startswith("analysis.pet.grid_degree: asks for a grid of degree 16; "
                            "analysis.quadrature graef_so3 reaches degree 14 at most "
                            "(auto chooses among every rule)") for e in errors), errors
    config["analysis"]["quadrature"] = "auto"
    assert not [e for e in semantic_errors(config) if "quadrature" in e]


def test_the_lebedev_orders_written_out_are_scipys():
    """``lebedev.ORDERS`` spares the workflow's start trying every order; it must be
    exactly the orders SciPy's lebedev_rule has."""
    from scipy.integrate import lebedev_rule

    from symlearn.symmetry.rules import lebedev

    found = []
    for order in range(1, 140):
        try:
            lebedev_rule(order)
        except (NotImplementedError, ValueError):
            continue
        found.append(order)
    assert tuple(found) == lebedev.ORDERS
