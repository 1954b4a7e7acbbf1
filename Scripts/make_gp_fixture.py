#!/usr/bin/env python3
"""Reference numbers for Tests/ADNNTests/TuneTests.swift (a development tool only; needs numpy, scipy).

Gaussian-process regression with a Matérn-5/2 ARD kernel and fixed hyper-parameters, on targets
standardised with their mean and population standard deviation (as sklearn's normalize_y), computed
with scipy's LAPACK Cholesky (Rasmussen & Williams, GPML 2006, Algorithm 2.1, eq. 4.17):

    python3 Scripts/make_gp_fixture.py      # prints the Swift literals pasted into TuneTests.swift
"""
import numpy as np
from scipy.linalg import cho_factor, cho_solve
from scipy.spatial.distance import cdist

X = np.array([[0.1, 0.2], [0.4, 0.9], [0.7, 0.3], [0.9, 0.8], [0.25, 0.6], [0.55, 0.05]])
Y = np.array([0.61, 0.72, 0.55, 0.80, 0.70, 0.52])
XS = np.array([[0.3, 0.3], [0.5, 0.5], [0.95, 0.1], [0.4, 0.9]])
LENGTH = np.array([0.3, 0.5])
SIGNAL, NOISE = 1.5, 1e-3


def matern52(a, b):
    r = cdist(a / LENGTH, b / LENGTH)
    s = np.sqrt(5.0) * r
    return SIGNAL * (1.0 + s + s * s / 3.0) * np.exp(-s)


def main():
    mu, sd = Y.mean(), Y.std()
    y = (Y - mu) / sd
    K = matern52(X, X) + NOISE * np.eye(len(X))
    c = cho_factor(K, lower=True)
    alpha = cho_solve(c, y)
    lml = -0.5 * y @ alpha - np.log(np.diag(c[0])).sum() - 0.5 * len(X) * np.log(2 * np.pi)
    ks = matern52(XS, X)
    mean = mu + sd * ks @ alpha
    var = sd * sd * (SIGNAL - np.einsum("ij,ji->i", ks, cho_solve(c, ks.T)))
    fmt = lambda v: ", ".join(f"{x:.17g}" for x in v)
    print(f"let expectedMean: [Double] = [{fmt(mean)}]")
    print(f"let expectedVariance: [Double] = [{fmt(var)}]")
    print(f"let expectedLogMarginalLikelihood = {lml:.17g}")


if __name__ == "__main__":
    main()
