"""A scikit-learn classifier converted by skl2onnx, for the conformance suite.

skl2onnx's default output for a classifier is a label tensor plus a ZipMap: a sequence of
maps (class -> probability), the non-tensor output every ONNX tool meets in the wild. The
model is trained on a fixed, seeded toy problem so the file is the same on every machine.

    python scripts/make_sklearn_model.py OUT.onnx
"""

import sys

import numpy as np
from skl2onnx import to_onnx
from sklearn.linear_model import LogisticRegression


def main(out: str) -> None:
    rng = np.random.default_rng(7)
    x = rng.normal(size=(300, 4)).astype(np.float32)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(np.int64) + (x[:, 2] > 1).astype(np.int64)
    clf = LogisticRegression(max_iter=500).fit(x, y)
    onx = to_onnx(clf, x[:1], target_opset=17)
    with open(out, "wb") as f:
        f.write(onx.SerializeToString())


if __name__ == "__main__":
    main(sys.argv[1])
