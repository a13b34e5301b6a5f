# Reference steps for src/train/optim/tests.rs: Keras 3 update rules (keras/src/optimizers/*.py)
# re-written in plain Python with every float32 operation rounded through `struct`, in Keras's
# order of operations. Python-float scalars (`1 - self.beta_1`, `1 - rho`, `1.0 / clip_norm`)
# are computed in float64 and rounded once, as the backends convert them.
import math, struct

def f(x):
    return struct.unpack("f", struct.pack("f", x))[0]

LRS = [0.1, 0.05, 0.02]
W0 = [[1.0, -2.0], [0.5]]
GRADS = [
    [[0.5, -1.5], [2.0]],
    [[-0.25, 0.75], [0.1]],
    [[1.0, 0.0], [-3.0]],
]

def run(rule, clip=None, wd=None):
    w = [[f(x) for x in v] for v in W0]
    state = rule["init"]()
    out = []
    for it, (lr_, grads) in enumerate(zip(LRS, GRADS)):
        lr = f(lr_)
        g = [[f(x) for x in v] for v in grads]
        if clip and clip[0] == "norm":
            c = f(clip[1])
            for v in g:
                s = f(sum(x * x for x in v))
                n = f(math.sqrt(s)) if s > 0 else s
                d = max(n, c)
                v[:] = [f(f(x * c) / d) for x in v]
        if clip and clip[0] == "global":
            c = f(clip[1])
            s = f(sum(x * x for v in g for x in v))
            n = f(math.sqrt(s))
            inv = f(1.0 / clip[1])
            one_over_n = f(1.0 / n) if n > 0 else math.inf
            scale = f(f(c * min(one_over_n, inv)) + (n - n))
            for v in g:
                v[:] = [f(x * scale) for x in v]
        if clip and clip[0] == "value":
            c = f(clip[1])
            for v in g:
                v[:] = [min(max(x, -c), c) for x in v]
        if wd is not None:
            wdf = f(wd)
            for v in w:
                v[:] = [f(x - f(f(x * wdf) * lr)) for x in v]
        rule["begin"](state, it)
        for i, (wv, gv) in enumerate(zip(w, g)):
            rule["update"](state, i, it, lr, wv, gv)
        out.append([list(v) for v in w])
    return out

def zeros():
    return [[0.0] * len(v) for v in W0]

def sgd(momentum, nesterov):
    mu = f(momentum)
    def update(s, i, it, lr, w, g):
        for k in range(len(w)):
            if momentum == 0:
                w[k] = f(w[k] - f(g[k] * lr))
                continue
            v = s["v"][i]
            v[k] = f(f(v[k] * mu) - f(g[k] * lr))
            if nesterov:
                w[k] = f(w[k] + f(f(v[k] * mu) - f(g[k] * lr)))
            else:
                w[k] = f(w[k] + v[k])
    return {"init": lambda: {"v": zeros()}, "begin": lambda s, it: None, "update": update}

def adam(b1, b2, eps, amsgrad):
    omb1, omb2, e = f(1 - b1), f(1 - b2), f(eps)
    def begin(s, it):
        t = float(it + 1)
        s["b1p"] = f(f(b1) ** t)
        s["b2p"] = f(f(b2) ** t)
    def update(s, i, it, lr, w, g):
        alpha = f(f(lr * f(math.sqrt(f(1 - s["b2p"])))) / f(1 - s["b1p"]))
        m, v, vm = s["m"][i], s["v"][i], s["vm"][i]
        for k in range(len(w)):
            m[k] = f(m[k] + f(f(g[k] - m[k]) * omb1))
            v[k] = f(v[k] + f(f(f(g[k] * g[k]) - v[k]) * omb2))
            vv = v[k]
            if amsgrad:
                vm[k] = max(vm[k], v[k])
                vv = vm[k]
            w[k] = f(w[k] - f(f(m[k] * alpha) / f(f(math.sqrt(vv)) + e)))
    return {"init": lambda: {"m": zeros(), "v": zeros(), "vm": zeros()}, "begin": begin, "update": update}

def rmsprop(rho, momentum, eps, centered):
    r, omr, mu, e = f(rho), f(1 - rho), f(momentum), f(eps)
    def update(s, i, it, lr, w, g):
        v, a, mo = s["v"][i], s["a"][i], s["mo"][i]
        for k in range(len(w)):
            v[k] = f(f(r * v[k]) + f(omr * f(g[k] * g[k])))
            if centered:
                a[k] = f(f(r * a[k]) + f(omr * g[k]))
                d = f(f(v[k] - f(a[k] * a[k])) + e)
            else:
                d = f(v[k] + e)
            inc = f(f(lr * g[k]) / f(math.sqrt(d)))
            if momentum > 0:
                mo[k] = f(f(mu * mo[k]) + inc)
                w[k] = f(w[k] - mo[k])
            else:
                w[k] = f(w[k] - inc)
    return {"init": lambda: {"v": zeros(), "a": zeros(), "mo": zeros()}, "begin": lambda s, it: None, "update": update}

def adagrad(init, eps):
    e = f(eps)
    def update(s, i, it, lr, w, g):
        a = s["a"][i]
        for k in range(len(w)):
            a[k] = f(a[k] + f(g[k] * g[k]))
            w[k] = f(w[k] - f(f(lr * g[k]) / f(math.sqrt(f(a[k] + e)))))
    return {"init": lambda: {"a": [[f(init)] * len(v) for v in W0]}, "begin": lambda s, it: None, "update": update}

def nadam(b1, b2, eps):
    B1, B2, e, decay = f(b1), f(b2), f(eps), f(0.96)
    def begin(s, it):
        t, t1 = float(it + 1), float(it + 2)
        s["U"] = f(f(s["U"] * B1) * f(1.0 - f(0.5 * f(decay ** t))))
        s["ut"] = f(B1 * f(1.0 - f(0.5 * f(decay ** t))))
        s["ut1"] = f(B1 * f(1.0 - f(0.5 * f(decay ** t1))))
        s["b2p"] = f(B2 ** t)
    def update(s, i, it, lr, w, g):
        U, ut, ut1 = s["U"], s["ut"], s["ut1"]
        Ut1 = f(U * ut1)
        m, v = s["m"][i], s["v"][i]
        for k in range(len(w)):
            m[k] = f(m[k] + f(f(g[k] - m[k]) * f(1 - B1)))
            v[k] = f(v[k] + f(f(f(g[k] * g[k]) - v[k]) * f(1 - B2)))
            mhat = f(f(f(ut1 * m[k]) / f(1 - Ut1)) + f(f(f(1 - ut) * g[k]) / f(1 - U)))
            vhat = f(v[k] / f(1 - s["b2p"]))
            w[k] = f(w[k] - f(f(mhat * lr) / f(f(math.sqrt(vhat)) + e)))
    return {"init": lambda: {"m": zeros(), "v": zeros(), "U": 1.0}, "begin": begin, "update": update}

CASES = [
    ("sgd", sgd(0.0, False), None, None),
    ("sgd_momentum", sgd(0.9, False), None, None),
    ("sgd_nesterov", sgd(0.9, True), None, None),
    ("adam", adam(0.9, 0.999, 1e-7, False), None, None),
    ("adam_amsgrad", adam(0.9, 0.999, 1e-7, True), None, None),
    ("adamw", adam(0.9, 0.999, 1e-7, False), None, 0.004),
    ("rmsprop", rmsprop(0.9, 0.0, 1e-7, False), None, None),
    ("rmsprop_centered", rmsprop(0.9, 0.0, 1e-7, True), None, None),
    ("rmsprop_momentum", rmsprop(0.9, 0.9, 1e-7, False), None, None),
    ("adagrad", adagrad(0.1, 1e-7), None, None),
    ("nadam", nadam(0.9, 0.999, 1e-7), None, None),
    ("sgd_momentum_weight_decay", sgd(0.9, False), None, 0.1),
    ("sgd_clipnorm", sgd(0.0, False), ("norm", 1.0), None),
    ("sgd_global_clipnorm", sgd(0.0, False), ("global", 1.0), None),
    ("sgd_clipvalue", sgd(0.0, False), ("value", 0.5), None),
]
# Prints the `EXPECTED` table of tests.rs: weights after each of the three steps.
for name, rule, clip, wd in CASES:
    print(f"    (\"{name}\", [")
    for step in run(rule, clip, wd):
        print("        [" + ", ".join(repr(x) for v in step for x in v) + "],")
    print("    ]),")
