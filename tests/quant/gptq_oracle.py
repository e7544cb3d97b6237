"""Oracle for yoloq's GPTQ: an independent float64 numpy implementation of
Frantar et al.'s algorithm (dead inputs, damping, act-order, Cholesky of the
inverse Hessian, blocked column sweep with lazy updates, per-row or per-group
scales), compared with tool_quant_gptq on correlated random layers.

Usage: gptq_oracle.py TOOL WORKDIR. Exit 0 when every case agrees."""
import os
import subprocess
import sys

import numpy as np


def quantize(w, s, z, qmin, qmax):
    """QuantizeLinear / DequantizeLinear in float32, round half to even."""
    x = w.astype(np.float32) / np.float32(s)
    q = np.clip(np.rint(x).astype(np.float64) + z, qmin, qmax)
    dq = (q - z).astype(np.float32) * np.float32(s)
    return q.astype(np.int64), dq


def sym_scale(cols_f64, qmax):
    xf = cols_f64.astype(np.float32).astype(np.float64)
    amax = np.maximum(np.max(np.abs(xf), axis=1), 0.0)
    s = (amax / qmax).astype(np.float32)
    s[amax == 0] = 1.0
    return s


def gptq(W, H, bits, act_order, block, group, scales=None, zps=None, damp_pct=0.01):
    rows, K = W.shape
    qmin, qmax = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    W = W.astype(np.float64).copy()
    H = H.copy()
    dead = np.diag(H) == 0
    H[dead, dead] = 1.0
    W[:, dead] = 0.0
    if group == 0 and scales is None:
        scales = sym_scale(W, qmax)
        zps = np.zeros(rows, dtype=np.int64)
    perm = np.argsort(-np.diag(H), kind="stable") if act_order else np.arange(K)
    W = W[:, perm]
    H = H[perm][:, perm]
    H = H + damp_pct * np.mean(np.diag(H)) * np.eye(K)
    Hinv = np.linalg.inv(H)
    U = np.linalg.cholesky(Hinv).T  # upper, Uᵀ U = H⁻¹
    Q = np.zeros((rows, K), dtype=np.int64)
    DQ = np.zeros((rows, K), dtype=np.float32)
    gscale = np.zeros((rows, (K + group - 1) // group if group else 1), dtype=np.float32)
    for i1 in range(0, K, block):
        i2 = min(i1 + block, K)
        Err = np.zeros((rows, i2 - i1))
        for j in range(i1, i2):
            if group and j % group == 0:
                gscale[:, j // group] = sym_scale(W[:, j:j + group], qmax)
            if group:
                s, z = gscale[:, j // group], np.zeros(rows)
            else:
                s, z = scales, zps
            q = np.empty(rows, dtype=np.int64)
            dq = np.empty(rows, dtype=np.float32)
            for r in range(rows):
                qq, dd = quantize(np.array([W[r, j]]), s[r], z[r], qmin, qmax)
                q[r], dq[r] = qq[0], dd[0]
            Q[:, perm[j]] = q
            DQ[:, perm[j]] = dq
            err = (W[:, j] - dq.astype(np.float64)) / U[j, j]
            W[:, j + 1:i2] -= np.outer(err, U[j, j + 1:i2])
            Err[:, j - i1] = err
        W[:, i2:] -= Err @ U[i1:i2, i2:]
    return Q, DQ, (gscale if group else scales)


def inputs(n, K, seed, dead=()):
    rng = np.random.default_rng(seed)
    M = rng.standard_normal((6, K))
    X = rng.standard_normal((n, 6)) @ M + rng.standard_normal((n, K))
    X *= rng.uniform(0.1, 3.0, K)
    X[:, list(dead)] = 0.0
    return X.astype(np.float32)


def main():
    tool, work = sys.argv[1], sys.argv[2]
    cases = [  # rows, K, bits, act_order, block, group, symmetric, dead
        (16, 160, 4, 1, 64, 0, 1, ()),
        (16, 160, 4, 0, 32, 0, 1, ()),
        (12, 96, 4, 0, 32, 32, 1, ()),
        (12, 130, 4, 1, 128, 0, 0, (3, 77)),
        (8, 72, 8, 1, 16, 0, 1, (0,)),
    ]
    failed = 0
    for ci, (rows, K, bits, act, block, group, sym, dead) in enumerate(cases):
        rng = np.random.default_rng(100 + ci)
        W = (0.05 * rng.standard_normal((rows, K))).astype(np.float32)
        X = inputs(512, K, 200 + ci, dead).astype(np.float64)
        H = 2.0 * X.T @ X / X.shape[0]
        pre = os.path.join(work, "case%d" % ci)
        W.tofile(pre + ".W")
        H.tofile(pre + ".H")
        subprocess.run([tool, pre + ".W", pre + ".H", str(rows), str(K), str(bits), str(act), str(block), str(group),
                        str(sym), pre], check=True)
        q = np.fromfile(pre + ".q", dtype=np.int8).reshape(rows, K).astype(np.int64)
        dq = np.fromfile(pre + ".dq", dtype=np.float32).reshape(rows, K)
        sc = np.fromfile(pre + ".scale", dtype=np.float32)
        zp = np.fromfile(pre + ".zp", dtype=np.int32).astype(np.int64)
        if sym or group:
            Qr, DQr, Sr = gptq(W, H, bits, act, block, group)
            scale_ok = np.array_equal(np.asarray(Sr, dtype=np.float32).ravel(), sc)
        else:  # asymmetric grid: the oracle takes the tool's scales and zero points
            Qr, DQr, _ = gptq(W, H, bits, act, block, group, scales=sc, zps=zp)
            scale_ok = True
        mism = int(np.sum(Qr != q))
        steps_ok = bool(np.all(np.abs(Qr - q) <= 1))
        dq_ok = np.array_equal(DQr[Qr == q], dq[Qr == q])
        # Quality: output error against round-to-nearest on the same grid.
        if group:
            s_rows = np.repeat(sc.reshape(rows, -1), group, axis=1)[:, :K]
            z_rows = np.zeros((rows, K))
        else:
            s_rows = np.repeat(sc[:, None], K, axis=1)
            z_rows = np.repeat(zp[:, None].astype(np.float64), K, axis=1)
        Wd = W.astype(np.float64).copy()
        Wd[:, list(dead)] = 0.0
        qmin, qmax = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
        rtn = (np.clip(np.rint(Wd.astype(np.float32) / s_rows.astype(np.float32)) + z_rows, qmin, qmax) - z_rows) \
            * s_rows
        e_rtn = np.sum((X @ (W.astype(np.float64) - rtn).T) ** 2)
        e_gptq = np.sum((X @ (W.astype(np.float64) - dq.astype(np.float64)).T) ** 2)
        ok = scale_ok and mism <= max(1, q.size // 500) and steps_ok and dq_ok and e_gptq < 0.8 * e_rtn
        print("case %d (rows %d, K %d, %d-bit, act_order %d, block %d, group %d, sym %d, dead %d): "
              "q mismatches %d/%d, scales equal %s, error vs RTN %.3f -> %s"
              % (ci, rows, K, bits, act, block, group, sym, len(dead), mism, q.size, scale_ok, e_gptq / e_rtn,
                 "ok" if ok else "FAIL"))
        failed += not ok
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
