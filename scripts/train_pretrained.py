"""Train the network `cnn_core.chain.pretrained("mnist")` ships, and write cnn_core/data/mnist_chain.npz.

    python scripts/train_pretrained.py            # about 15 epochs; prints the history and the held-out score

The classic Keras MNIST network (93,322 parameters) from its Glorot seed, fitted with Chain.fit on the
8,000 training digits of cnn_core.datasets.load_digits() (float32, RMSprop, batch 64, small shifts and
rotations), then scored on the 2,000 held-out digits it never saw. Rerunning it on the same machine gives
the same file bit for bit (another CPU or BLAS may round float32 products differently).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from cnn_core.chain import MNIST_LAYERS, Chain
from cnn_core.datasets import load_digits

OUT = Path(__file__).resolve().parents[1] / "cnn_core" / "data" / "mnist_chain.npz"
SETTINGS: dict[str, Any] = {"epochs": 15, "batch_size": 64, "optimizer": "rmsprop", "learning_rate": 1e-3,
                            "augment": {"shift": 2, "rotate": 10}, "seed": 0}


def main() -> None:
    (x_train, y_train), (x_test, y_test) = load_digits()
    chain = Chain(MNIST_LAYERS, seed=0)
    start = time.perf_counter()

    def report(event: dict[str, Any]) -> None:
        if event.get("end_of_epoch"):
            print(f"epoch {event['epoch'] + 1}: loss {event['loss']:.4f} accuracy {event['accuracy']:.4f} "
                  f"({time.perf_counter() - start:.0f} s)", flush=True)

    chain.fit(x_train, y_train, callback=report, **SETTINGS)
    scores = chain.evaluate(x_test, y_test)
    print(f"held out: loss {scores['loss']:.4f} accuracy {scores['accuracy']:.4f}")
    chain.save(OUT)
    print(f"wrote {OUT} ({OUT.stat().st_size:,} bytes)")


if __name__ == "__main__":
    sys.exit(main())
