"""A small ONNX -> torch interpreter (float64, autograd-capable) with ONNX semantics, plus onnxruntime helpers.

Covers exactly the ops of the ModScope fixtures: Gemm, MatMul, Add, Sub, Mul, Div, Relu, LeakyRelu, Sigmoid, Tanh,
Softmax, LogSoftmax (opset <13 2-D coercion included), Conv, MaxPool, AveragePool, GlobalAveragePool, ReduceMean
(axes attribute or input), BatchNormalization, Flatten, Reshape (allowzero), Shape, Gather, Unsqueeze, Squeeze
(attribute or input axes), Concat, Constant, Identity, Dropout, Cast, Clip (attribute or input bounds), Pad
(constant), Transpose, ArgMax, Erf, ai.onnx.ml Scaler. Label-only ops (ZipMap, ArrayFeatureExtractor) are never
evaluated: only the ancestors of the requested output are run.

Imported by make_fixtures.py and make_attribution_fixtures.py.
"""
import numpy as np
import onnx
import onnxruntime as ort
import torch
import torch.nn.functional as F
from onnx import helper, numpy_helper

FLOAT_TYPES = (torch.float16, torch.float32, torch.float64)


def _attrs(node):
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def opset_of(model, domain=""):
    for o in model.opset_import:
        if (o.domain or "") == domain or (domain == "" and o.domain == "ai.onnx"):
            return o.version
    return None


def ancestors_nodes(model, outputs):
    """Indices of nodes (in graph order) needed to compute `outputs`."""
    producer = {}
    for i, n in enumerate(model.graph.node):
        for o in n.output:
            producer[o] = i
    need, stack = set(), list(outputs)
    while stack:
        t = stack.pop()
        i = producer.get(t)
        if i is None or i in need:
            continue
        need.add(i)
        stack.extend(x for x in model.graph.node[i].input if x)
    return sorted(need)


def _pads_to_torch(pads, nd):
    # ONNX pads = [b1, b2, ..., e1, e2, ...]; F.pad wants (last_b, last_e, ..., first_b, first_e)
    out = []
    for i in reversed(range(nd)):
        out += [pads[i], pads[i + nd]]
    return out


def _coerce2d(x, axis):
    axis = axis % x.dim()
    shp = x.shape
    a = int(np.prod(shp[:axis])) if axis > 0 else 1
    return x.reshape(a, -1), shp


class Interpreter:
    def __init__(self, model, dtype=torch.float64):
        self.model = model
        self.dtype = dtype
        self.opset = opset_of(model, "") or 20
        self.init = {}
        for t in model.graph.initializer:
            a = numpy_helper.to_array(t)
            if a.dtype.kind == "f":
                self.init[t.name] = torch.tensor(a.astype(np.float64), dtype=dtype)
            else:
                self.init[t.name] = torch.tensor(a)

    def run(self, feeds, outputs, requires_grad=False):
        """Evaluate the nodes needed for `outputs`. feeds: name -> np array. Returns (env, order) where env maps
        every computed tensor name to a torch tensor and order lists the computed names in graph order."""
        env = dict(self.init)
        order = []
        for k, v in feeds.items():
            t = torch.tensor(np.asarray(v), dtype=self.dtype if np.asarray(v).dtype.kind == "f" else None)
            if requires_grad and t.dtype in FLOAT_TYPES:
                t.requires_grad_(True)
            env[k] = t
            order.append(k)
        for i in ancestors_nodes(self.model, outputs):
            node = self.model.graph.node[i]
            ins = [env[x] if x else None for x in node.input]
            res = self.eval_node(node, ins)
            if not isinstance(res, (list, tuple)):
                res = [res]
            for name, r in zip(node.output, res):
                if not name:
                    continue
                if any(r is x for x in ins if x is not None):
                    r = r.clone()   # distinct autograd node per ONNX tensor
                env[name] = r
                order.append(name)
        return env, order

    def eval_node(self, node, ins):
        op, dom, at = node.op_type, node.domain or "", _attrs(node)
        x = ins[0] if ins else None
        if dom == "ai.onnx.ml":
            if op == "Scaler":
                off = torch.tensor(at.get("offset", [0.0]), dtype=self.dtype)
                sc = torch.tensor(at.get("scale", [1.0]), dtype=self.dtype)
                return (x.to(self.dtype) - off) * sc
            raise NotImplementedError(f"ml op {op}")
        if op == "Gemm":
            a, b, c = ins[0], ins[1], ins[2] if len(ins) > 2 else None
            if at.get("transA", 0):
                a = a.t()
            if at.get("transB", 0):
                b = b.t()
            y = at.get("alpha", 1.0) * (a @ b)
            if c is not None:
                y = y + at.get("beta", 1.0) * c
            return y
        if op == "MatMul":
            return ins[0] @ ins[1]
        if op == "Add":
            return ins[0] + ins[1]
        if op == "Sub":
            return ins[0] - ins[1]
        if op == "Mul":
            return ins[0] * ins[1]
        if op == "Div":
            return ins[0] / ins[1]
        if op == "Relu":
            return torch.relu(x)
        if op == "LeakyRelu":
            return F.leaky_relu(x, at.get("alpha", 0.01))
        if op == "Sigmoid":
            return torch.sigmoid(x)
        if op == "Tanh":
            return torch.tanh(x)
        if op == "Erf":
            return torch.erf(x)
        if op in ("Softmax", "LogSoftmax"):
            fn = torch.softmax if op == "Softmax" else torch.log_softmax
            if self.opset < 13:
                axis = at.get("axis", 1)
                x2, shp = _coerce2d(x, axis)
                return fn(x2, dim=1).reshape(shp)
            return fn(x, dim=at.get("axis", -1))
        if op == "Conv":
            w, b = ins[1], ins[2] if len(ins) > 2 else None
            nd = w.dim() - 2
            assert at.get("auto_pad", b"NOTSET") in (b"NOTSET", "NOTSET")
            pads = at.get("pads", [0] * (2 * nd))
            if pads[:nd] != pads[nd:]:
                x = F.pad(x, _pads_to_torch(pads, nd))
                pads = [0] * (2 * nd)
            return F.conv2d(x, w, b, stride=at.get("strides", [1] * nd), padding=pads[:nd],
                            dilation=at.get("dilations", [1] * nd), groups=at.get("group", 1))
        if op == "MaxPool":
            k = at["kernel_shape"]
            nd = len(k)
            pads = at.get("pads", [0] * (2 * nd))
            assert pads[:nd] == pads[nd:]
            return F.max_pool2d(x, k, stride=at.get("strides", [1] * nd), padding=pads[:nd],
                                dilation=at.get("dilations", [1] * nd), ceil_mode=bool(at.get("ceil_mode", 0)))
        if op == "AveragePool":
            k = at["kernel_shape"]
            nd = len(k)
            pads = at.get("pads", [0] * (2 * nd))
            assert pads[:nd] == pads[nd:]
            assert not at.get("ceil_mode", 0), "ceil_mode AveragePool not in fixtures"
            return F.avg_pool2d(x, k, stride=at.get("strides", [1] * nd), padding=pads[:nd],
                                ceil_mode=False, count_include_pad=bool(at.get("count_include_pad", 0)))
        if op == "GlobalAveragePool":
            return x.mean(dim=tuple(range(2, x.dim())), keepdim=True)
        if op == "ReduceMean":
            if self.opset >= 18:
                axes = ins[1].tolist() if len(ins) > 1 and ins[1] is not None else None
            else:
                axes = at.get("axes")
            keep = bool(at.get("keepdims", 1))
            if not axes:
                if at.get("noop_with_empty_axes", 0):
                    return x
                axes = list(range(x.dim()))
            return x.mean(dim=tuple(int(a) for a in axes), keepdim=keep)
        if op == "BatchNormalization":
            s, b, m, v = ins[1:5]
            eps = at.get("epsilon", 1e-5)
            shp = [1, -1] + [1] * (x.dim() - 2)
            return (x - m.reshape(shp)) / torch.sqrt(v.reshape(shp) + eps) * s.reshape(shp) + b.reshape(shp)
        if op == "Flatten":
            axis = at.get("axis", 1) % x.dim() if x.dim() else 0
            a = int(np.prod(x.shape[:axis])) if axis > 0 else 1
            return x.reshape(a, -1)
        if op == "Reshape":
            shape = [int(s) for s in ins[1].tolist()]
            if not at.get("allowzero", 0):
                shape = [x.shape[i] if s == 0 else s for i, s in enumerate(shape)]
            return x.reshape(shape)
        if op == "Shape":
            shp = list(x.shape)
            start, end = at.get("start", 0), at.get("end", len(shp))
            return torch.tensor(shp[start:end], dtype=torch.int64)
        if op == "Gather":
            axis = at.get("axis", 0)
            idx = ins[1]
            return torch.index_select(x, axis, (idx.reshape(-1) % x.shape[axis])).reshape(
                list(x.shape[:axis]) + list(idx.shape) + list(x.shape[axis + 1:]))
        if op in ("Unsqueeze", "Squeeze"):
            axes = ins[1].tolist() if len(ins) > 1 and ins[1] is not None else at.get("axes")
            if op == "Unsqueeze":
                r = x.dim() + len(axes)
                y = x
                for a in sorted(a % r for a in axes):
                    y = y.unsqueeze(a)
                return y
            if axes is None:
                return x.reshape([s for s in x.shape if s != 1])
            axes = sorted(a % x.dim() for a in axes)
            return x.reshape([s for i, s in enumerate(x.shape) if i not in axes])
        if op == "Concat":
            ts = [t for t in ins if t is not None]
            if all(t.dtype in FLOAT_TYPES for t in ts):
                return torch.cat(ts, dim=at["axis"])
            return torch.cat([t.to(torch.int64) for t in ts], dim=at["axis"])
        if op == "Constant":
            if "value" in at:
                a = numpy_helper.to_array(at["value"])
            elif "value_float" in at:
                a = np.array(at["value_float"], dtype=np.float32)
            elif "value_floats" in at:
                a = np.array(at["value_floats"], dtype=np.float32)
            elif "value_int" in at:
                a = np.array(at["value_int"], dtype=np.int64)
            elif "value_ints" in at:
                a = np.array(at["value_ints"], dtype=np.int64)
            else:
                raise NotImplementedError(str(at.keys()))
            return torch.tensor(a.astype(np.float64), dtype=self.dtype) if a.dtype.kind == "f" else torch.tensor(a)
        if op in ("Identity", "Dropout"):
            return x
        if op == "Cast":
            to = at["to"]
            if to in (onnx.TensorProto.FLOAT, onnx.TensorProto.DOUBLE, onnx.TensorProto.FLOAT16):
                return x.to(self.dtype) if x.dtype in FLOAT_TYPES else x.to(self.dtype)
            return x.detach().to(torch.int64)
        if op == "Clip":
            if self.opset < 11:
                lo, hi = at.get("min", None), at.get("max", None)
            else:
                lo = ins[1] if len(ins) > 1 and ins[1] is not None else None
                hi = ins[2] if len(ins) > 2 and ins[2] is not None else None
                lo = None if lo is None else float(lo)
                hi = None if hi is None else float(hi)
            # ONNX Clip gradient convention (as torch.clamp): pass where min <= x <= max
            return torch.clamp(x, lo, hi)
        if op == "Pad":
            mode = at.get("mode", b"constant")
            assert mode in (b"constant", "constant")
            if self.opset < 11:
                pads, val = at["pads"], at.get("value", 0.0)
            else:
                pads = [int(p) for p in ins[1].tolist()]
                val = float(ins[2]) if len(ins) > 2 and ins[2] is not None and ins[2].numel() else 0.0
                if len(ins) > 3 and ins[3] is not None:
                    raise NotImplementedError("Pad axes")
            nd = x.dim()
            tp = _pads_to_torch(pads, nd)
            if any(p < 0 for p in tp):
                raise NotImplementedError("negative pad")
            return F.pad(x, tp, value=val)
        if op == "Transpose":
            perm = at.get("perm", list(reversed(range(x.dim()))))
            return x.permute(*perm)
        if op == "ArgMax":
            axis, keep = at.get("axis", 0), at.get("keepdims", 1)
            return torch.argmax(x.detach(), dim=axis, keepdim=bool(keep))
        if op == "ConstantOfShape":
            shape = [int(v) for v in x.tolist()]
            if "value" in at:
                a = numpy_helper.to_array(at["value"]).reshape(-1)
            else:
                a = np.zeros(1, dtype=np.float32)
            if a.dtype.kind == "f":
                return torch.full(shape, float(a[0]), dtype=self.dtype)
            return torch.full(shape, int(a[0]), dtype=torch.int64)
        if op == "Slice":
            if self.opset < 10:
                starts, ends = at["starts"], at["ends"]
                axes = at.get("axes", list(range(len(starts))))
                steps = [1] * len(starts)
            else:
                starts, ends = [int(v) for v in ins[1].tolist()], [int(v) for v in ins[2].tolist()]
                axes = [int(v) for v in ins[3].tolist()] if len(ins) > 3 and ins[3] is not None \
                    else list(range(len(starts)))
                steps = [int(v) for v in ins[4].tolist()] if len(ins) > 4 and ins[4] is not None \
                    else [1] * len(starts)
            y = x
            for s0, e0, a, st in zip(starts, ends, axes, steps):
                a = a % x.dim()
                n = x.shape[a]
                idx = list(range(n))[slice(*self._clamp_slice(s0, e0, st, n))]
                y = torch.index_select(y, a, torch.tensor(idx, dtype=torch.int64))
            return y
        raise NotImplementedError(f"op {op}")

    @staticmethod
    def _clamp_slice(s, e, st, n):
        # ONNX Slice clamping rules, expressed as a Python slice on range(n)
        def cl(v, lo, hi):
            return max(lo, min(hi, v))
        if s < 0:
            s += n
        if e < 0:
            e += n
        if st > 0:
            s, e = cl(s, 0, n), cl(e, 0, n)
            return s, e, st
        s, e = cl(s, 0, n - 1), cl(e, -1, n - 1)
        return s, (None if e == -1 else e), st


def float_outputs_of(model, names):
    return names


def ort_intermediates(model, feeds, names):
    """Run onnxruntime (ORT_DISABLE_ALL) with `names` promoted to graph outputs. model: ModelProto with all data
    inline. Returns name -> np array."""
    m2 = onnx.ModelProto()
    m2.CopyFrom(model)
    existing = {o.name for o in m2.graph.output}
    for n in names:
        if n not in existing:
            m2.graph.output.append(helper.make_empty_tensor_value_info(n))
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    sess = ort.InferenceSession(m2.SerializeToString(), so, providers=["CPUExecutionProvider"])
    outs = [o.name for o in sess.get_outputs()]
    wanted = [o for o in outs if o in set(names)]
    vals = sess.run(wanted, feeds)
    return dict(zip(wanted, vals))
