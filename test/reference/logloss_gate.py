#!/usr/bin/python3
"""The deploy gate's error rate when it compares classifiers by log loss, in numpy
(test/pgtap/53_logistic.sql measures the same in SQL with stockml.log_loss and
stockml.dm_test):

Null (equal expected log loss): each day x ~ N(0, 1), up ~ Bernoulli(sigmoid(x)),
two classifiers p_a = sigmoid(x + 0.5 u_a), p_b = sigmoid(x + 0.5 u_b) with
independent u ~ N(0, 1): neither is better, so a one-sided Diebold-Mariano test of
d = logloss_a - logloss_b (dm.py's, Newey-West variance, horizon 1) over 250 days
should find B better in alpha of the simulations.  Power: B = sigmoid(x) (the truth)
against A = the base rate 0.5.  Run with Debian's python3; it prints the rates:

    /usr/bin/python3 test/reference/logloss_gate.py
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dm import dm  # noqa: E402

rng = np.random.default_rng(20261204)
eps = np.finfo(float).eps


def logloss(p, up):
    p = np.clip(p, eps, 1 - eps)
    return np.where(up, -np.log(p), -np.log1p(-p))


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


nsim, t = 20000, 250
rej = {0.01: 0, 0.05: 0, 0.10: 0}
power = 0
for _ in range(nsim):
    x = rng.normal(size=t)
    up = rng.uniform(size=t) < sigmoid(x)
    pa = sigmoid(x + 0.5 * rng.normal(size=t))
    pb = sigmoid(x + 0.5 * rng.normal(size=t))
    p = dm(logloss(pa, up) - logloss(pb, up), 1)[4]
    for a in rej:
        rej[a] += p < a
    power += dm(logloss(np.full(t, 0.5), up) - logloss(sigmoid(x), up), 1)[4] < 0.05
print("null, %d simulations of %d days: rejection at 1 %% %.4f, 5 %% %.4f, 10 %% %.4f"
      % (nsim, t, rej[0.01] / nsim, rej[0.05] / nsim, rej[0.10] / nsim))
print("power at 5 %%: the true probabilities against the base rate 0.5: %.4f" % (power / nsim))
