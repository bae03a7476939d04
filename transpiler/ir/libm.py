"""exp and expf as glibc (>= 2.28) computes them on x86-64 with FMA, in NumPy.

XGBoost calls glibc's float `expf` and LightGBM its double `exp`; the generated code of every
language carries the same two functions (templates/*/libm.j2), so that probabilities are the
library's bits. Both are the table-driven algorithms of Szabolcs Nagy (ARM optimized-routines,
in glibc since 2.28): x = k ln2/N + r, exp(x) = 2^(k/N) exp(r), 2^(k/N) from a table, exp(r)
from a short polynomial, all in double. glibc builds them twice and picks, at load time, the
copy compiled with -mfma where the CPU has FMA; that copy fuses every multiply-add (read off
its machine code) and rounds differently from the plain one on some inputs, so the steps
below are written as the fused copy runs them.

NumPy has no fused multiply-add: `fma` below is exact through the error-free transforms and
one addition rounded to odd (Boldo and Melquiond, "Emulation of FMA and correctly rounded
sums: proved algorithms using rounding to odd", 2008), valid when nothing under- or
overflows, which holds for every operand these functions give it.
"""
from __future__ import annotations

import struct
from decimal import Decimal, localcontext

import numpy as np

MASK64 = (1 << 64) - 1
H = float.fromhex


def _bits(d: float) -> int:
    return struct.unpack("<Q", struct.pack("<d", d))[0]


def _tables() -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The two tables, built from their definition (decimal powers are correctly rounded).

    exp: for k < 128, H = RN(2^(k/128)), T = RN((2^(k/128) - H) / H); entries are
    bits(T), bits(H) - (k << 45), so adding k << 45 for k's high part gives the exponent.
    expf: for k < 32, bits(RN(2^(k/32))) - (k << 47).
    """
    with localcontext() as ctx:
        ctx.prec = 60
        exp_tab = []
        for k in range(128):
            v = Decimal(2) ** (Decimal(k) / 128)
            h = float(v)
            exp_tab += [_bits(float((v - Decimal(h)) / Decimal(h))), (_bits(h) - (k << 45)) & MASK64]
        expf_tab = [_bits(float(Decimal(2) ** (Decimal(k) / 32))) - (k << 47) for k in range(32)]
    return tuple(exp_tab), tuple(expf_tab)


EXP_TAB, EXPF_TAB = _tables()

# Constants of glibc's e_exp_data.c and e_exp2f_data.c (N = 128 and 32).
EXP = dict(
    inv_ln2_n=H("0x1.71547652b82fep0") * 128,
    neg_ln2_hi_n=-H("0x1.62e42fefa0000p-8"),
    neg_ln2_lo_n=-H("0x1.cf79abc9e3b3ap-47"),
    shift=H("0x1.8p52"),
    c2=H("0x1.ffffffffffdbdp-2"), c3=H("0x1.555555555543cp-3"),
    c4=H("0x1.55555cf172b91p-5"), c5=H("0x1.1111167a4d017p-7"),
)
EXPF = dict(
    inv_ln2_n=H("0x1.71547652b82fep+0") * 32,
    shift=H("0x1.8p+52"),
    c0=H("0x1.c6af84b912394p-5") / 32 / 32 / 32,
    c1=H("0x1.ebfce50fac4f3p-3") / 32 / 32,
    c2=H("0x1.62e42ff0c52d6p-1") / 32,
    over=float(np.float32(H("0x1.62e42ep6"))),     # above: +inf
    under=float(np.float32(-H("0x1.9fe368p6"))),   # below: 0
    may_under=float(np.float32(-H("0x1.9d1d9ep6"))),  # below (and above `under`): 2^-149
)

_EXP_TAB = np.array(EXP_TAB, dtype=np.uint64)
_EXPF_TAB = np.array(EXPF_TAB, dtype=np.uint64)
_SPLIT = 134217729.0   # 2^27 + 1 (Dekker)


def _two_sum(a, b):
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


def _two_prod(a, b):
    p = a * b
    ah = a * _SPLIT
    ah = ah - (ah - a)
    bh = b * _SPLIT
    bh = bh - (bh - b)
    al, bl = a - ah, b - bh
    return p, ((ah * bh - p) + ah * bl + al * bh) + al * bl


def fma(a, b, c) -> np.ndarray:
    """a * b + c rounded once (float64 arrays)."""
    a, b, c = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (a, b, c)))
    with np.errstate(all="ignore"):
        ph, pl = _two_prod(a, b)
        sh, sl = _two_sum(c, ph)
        v, err = _two_sum(sl, pl)
        # round v to odd: inexact and even -> the neighbour on err's side
        fix = (err != 0) & ((v.view(np.uint64) & np.uint64(1)) == 0)
        v = np.where(fix, np.nextafter(v, np.where(err > 0, np.inf, -np.inf)), v)
        return sh + v


def _asdouble(u: np.ndarray) -> np.ndarray:
    return u.astype(np.uint64).view(np.float64)


def exp(x) -> np.ndarray:
    """glibc's exp on float64 values."""
    x = np.array(x, dtype=np.float64, ndmin=1)
    c = EXP
    ix = x.view(np.uint64)
    abstop = ((ix >> np.uint64(52)) & np.uint64(0x7FF)).astype(np.int64)
    tiny = abstop < 0x3C9                       # |x| < 2^-54: 1 + x
    huge = abstop >= 0x409                      # |x| >= 1024, inf, NaN
    edge = (abstop >= 0x408) & ~huge            # 512 <= |x| < 1024: scaled to dodge overflow
    xs = np.where(tiny | huge, 0.0, x)
    with np.errstate(all="ignore"):
        kd = fma(xs, c["inv_ln2_n"], c["shift"])
        ki = kd.view(np.uint64)
        kd = kd - c["shift"]
        r = fma(kd, c["neg_ln2_hi_n"], xs)
        r = fma(kd, c["neg_ln2_lo_n"], r)
        idx = (ki % np.uint64(128)) * np.uint64(2)
        tail = _EXP_TAB[idx].view(np.float64)
        sbits = _EXP_TAB[idx + np.uint64(1)] + (ki << np.uint64(45))
        r2 = r * r
        p23 = fma(r, c["c3"], c["c2"])
        p45 = fma(r, c["c5"], c["c4"])
        tmp = fma(r2 * r2, p45, fma(p23, r2, tail + r))
        scale = _asdouble(sbits)
        out = fma(scale, tmp, scale)
        if edge.any():
            out[edge] = _exp_edge(tmp[edge], sbits[edge], ki[edge])
        out[tiny] = 1.0 + x[tiny]
        h = x[huge]
        out[huge] = np.where(np.isnan(h), h, np.where(h > 0, np.inf, 0.0))
    return out


def _exp_edge(tmp, sbits, ki):
    """Results that may overflow (k > 0) or fall below 2^-1022 (k < 0)."""
    up = (ki & np.uint64(0x80000000)) == 0
    scale = _asdouble(np.where(up, sbits - np.uint64(1009 << 52), sbits + np.uint64(1022 << 52)))
    big = fma(scale, tmp, scale) * H("0x1p1009")
    t = scale * tmp                 # glibc rounds this product on its own here
    y = scale + t
    hi = 1.0 + y                    # round y to the subnormal grid before scaling it down
    lo = (scale - y) + t
    low = (((1.0 - hi) + y) + lo + hi) - 1.0
    small = np.where(y < 1.0, low, y) * H("0x1p-1022")
    return np.where(up, big, small)


def expf(x) -> np.ndarray:
    """glibc's expf on float32 values."""
    x = np.array(x, dtype=np.float32, ndmin=1)
    c = EXPF
    xd = x.astype(np.float64)
    finite = np.isfinite(xd)
    xs = np.where(finite, np.clip(xd, c["under"], c["over"]), 0.0)
    with np.errstate(all="ignore"):
        kd = fma(c["inv_ln2_n"], xs, c["shift"])
        ki = kd.view(np.uint64)
        kd = kd - c["shift"]
        r = fma(c["inv_ln2_n"], xs, -kd)
        s = _asdouble(_EXPF_TAB[ki % np.uint64(32)] + (ki << np.uint64(47)))
        z = fma(c["c0"], r, c["c1"])
        y = fma(z, r * r, fma(r, c["c2"], 1.0))
        out = (y * s).astype(np.float32)
        out = np.where(xd > c["over"], np.float32(np.inf), out)
        out = np.where(xd < c["may_under"], np.float32(H("0x1p-149")), out)
        out = np.where(xd < c["under"], np.float32(0), out)
        out = np.where(np.isnan(xd), x, out)
    return out


EXP_POSTS = frozenset({"sigmoid", "binary_sigmoid", "softmax", "ovr_normalize", "exp", "softplus",
                       "calibrated"})


def uses(model) -> frozenset:
    """Which of exp / expf a model's scores call: expf where scores are float32."""
    from .kernel import Kernel

    acc = getattr(model.raw, "accumulate", "float64")
    calls = set()
    if model.post in EXP_POSTS:
        calls.add("expf" if acc == "float32" and model.post != "calibrated" else "exp")
    if isinstance(model.raw, Kernel) and model.raw.kernel == "rbf":
        calls.add("exp")
    return frozenset(calls)


def hex_context(float_literal) -> dict:
    """The tables and constants as text: hex integers, and floats through float_literal."""
    return dict(
        libm_exp_tab=[f"0x{v:016x}" for v in EXP_TAB],
        libm_expf_tab=[f"0x{v:016x}" for v in EXPF_TAB],
        libm_exp={k: float_literal(v) for k, v in EXP.items()},
        libm_expf={k: float_literal(v) for k, v in EXPF.items()},
    )
