#!/usr/bin/python3
"""Reference values for tests/drift/verdict_test.cc (run by hand; not part of the tests).

Prints ln P(X >= x) for the binomial and beta-binomial cases the test checks: exact rational
arithmetic (fractions, math.comb; every term of the tail summed) where that is feasible, and
mpmath at 60 digits (log-gamma terms summed until 1e-43 of the first) for large n.
"""
from fractions import Fraction
from math import comb

import mpmath as mp

mp.mp.dps = 60


def binom_tail_exact(x, n, p):
    if x <= 0:
        return Fraction(1)
    num, den = p.numerator, p.denominator  # P(X >= x) = sum C(n,j) num^j (den-num)^(n-j) / den^n
    total, c = 0, comb(n, x)
    for j in range(x, n + 1):
        total += c * num**j * (den - num)**(n - j)
        c = c * (n - j) // (j + 1)
    return Fraction(total, den**n)


def betabinom_tail_exact(x, n, a, b):
    # pmf(0) = B(a, n + b) / B(a, b) = prod_{i<n} (b + i) / (a + b + i); then the exact ratio
    # pmf(j+1)/pmf(j) = (n-j)(j+a) / ((j+1)(n-j-1+b)).
    pmf = Fraction(1)
    for i in range(n):
        pmf *= Fraction(b + i, a + b + i)
    total = Fraction(0)
    for j in range(n + 1):
        if j >= x:
            total += pmf
        if j < n:
            pmf *= Fraction((n - j) * (j + a), (j + 1) * (n - j - 1 + b))
    return total


def log_sum(logterms):
    m = max(logterms)
    return m + mp.log(mp.fsum(mp.e**(t - m) for t in logterms))


def binom_tail_mp(x, n, p):
    lp, lq = mp.log(p), mp.log(1 - p)

    def lt(j):
        return mp.loggamma(n + 1) - mp.loggamma(j + 1) - mp.loggamma(n - j + 1) + j * lp + (n - j) * lq

    ts = []
    if x > n * p:  # upper tail, terms falling from x
        j, t0 = x, lt(x)
        while j <= n:
            ts.append(lt(j))
            if ts[-1] < t0 - 100:
                break
            j += 1
        return log_sum(ts)
    j, t0 = x - 1, lt(x - 1)  # 1 - lower tail, terms falling from x - 1 downwards
    while j >= 0:
        ts.append(lt(j))
        if ts[-1] < t0 - 100:
            break
        j -= 1
    return mp.log(1 - mp.e**log_sum(ts))


def betabinom_tail_mp(x, n, a, b):
    a, b = mp.mpf(a), mp.mpf(b)
    lbab = mp.loggamma(a) + mp.loggamma(b) - mp.loggamma(a + b)

    def lt(j):
        return (mp.loggamma(n + 1) - mp.loggamma(j + 1) - mp.loggamma(n - j + 1) + mp.loggamma(j + a)
                + mp.loggamma(n - j + b) - mp.loggamma(n + a + b) - lbab)

    ts, j, t0 = [], x, lt(x)
    while j <= n:
        ts.append(lt(j))
        if ts[-1] < t0 - 100:
            break
        j += 1
    return log_sum(ts)


def show(name, logv):
    print(f"{name}: ln P = {mp.nstr(logv, 20)}   P = {mp.nstr(mp.e**logv, 20)}")


def ln(fr):
    return mp.log(mp.mpf(fr.numerator)) - mp.log(mp.mpf(fr.denominator))


P5 = Fraction(1, 20)
print("binomial, exact")
for x, n, p in [(1, 20, P5), (3, 20, P5), (20, 20, P5), (6, 11, Fraction(1, 2)), (50, 1000, P5),
                (80, 1000, P5), (200, 1000, P5), (30, 1000, P5)]:
    show(f"x={x} n={n} p={p}", ln(binom_tail_exact(x, n, p)))
print("beta-binomial, exact")
for x, n, a, b in [(10, 50, 1, 1), (50, 1000, 6, 95), (150, 1000, 6, 95), (3, 1000, 6, 95),
                   (400, 8000, 338, 6398), (2500, 8000, 338, 6398)]:
    show(f"x={x} n={n} a={a} b={b}", ln(betabinom_tail_exact(x, n, a, b)))
print("binomial, mpmath")
for x, n in [(300, 1000), (5000, 10**5), (5500, 10**5), (36200, 10**5), (500000, 10**7),
             (502000, 10**7), (499000, 10**7), (600000, 10**7)]:
    show(f"x={x} n={n} p=1/20", binom_tail_mp(x, n, mp.mpf(1) / 20))
print("beta-binomial, mpmath")
for x, n, a, b in [(2500, 8000, 338, 6398), (600000, 10**7, 5001, 95000), (520000, 10**7, 5001, 95000)]:
    show(f"x={x} n={n} a={a} b={b}", betabinom_tail_mp(x, n, a, b))
