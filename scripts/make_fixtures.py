#!/usr/bin/env python3
"""Generate Assay's own ONNX fixtures, deterministically (fixed seeds, fixed opsets).

Usage:
    python scripts/make_fixtures.py --out .cache/fixtures     # test fixtures (kept out of git)
    python scripts/make_fixtures.py --assets assets            # the committed sample model

Every model has a dynamic batch dimension named "batch" unless said otherwise. Node names
carry a scope path (/encoder/layer.0/fc/MatMul) the way PyTorch's exporter writes them,
so the profiler's scope flame graph has something real to show.
"""

import argparse
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
IR_VERSION = 8  # what ONNX Runtime 1.31 and every current exporter accept


def _model(graph, producer="assay-fixtures"):
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name=producer,
        producer_version="1.0",
    )
    model.ir_version = IR_VERSION
    return model


def mlp(rng, widths, name="mlp", dtype=np.float32, elem=TensorProto.FLOAT):
    """A stack of scoped Linear+ReLU blocks: /encoder/layer.N/{fc,act}/..., then a head."""
    nodes, inits = [], []
    x = "input"
    for i, (fan_in, fan_out) in enumerate(zip(widths[:-2], widths[1:-1])):
        scope = f"/encoder/layer.{i}"
        w = (rng.standard_normal((fan_in, fan_out)) / np.sqrt(fan_in)).astype(dtype)
        b = (rng.standard_normal(fan_out) * 0.01).astype(dtype)
        inits += [
            numpy_helper.from_array(w, f"encoder.layer.{i}.fc.weight"),
            numpy_helper.from_array(b, f"encoder.layer.{i}.fc.bias"),
        ]
        nodes += [
            helper.make_node("MatMul", [x, f"encoder.layer.{i}.fc.weight"], [f"{scope}/fc/MatMul_output_0"], name=f"{scope}/fc/MatMul"),
            helper.make_node("Add", [f"{scope}/fc/MatMul_output_0", f"encoder.layer.{i}.fc.bias"], [f"{scope}/fc/Add_output_0"], name=f"{scope}/fc/Add"),
            helper.make_node("Relu", [f"{scope}/fc/Add_output_0"], [f"{scope}/act/Relu_output_0"], name=f"{scope}/act/Relu"),
        ]
        x = f"{scope}/act/Relu_output_0"
    fan_in, fan_out = widths[-2], widths[-1]
    w = (rng.standard_normal((fan_in, fan_out)) / np.sqrt(fan_in)).astype(dtype)
    b = np.zeros(fan_out, dtype=dtype)
    inits += [numpy_helper.from_array(w, "head.weight"), numpy_helper.from_array(b, "head.bias")]
    nodes += [
        helper.make_node("MatMul", [x, "head.weight"], ["/head/MatMul_output_0"], name="/head/MatMul"),
        helper.make_node("Add", ["/head/MatMul_output_0", "head.bias"], ["logits"], name="/head/Add"),
    ]
    graph = helper.make_graph(
        nodes,
        name,
        [helper.make_tensor_value_info("input", elem, ["batch", widths[0]])],
        [helper.make_tensor_value_info("logits", elem, ["batch", widths[-1]])],
        initializer=inits,
    )
    model = _model(graph)
    model.metadata_props.append(onnx.StringStringEntryProto(key="task", value="classification"))
    model.metadata_props.append(onnx.StringStringEntryProto(key="generator", value="scripts/make_fixtures.py"))
    return model


def convnet(rng):
    """Conv-ReLU-MaxPool twice, then a Gemm head, on NCHW 3x32x32 images with a dynamic batch."""
    def conv_w(cout, cin, k):
        return (rng.standard_normal((cout, cin, k, k)) / np.sqrt(cin * k * k)).astype(np.float32)

    inits = [
        numpy_helper.from_array(conv_w(16, 3, 3), "features.0.weight"),
        numpy_helper.from_array(np.zeros(16, np.float32), "features.0.bias"),
        numpy_helper.from_array(conv_w(32, 16, 3), "features.1.weight"),
        numpy_helper.from_array(np.zeros(32, np.float32), "features.1.bias"),
        numpy_helper.from_array((rng.standard_normal((10, 32 * 8 * 8)) * 0.01).astype(np.float32), "classifier.weight"),
        numpy_helper.from_array(np.zeros(10, np.float32), "classifier.bias"),
    ]
    nodes = []
    x = "image"
    for i in range(2):
        s = f"/features/block.{i}"
        nodes += [
            helper.make_node("Conv", [x, f"features.{i}.weight", f"features.{i}.bias"], [f"{s}/conv/Conv_output_0"], name=f"{s}/conv/Conv", pads=[1, 1, 1, 1], kernel_shape=[3, 3]),
            helper.make_node("Relu", [f"{s}/conv/Conv_output_0"], [f"{s}/act/Relu_output_0"], name=f"{s}/act/Relu"),
            helper.make_node("MaxPool", [f"{s}/act/Relu_output_0"], [f"{s}/pool/MaxPool_output_0"], name=f"{s}/pool/MaxPool", kernel_shape=[2, 2], strides=[2, 2]),
        ]
        x = f"{s}/pool/MaxPool_output_0"
    nodes += [
        helper.make_node("Flatten", [x], ["/classifier/Flatten_output_0"], name="/classifier/Flatten", axis=1),
        helper.make_node("Gemm", ["/classifier/Flatten_output_0", "classifier.weight", "classifier.bias"], ["scores"], name="/classifier/Gemm", transB=1),
    ]
    graph = helper.make_graph(
        nodes,
        "convnet",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 3, 32, 32])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["batch", 10])],
        initializer=inits,
    )
    return _model(graph)


def convnet_serving(rng):
    """The servers benchmark's conv net (`make bench-servers`): three Conv-ReLU-MaxPool blocks
    (3→48→96→96 channels) on NCHW 3x96x96 images and a Gemm head, about 2 ms per image on one
    core, so that serving overhead is small next to the model, as in production."""
    def conv_w(cout, cin, k):
        return (rng.standard_normal((cout, cin, k, k)) / np.sqrt(cin * k * k)).astype(np.float32)

    channels = [3, 48, 96, 96]
    inits, nodes, x = [], [], "image"
    for i in range(3):
        inits += [numpy_helper.from_array(conv_w(channels[i + 1], channels[i], 3), f"features.{i}.weight"),
                  numpy_helper.from_array(np.zeros(channels[i + 1], np.float32), f"features.{i}.bias")]
        s = f"/features/block.{i}"
        nodes += [
            helper.make_node("Conv", [x, f"features.{i}.weight", f"features.{i}.bias"], [f"{s}/conv/Conv_output_0"], name=f"{s}/conv/Conv", pads=[1, 1, 1, 1], kernel_shape=[3, 3]),
            helper.make_node("Relu", [f"{s}/conv/Conv_output_0"], [f"{s}/act/Relu_output_0"], name=f"{s}/act/Relu"),
            helper.make_node("MaxPool", [f"{s}/act/Relu_output_0"], [f"{s}/pool/MaxPool_output_0"], name=f"{s}/pool/MaxPool", kernel_shape=[2, 2], strides=[2, 2]),
        ]
        x = f"{s}/pool/MaxPool_output_0"
    inits += [numpy_helper.from_array((rng.standard_normal((10, 96 * 12 * 12)) * 0.01).astype(np.float32), "classifier.weight"),
              numpy_helper.from_array(np.zeros(10, np.float32), "classifier.bias")]
    nodes += [
        helper.make_node("Flatten", [x], ["/classifier/Flatten_output_0"], name="/classifier/Flatten", axis=1),
        helper.make_node("Gemm", ["/classifier/Flatten_output_0", "classifier.weight", "classifier.bias"], ["scores"], name="/classifier/Gemm", transB=1),
    ]
    graph = helper.make_graph(
        nodes,
        "convnet_serving",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 3, 96, 96])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["batch", 10])],
        initializer=inits,
    )
    return _model(graph)


def multi_input(rng):
    """Token ids (int64), a boolean mask and a float scale: an embedding bag, three dtypes, two symbolic dims."""
    emb = rng.standard_normal((32, 16)).astype(np.float32)
    inits = [
        numpy_helper.from_array(emb, "embed.weight"),
        numpy_helper.from_array(np.array([1], np.int64), "axes_seq"),
    ]
    nodes = [
        helper.make_node("Gather", ["embed.weight", "tokens"], ["/embed/Gather_output_0"], name="/embed/Gather", axis=0),
        helper.make_node("Cast", ["mask"], ["/pool/Cast_output_0"], name="/pool/Cast", to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["/pool/Cast_output_0", "axes_2"], ["/pool/Unsqueeze_output_0"], name="/pool/Unsqueeze"),
        helper.make_node("Mul", ["/embed/Gather_output_0", "/pool/Unsqueeze_output_0"], ["/pool/Mul_output_0"], name="/pool/Mul"),
        helper.make_node("ReduceSum", ["/pool/Mul_output_0", "axes_seq"], ["/pool/ReduceSum_output_0"], name="/pool/ReduceSum", keepdims=0),
        helper.make_node("Mul", ["/pool/ReduceSum_output_0", "scale"], ["pooled"], name="/head/Mul"),
    ]
    inits.append(numpy_helper.from_array(np.array([2], np.int64), "axes_2"))
    graph = helper.make_graph(
        nodes,
        "multi_input",
        [
            helper.make_tensor_value_info("tokens", TensorProto.INT64, ["batch", "seq"]),
            helper.make_tensor_value_info("mask", TensorProto.BOOL, ["batch", "seq"]),
            helper.make_tensor_value_info("scale", TensorProto.FLOAT, [1]),
        ],
        [helper.make_tensor_value_info("pooled", TensorProto.FLOAT, ["batch", 16])],
        initializer=inits,
    )
    return _model(graph)


def all_dtypes():
    """One input per element type the synthetic generator makes, each passed through Identity."""
    types = {
        "f32": TensorProto.FLOAT, "f16": TensorProto.FLOAT16, "f64": TensorProto.DOUBLE,
        "i8": TensorProto.INT8, "i16": TensorProto.INT16, "i32": TensorProto.INT32, "i64": TensorProto.INT64,
        "u8": TensorProto.UINT8, "b": TensorProto.BOOL, "s": TensorProto.STRING,
    }
    nodes = [helper.make_node("Identity", [f"in_{k}"], [f"out_{k}"], name=f"/{k}/Identity") for k in types]
    graph = helper.make_graph(
        nodes,
        "all_dtypes",
        [helper.make_tensor_value_info(f"in_{k}", t, ["batch", 3]) for k, t in types.items()],
        [helper.make_tensor_value_info(f"out_{k}", t, ["batch", 3]) for k, t in types.items()],
    )
    return _model(graph)


def unsupported_op():
    """A well-formed model whose only node has an operator no runtime implements."""
    graph = helper.make_graph(
        [helper.make_node("AssayNoSuchOp", ["x"], ["y"], name="/mystery/AssayNoSuchOp", domain="com.assay.missing")],
        "unsupported_op",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])],
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET), helper.make_opsetid("com.assay.missing", 1)],
        producer_name="assay-fixtures",
    )
    model.ir_version = IR_VERSION
    return model


def lookup(flaky):
    """Two versions of one gateway model (x: float[batch, 4] -> y: float[batch, 4]).

    The safe one doubles x. The flaky one gathers rows of a 10-row table at
    index max(x[i]): a request whose values reach 10 fails inside ONNX Runtime (an
    out-of-bounds Gather), which is how the canary tests make a candidate that errs.
    """
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])
    if not flaky:
        two = numpy_helper.from_array(np.array(2.0, dtype=np.float32), "two")
        nodes = [helper.make_node("Mul", ["x", "two"], ["y"], name="double")]
        inits = [two]
    else:
        table = numpy_helper.from_array(np.arange(40, dtype=np.float32).reshape(10, 4), "table")
        nodes = [
            helper.make_node("ReduceMax", ["x"], ["m"], name="row_max", axes=[1], keepdims=0),
            helper.make_node("Cast", ["m"], ["idx"], name="to_index", to=TensorProto.INT64),
            helper.make_node("Gather", ["table", "idx"], ["y"], name="lookup", axis=0),
        ]
        inits = [table]
    graph = helper.make_graph(nodes, "lookup_flaky" if flaky else "lookup", [x], [y], initializer=inits)
    return _model(graph)


def lookup_slow():
    """`lookup` with the same signature and answers (y = 2x), but about 20 ms of work per
    request: a 1024x1024 matrix product that depends on x and is added in times zero. The
    slow shadow of the gateway's shadow tests (a shadow must never slow the stable)."""
    n = 1024
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])
    rng = np.random.default_rng(7)
    inits = [
        numpy_helper.from_array(np.array(2.0, dtype=np.float32), "two"),
        numpy_helper.from_array(np.array(0.0, dtype=np.float32), "zero"),
        numpy_helper.from_array((rng.standard_normal((n, n)) * 1e-3).astype(np.float32), "c"),
    ]
    nodes = [
        helper.make_node("ReduceMean", ["x"], ["mean"], name="mean", keepdims=0),
        helper.make_node("Mul", ["c", "mean"], ["u"], name="scale"),
        helper.make_node("MatMul", ["u", "c"], ["w"], name="work"),
        helper.make_node("ReduceSum", ["w"], ["total"], name="total", keepdims=0),
        helper.make_node("Mul", ["total", "zero"], ["nothing"], name="times_zero"),
        helper.make_node("Mul", ["x", "two"], ["doubled"], name="double"),
        helper.make_node("Add", ["doubled", "nothing"], ["y"], name="out"),
    ]
    return _model(helper.make_graph(nodes, "lookup_slow", [x], [y], initializer=inits))


def lookup_variants():
    """Versions of `lookup` whose signatures differ from it, one way each, for the gateway's
    compatibility check (crates/assay-gateway/tests/process.rs): each doubles its input.
    Only `lookup_more_outputs` (an extra output) is a change old clients cannot notice.
    `lookup_perturbed` has lookup's signature but multiplies by 2.02, for the shadow's
    output comparison (its error is 0.02·|x|)."""

    def variant(name, x="x", elem=TensorProto.FLOAT, width=4, batch="batch", extra_input=False,
                y="y", extra_output=False, factor=2.0):
        inputs = [helper.make_tensor_value_info(x, elem, [batch, width])]
        np_type = helper.tensor_dtype_to_np_dtype(elem)
        inits = [numpy_helper.from_array(np.array(factor, dtype=np_type), "two")]
        nodes = [helper.make_node("Mul", [x, "two"], ["doubled"], name="double")]
        if extra_input:
            inputs.append(helper.make_tensor_value_info("scale", elem, [batch, 1]))
            nodes.append(helper.make_node("Mul", ["doubled", "scale"], [y], name="scale"))
        else:
            nodes.append(helper.make_node("Identity", ["doubled"], [y], name="out"))
        outputs = [helper.make_tensor_value_info(y, elem, [batch, width])]
        if extra_output:
            nodes.append(helper.make_node("Identity", [x], ["echo"], name="echo"))
            outputs.append(helper.make_tensor_value_info("echo", elem, [batch, width]))
        return name, _model(helper.make_graph(nodes, name, inputs, outputs, initializer=inits))

    return dict([
        variant("lookup_renamed_input", x="features"),
        variant("lookup_fp64", elem=TensorProto.DOUBLE),
        variant("lookup_wider", width=8),
        variant("lookup_fixed_batch", batch=1),
        variant("lookup_extra_input", extra_input=True),
        variant("lookup_renamed_output", y="doubled_x"),
        variant("lookup_more_outputs", extra_output=True),
        variant("lookup_perturbed", factor=2.02),
    ])


def big_external(out_dir):
    """A model whose external data is a 2.4 GB sparse file: inspect must handle it without reading it."""
    n = 600_000_000  # float32 -> 2.4 GB
    data_name = "big_external.weights"
    w = TensorProto()
    w.name = "huge.weight"
    w.data_type = TensorProto.FLOAT
    w.dims.extend([n])
    w.data_location = TensorProto.EXTERNAL
    for k, v in (("location", data_name), ("offset", "0"), ("length", str(n * 4))):
        w.external_data.append(onnx.StringStringEntryProto(key=k, value=v))
    graph = helper.make_graph(
        [
            helper.make_node("ReduceSum", ["huge.weight"], ["/sum/ReduceSum_output_0"], name="/sum/ReduceSum", keepdims=1),
            helper.make_node("Add", ["x", "/sum/ReduceSum_output_0"], ["y"], name="/out/Add"),
        ],
        "big_external",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
        initializer=[w],
    )
    onnx.save_model(_model(graph), os.path.join(out_dir, "big_external.onnx"))
    with open(os.path.join(out_dir, data_name), "wb") as f:
        f.truncate(n * 4)  # sparse: no disk space, no memory


def write_inputs(out_dir, rng):
    """Real-input files for --input: a matching batch, a wrong shape, a wrong dtype, an .npz."""
    d = os.path.join(out_dir, "inputs")
    os.makedirs(d, exist_ok=True)
    np.save(os.path.join(d, "mlp_b4.npy"), rng.standard_normal((4, 512)).astype(np.float32))
    np.save(os.path.join(d, "mlp_wrong_shape.npy"), rng.standard_normal((4, 100)).astype(np.float32))
    np.save(os.path.join(d, "mlp_wrong_dtype.npy"), rng.integers(0, 9, (4, 512)).astype(np.int32))
    np.savez(
        os.path.join(d, "multi_b2.npz"),
        tokens=rng.integers(0, 32, (2, 7)).astype(np.int64),
        mask=rng.integers(0, 2, (2, 7)).astype(bool),
        scale=np.array([0.5], np.float32),
    )
    # A serialized TensorProto: a valid protobuf, but not a model (ONNX test data looks like this).
    t = numpy_helper.from_array(np.arange(6, dtype=np.float32).reshape(2, 3), "input_0")
    with open(os.path.join(out_dir, "tensor.pb"), "wb") as f:
        f.write(t.SerializeToString())


def accuracy_fixtures(out, base):
    """Candidates for `assay accuracy`, all derived from the conv net `base`:

    - convnet_perturbed.onnx: one weight of /features/block.1/conv/Conv changed by 0.25, so
      the first diverging node is known;
    - convnet_fp16.onnx: onnxconverter-common's float16 conversion (inputs and outputs stay
      float32, so it compares with the original by name and type);
    - convnet_int8.onnx: ONNX Runtime's static QDQ quantization, calibrated on seeded images;
    - sample-mlp_perturbed.onnx: the committed sample model with one bias of
      /encoder/layer.1/fc/Add raised by 1.0 (what the console's end-to-end test compares).
    """
    import copy

    def perturbed(model, initializer, index, delta, name):
        changed = copy.deepcopy(model)
        for t in changed.graph.initializer:
            if t.name == initializer:
                w = numpy_helper.to_array(t).copy()
                w[index] += delta
                t.CopyFrom(numpy_helper.from_array(w, t.name))
        onnx.save_model(changed, os.path.join(out, name))

    perturbed(base, "features.1.weight", (5, 3, 1, 1), 0.25, "convnet_perturbed.onnx")
    sample = onnx.load(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "assets", "sample-mlp.onnx"))
    perturbed(sample, "encoder.layer.1.fc.bias", (7,), 1.0, "sample-mlp_perturbed.onnx")

    from onnxconverter_common import float16

    fp16 = float16.convert_float_to_float16(copy.deepcopy(base), keep_io_types=True)
    onnx.save_model(fp16, os.path.join(out, "convnet_fp16.onnx"))

    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    class Images(CalibrationDataReader):
        def __init__(self):
            rng = np.random.default_rng(5)
            self.batches = iter([{"image": rng.uniform(-1, 1, (1, 3, 32, 32)).astype(np.float32)} for _ in range(16)])

        def get_next(self):
            return next(self.batches, None)

    src = os.path.join(out, "convnet.onnx")
    quantize_static(src, os.path.join(out, "convnet_int8.onnx"), Images(), quant_format=QuantFormat.QDQ,
                    activation_type=QuantType.QInt8, weight_type=QuantType.QInt8)


def transformer(rng, blocks, layers_per_block, heads=4, d=8, name="transformer"):
    """A transformer-like encoder for the graph viewer: `blocks` x `layers_per_block` layers
    of 43 scoped nodes each (per-head attention, an MLP, residuals and layer norms), with
    tiny weights, so its size is in the graph, not the weights. 24 x 20 layers are 20,640
    nodes; scopes nest /encoder/block.B/layer.L/{attn/head.H,mlp}/..."""
    nodes, inits = [], []
    hd = d // heads

    def w(shape, nm):
        inits.append(numpy_helper.from_array((rng.standard_normal(shape) * 0.1).astype(np.float32), nm))
        return nm

    inits.append(numpy_helper.from_array(np.array(np.sqrt(hd), dtype=np.float32), "scale"))
    inits.append(numpy_helper.from_array(np.ones(d, dtype=np.float32), "ln.gamma"))
    inits.append(numpy_helper.from_array(np.zeros(d, dtype=np.float32), "ln.beta"))
    x = "input"

    def node(op, ins, scope, leaf, **attrs):
        out = f"{scope}/{leaf}_output_0"
        nodes.append(helper.make_node(op, ins, [out], name=f"{scope}/{leaf}", **attrs))
        return out

    for b in range(blocks):
        for l in range(layers_per_block):
            s = f"/encoder/block.{b}/layer.{l}"
            p = f"b{b}.l{l}"
            head_outs = []
            for h in range(heads):
                hs = f"{s}/attn/head.{h}"
                q = node("MatMul", [x, w((d, hd), f"{p}.h{h}.q")], hs, "MatMul_q")
                k = node("MatMul", [x, w((d, hd), f"{p}.h{h}.k")], hs, "MatMul_k")
                v = node("MatMul", [x, w((d, hd), f"{p}.h{h}.v")], hs, "MatMul_v")
                kt = node("Transpose", [k], hs, "Transpose", perm=[0, 2, 1])
                sc = node("MatMul", [q, kt], hs, "MatMul_scores")
                sc = node("Div", [sc, "scale"], hs, "Div")
                pr = node("Softmax", [sc], hs, "Softmax", axis=-1)
                head_outs.append(node("MatMul", [pr, v], hs, "MatMul_context"))
            cat = node("Concat", head_outs, f"{s}/attn", "Concat", axis=-1)
            o = node("MatMul", [cat, w((d, d), f"{p}.o")], f"{s}/attn", "MatMul_out")
            r = node("Add", [x, o], s, "Add_residual_0")
            n1 = node("LayerNormalization", [r, "ln.gamma", "ln.beta"], s, "LayerNorm_0", axis=-1)
            m = node("MatMul", [n1, w((d, 2 * d), f"{p}.fc1")], f"{s}/mlp", "MatMul_fc1")
            m = node("Add", [m, w((2 * d,), f"{p}.fc1.bias")], f"{s}/mlp", "Add_fc1")
            m = node("Relu", [m], f"{s}/mlp", "Relu")
            m = node("MatMul", [m, w((2 * d, d), f"{p}.fc2")], f"{s}/mlp", "MatMul_fc2")
            m = node("Add", [m, w((d,), f"{p}.fc2.bias")], f"{s}/mlp", "Add_fc2")
            r = node("Add", [n1, m], s, "Add_residual_1")
            x = node("LayerNormalization", [r, "ln.gamma", "ln.beta"], s, "LayerNorm_1", axis=-1)
    nodes.append(helper.make_node("Identity", [x], ["output"], name="/head/Identity"))
    graph = helper.make_graph(
        nodes,
        name,
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", "seq", d])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", "seq", d])],
        inits,
    )
    return _model(graph)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", help="directory for the test fixtures")
    ap.add_argument("--assets", help="directory for the committed sample model")
    ap.add_argument("--big", help="directory for the viewer benchmark's 101,000-node model (not made by --out)")
    args = ap.parse_args()
    if not args.out and not args.assets and not args.big:
        ap.error("give --out, --assets and/or --big")
    if args.big:
        os.makedirs(args.big, exist_ok=True)
        big = transformer(np.random.default_rng(100), blocks=48, layers_per_block=49)
        onnx.checker.check_model(big)
        onnx.save_model(big, os.path.join(args.big, "transformer_100k.onnx"))

    if args.assets:
        os.makedirs(args.assets, exist_ok=True)
        rng = np.random.default_rng(7)
        model = mlp(rng, [64, 128, 128, 10], name="sample_mlp")
        model.doc_string = "Assay's sample model: a 3-layer MLP classifier with a dynamic batch."
        onnx.checker.check_model(model)
        onnx.save_model(model, os.path.join(args.assets, "sample-mlp.onnx"))

    if args.out:
        out = args.out
        os.makedirs(out, exist_ok=True)
        rng = np.random.default_rng(1234)
        # About 100 us per batch-1 inference on one core: the model the overhead benchmark uses.
        models = {
            "mlp.onnx": mlp(rng, [512, 768, 768, 512, 10]),
            "convnet.onnx": convnet(rng),
            "multi_input.onnx": multi_input(rng),
            "mlp_fp16.onnx": mlp(rng, [64, 128, 128, 10], name="mlp_fp16", dtype=np.float16, elem=TensorProto.FLOAT16),
            "all_dtypes.onnx": all_dtypes(),
            "lookup.onnx": lookup(flaky=False),
            "lookup_flaky.onnx": lookup(flaky=True),
            "lookup_slow.onnx": lookup_slow(),
        }
        models.update({f"{name}.onnx": m for name, m in lookup_variants().items()})
        for name, model in models.items():
            onnx.checker.check_model(model)
            onnx.save_model(model, os.path.join(out, name))
        onnx.save_model(unsupported_op(), os.path.join(out, "unsupported_op.onnx"))
        ext = mlp(np.random.default_rng(99), [256, 512, 10], name="mlp_external")
        onnx.save_model(ext, os.path.join(out, "mlp_external.onnx"), save_as_external_data=True,
                        all_tensors_to_one_file=True, location="mlp_external.onnx.data", size_threshold=1024)
        big_external(out)
        write_inputs(out, rng)
        accuracy_fixtures(out, models["convnet.onnx"])
        # The servers benchmark's 2 ms conv net (its own generator: the others' weights stay).
        serving = convnet_serving(np.random.default_rng(2))
        onnx.checker.check_model(serving)
        onnx.save_model(serving, os.path.join(out, "convnet_serving.onnx"))
        # The graph viewer's large model: 20,640 nodes.
        big = transformer(np.random.default_rng(20), blocks=24, layers_per_block=20)
        onnx.checker.check_model(big)
        onnx.save_model(big, os.path.join(out, "transformer_20k.onnx"))
    print("fixtures written")


if __name__ == "__main__":
    main()
