"""Tests of the observation covariance and whitening (METHODS.md section 6)."""

import numpy as np
import pytest

from hma_mascon.weights import Whitener, coefficient_variance_groups, observation_covariance

rng = np.random.default_rng(42)


def test_observation_covariance_equals_error_propagation():
    B = rng.normal(size=(30, 12))
    sig = rng.uniform(0.1, 2.0, 12)
    cov = observation_covariance(B, sig)
    assert np.allclose(cov, B @ np.diag(sig**2) @ B.T)
    # empirical check: covariance of B c with c ~ N(0, diag sig^2)
    c = rng.normal(size=(200000, 12)) * sig
    emp = np.cov((c @ B.T).T)
    assert np.max(np.abs(emp - cov)) / np.max(np.abs(cov)) < 0.03
    full = np.diag(sig**2) + 0.1 * np.outer(sig, sig)
    assert np.allclose(observation_covariance(B, full), B @ full @ B.T)
    with pytest.raises(ValueError, match="columns"):
        observation_covariance(B, sig[:-1])


def test_full_whitener_whitens_and_has_floor():
    # rank-deficient Sigma_y (more observations than coefficients), as for the 0.4 deg grid
    B = rng.normal(size=(40, 15))
    sig = rng.uniform(0.5, 1.5, 15)
    cov = observation_covariance(B, sig)
    w = Whitener(cov, mode="full")
    assert np.isclose(w.nu2, 1e-3 * np.mean(np.diag(cov)))
    # W (Sigma_y + nu^2 I) W^T = I
    wc = w.whiten(w.whiten(cov + w.nu2 * np.eye(40)).T)
    assert np.allclose(wc, np.eye(40), atol=1e-8)
    # P = W^T W = (Sigma + nu^2 I)^-1
    assert np.allclose(w.weight_matrix() @ (cov + w.nu2 * np.eye(40)), np.eye(40), atol=1e-8)
    A = rng.normal(size=(40, 5))
    y = rng.normal(size=(40, 3))
    N, b, ypy = w.normal_equations(A, y)
    P = w.weight_matrix()
    assert np.allclose(N, A.T @ P @ A) and np.allclose(b, A.T @ P @ y)
    assert np.allclose(ypy, np.einsum("ik,ij,jk->k", y, P, y))
    assert w.n_effective == 40


def test_eigen_whitener_rank_and_pseudo_inverse():
    B = rng.normal(size=(40, 15))
    cov = observation_covariance(B, np.ones(15))
    w = Whitener(cov, mode="eigen")
    assert w.n_effective == 15  # rank of B B^T
    P = w.weight_matrix()
    assert np.allclose(P, np.linalg.pinv(cov, rcond=1e-10), atol=1e-8 * np.abs(P).max())
    assert w.whiten(rng.normal(size=(40, 2))).shape == (15, 2)


def test_diagonal_and_identity():
    cov = np.diag([1.0, 4.0, 9.0])
    w = Whitener(cov, mode="diagonal")
    assert np.allclose(w.whiten(np.ones(3)), [1, 0.5, 1 / 3])
    assert np.allclose(Whitener(np.array([1.0, 4.0, 9.0]), mode="diagonal").whiten(np.ones((3, 2)))[:, 1], [1, 0.5, 1 / 3])
    wi = Whitener(mode="identity", n=3)
    assert np.array_equal(wi.whiten(np.arange(3.0)), np.arange(3.0))
    with pytest.raises(ValueError, match="positive"):
        Whitener(np.array([1.0, 0.0]), mode="diagonal")
    with pytest.raises(ValueError, match="rows"):
        w.whiten(np.ones(4))


def test_variance_groups():
    sig = np.array([[1.0, 2.0], [3.0, 2.0], [5.0, 2.0]])
    (label, s, idx), = coefficient_variance_groups(sig, "mean")
    assert np.allclose(s**2, [(1 + 9 + 25) / 3, 4]) and list(idx) == [0, 1, 2]
    groups = coefficient_variance_groups(sig, "mission", mission=["GRACE", "GRACE", "GRACE-FO"])
    assert [g[0] for g in groups] == ["GRACE", "GRACE-FO"]
    assert np.allclose(groups[0][1] ** 2, [5, 4]) and list(groups[1][2]) == [2]
    assert len(coefficient_variance_groups(sig, "monthly")) == 3
    with pytest.raises(ValueError):
        coefficient_variance_groups(sig, "mission")
