"""Backpropagation, stepped, in Chromium: the numbers the page shows are the engine's; the lessons read."""

from __future__ import annotations

import numpy as np
from playwright.sync_api import Page, expect

from cnn_core.chain import pretrained
from tests.app.test_chain_weights import drawn_seven
from tests.e2e.conftest import shoot

COMPUTE_MS = 60_000  # a shared test machine may take a while to compute a network's backward pass
SIZES = {"1280x800": (1280, 800), "1920x1080": (1920, 1080), "800x900": (800, 900)}


def painted(page: Page) -> None:
    """Wait until the page has laid out and painted twice."""
    page.evaluate("() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))")


def open_page(page: Page) -> None:
    """Open the page as a user does: its cold start has begun playing before anything is clicked."""
    page.goto("/")
    page.wait_for_function("() => kernelLens.player.playing", timeout=COMPUTE_MS)


def shoot_sizes(page: Page, name: str) -> None:
    for label, (width, height) in SIZES.items():
        page.set_viewport_size({"width": width, "height": height})
        painted(page)
        painted(page)
        shoot(page, f"{name}-{label}")
    page.set_viewport_size({"width": 1280, "height": 800})
    painted(page)


def test_the_mnist_lesson_reads_the_drawn_seven_with_pretrained_weights(page: Page) -> None:
    page.goto("/")
    page.get_by_role("tab", name="Layers").click()
    page.get_by_role("button", name="The classic MNIST network reads a drawn 7").click()
    expect(page.locator("#chain-view .lesson")).to_contain_text("weights are trained")
    expect(page.locator("#chain-view .lesson")).not_to_contain_text("random")
    bars = page.locator("#chain-view .chain-card").last.locator(".bar-row .mono")
    expect(bars).to_have_count(10)
    shown = [float(text) for text in bars.all_inner_texts()]
    expected = pretrained("mnist").predict(np.array(drawn_seven())[None, None])[0]
    assert int(np.argmax(shown)) == 7
    assert np.allclose(shown, [float(f"{value:.3g}") for value in expected], rtol=1e-9, atol=1e-12)
    shoot_sizes(page, "backprop-lesson-mnist")
    assert page.errors == []  # type: ignore[attr-defined]


NUMBERS = "#calc-body .num-grid span, #calc-body .sum, #calc-body .result"


def shown_number(text: str) -> float:
    """A number as the page writes it (formatNumber writes U+2212 only in minus infinity)."""
    return float(text.replace("\u2212", "-"))


def as_shown(value: float) -> float:
    """The engine's number rounded as the page's formatNumber writes it (static/js/render/colors.js): integers
    whole, 3 decimals from 1, 3 significant digits from 0.001, else 2 significant digits (1 decimal exponent)."""
    magnitude = abs(value)
    if float(value).is_integer() and magnitude < 1e6:
        return float(value)
    if magnitude >= 1000:
        return float(f"{value:.1f}")
    if magnitude >= 1:
        return float(f"{value:.3f}")
    if magnitude >= 0.001:
        return float(f"{value:.3g}")
    return float(f"{value:.1e}")


def close_to_shown(shown: float, value: float) -> bool:
    """The number the page shows is the engine's, rounded as formatNumber rounds it."""
    return abs(shown - as_shown(value)) <= 1e-9 * abs(shown) + 1e-300


def engine_by_hand() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The by-hand example through cnn_core in this process: the input, dL/dz of the conv, dL/dW[0, 0]."""
    from app.backprop_schemas import BY_HAND_INPUT, BY_HAND_LAYERS, BY_HAND_WEIGHTS
    from cnn_core.backprop import backprop_steps
    from cnn_core.chain import Chain
    from cnn_core.grad import conv2d_backward

    chain = Chain(BY_HAND_LAYERS)
    chain.build((1, 5, 5))
    chain.set_weights([np.asarray(w, dtype=np.float64) for w in BY_HAND_WEIGHTS])
    x = np.asarray(BY_HAND_INPUT, dtype=np.float64)[None]
    steps = backprop_steps(chain, x, 1)
    grad_z = steps.layers[0].grad_preactivation
    _, grad_w, _ = conv2d_backward(grad_z, x, np.asarray(BY_HAND_WEIGHTS[0], dtype=np.float64))
    assert np.allclose(grad_w, steps.layers[0].grads["kernel"])
    return x[0], grad_z[0], grad_w[0, 0]


def go_to_step(page: Page, title: str) -> None:
    option = page.locator("#bp-step option", has_text=title)
    page.select_option("#bp-step", option.first.get_attribute("value"))


def test_one_gradient_by_hand_steps_dW_with_the_engines_numbers(page: Page) -> None:
    open_page(page)
    page.get_by_role("tab", name="Backprop").click()
    page.get_by_role("button", name="One gradient by hand").click()
    expect(page.locator("#bp-lesson")).to_be_visible()
    expect(page.locator("#bp-lesson-text")).to_contain_text("Every number is small enough to check on paper")
    expect(page.locator("#bp-count")).to_have_text("step 1 of 9", timeout=COMPUTE_MS)
    shoot_sizes(page, "backprop-by-hand-forward")
    go_to_step(page, "dL/dlogits")
    expect(page.locator(".bp-classes tbody tr").last).to_contain_text("-0.182")
    shoot_sizes(page, "backprop-by-hand-logits")
    x, grad_z, grad_w = engine_by_hand()
    go_to_step(page, "dL/dW[0, 0]")
    expect(page.locator("#output-title")).to_have_text("dL/dW[0, 0] (3, 3)", timeout=COMPUTE_MS)
    expect(page.locator("#counter")).to_have_text("step 1 of 9", timeout=COMPUTE_MS)
    expect(page.locator("#bp-lesson")).to_be_visible()  # the lesson's text stays beside the stage
    for k in range(9):
        i, j = divmod(k, 3)
        # the run's first frame may take a while to come on a loaded machine
        expect(page.locator("#counter")).to_have_text(f"step {k + 1} of 9", timeout=COMPUTE_MS)
        expect(page.locator("#calc-where")).to_have_text(f"output map 1, row {i}, col {j}")
        grids = page.locator("#calc-body .num-grid")
        patch = [shown_number(t) for t in grids.nth(0).locator("span").all_inner_texts()]
        kernel = [shown_number(t) for t in grids.nth(1).locator("span").all_inner_texts()]
        products = [shown_number(t) for t in grids.nth(2).locator("span").all_inner_texts()]
        assert patch == x[i:i + 3, j:j + 3].ravel().tolist()  # the layer's input under the window
        assert all(close_to_shown(s, v) for s, v in zip(kernel, grad_z.ravel(), strict=True))  # dL/dz as the kernel
        assert all(close_to_shown(s, v) for s, v in
                   zip(products, (x[i:i + 3, j:j + 3] * grad_z).ravel(), strict=True))
        result = shown_number(page.locator("#calc-body .result").inner_text())
        assert close_to_shown(result, grad_w[i, j]), (k, result, grad_w[i, j])
        if k == 4:
            page.set_viewport_size({"width": 1920, "height": 1080})
            painted(page)
            sizes = page.locator(NUMBERS).evaluate_all(
                "nodes => nodes.map((node) => parseFloat(getComputedStyle(node).fontSize))")
            assert len(sizes) == 27 + 2 and min(sizes) >= 16
            shoot_sizes(page, "backprop-by-hand-dW")
        page.locator("#step-forward").click()
    go_to_step(page, "Optimizer step")
    cells = page.locator(".bp-panel .bp-grid").nth(2).locator("span").all_inner_texts()
    after = (np.asarray([[1, 0, 1], [0, 1, 0], [1, 0, 1]]) - 0.1 * grad_w).ravel()
    assert [shown_number(t) for t in cells] == [as_shown(w) for w in after]
    page.set_viewport_size({"width": 1920, "height": 1080})
    painted(page)
    sizes = page.locator(".bp-panel .bp-num").evaluate_all(
        "nodes => nodes.map((node) => parseFloat(getComputedStyle(node).fontSize))")
    assert min(sizes) >= 16
    shoot_sizes(page, "backprop-by-hand-sgd")
    assert page.errors == []  # type: ignore[attr-defined]


def test_the_pretrained_networks_conv_gradients_step_with_the_engines_numbers(page: Page) -> None:
    from cnn_core.backprop import backprop_steps
    from cnn_core.datasets import load_digits

    open_page(page)
    page.get_by_role("tab", name="Backprop").click()
    expect(page.locator("#bp-count")).to_have_text("step 1 of 18", timeout=COMPUTE_MS)
    shoot_sizes(page, "backprop-mnist-forward")
    _, (x_test, y_test) = load_digits()
    chain = pretrained("mnist")
    copy = type(chain)(chain.specs)
    copy.build((1, 28, 28))
    copy.set_weights([np.asarray(w, dtype=np.float64) for w in chain.get_weights()])
    steps = backprop_steps(copy, x_test[143].astype(np.float64), int(y_test[143]))
    go_to_step(page, "Loss")
    loss = page.locator(".bp-formula .bp-num").last.inner_text()
    assert close_to_shown(shown_number(loss), steps.loss)
    last_conv = steps.layers[4]  # conv2d_2: input 64x5x5, dL/dz 64x3x3
    grad_w = last_conv.grads["kernel"][0, 0]
    go_to_step(page, "conv2d_2 (layer 5): dL/dW[0, 0]")
    expect(page.locator("#output-title")).to_have_text("dL/dW[0, 0] (3, 3)", timeout=COMPUTE_MS)
    for k in range(9):
        # the run's first frame may take a while to come on a loaded machine
        expect(page.locator("#counter")).to_have_text(f"step {k + 1} of 9", timeout=COMPUTE_MS)
        result = shown_number(page.locator("#calc-body .result").inner_text())
        assert close_to_shown(result, grad_w.ravel()[k]), (k, result, grad_w.ravel()[k])
        cells = page.locator("#calc-body .num-grid").nth(1).locator("span").all_inner_texts()
        kernel = [shown_number(t) for t in cells]
        assert all(close_to_shown(s, v) for s, v in zip(kernel, last_conv.grad_preactivation[0].ravel(), strict=True))
        page.locator("#step-forward").click()
    shoot_sizes(page, "backprop-mnist-dW")
    go_to_step(page, "conv2d_2 (layer 5): dL/dX")
    expect(page.locator("#output-title")).to_have_text("dL/dX (64, 5, 5)")
    expect(page.locator("#counter")).to_have_text("step 1 of 9", timeout=COMPUTE_MS)
    stamp = page.locator("#calc-body .calc-row").first.locator(".sum").inner_text()
    assert "× ch 1 slice" in stamp
    # 64 channels: the first three terms and the last, all 64 on hover; before, one line of 64 terms at 9 px
    assert stamp.endswith("(64 channels)") and stamp.count(" slice") == 4
    assert page.locator("#calc-body .calc-row").first.locator(".sum").get_attribute("title").count(" slice") == 64
    size = page.locator("#calc-body").evaluate("node => parseFloat(getComputedStyle(node).fontSize)")
    assert size >= 16, size  # 19 px at 1280x800
    first = shown_number(stamp.split(" × ")[0])
    assert close_to_shown(first, last_conv.grad_preactivation[0, 0, 0])
    shoot_sizes(page, "backprop-mnist-dX")
    go_to_step(page, "max_pool2d_1")
    expect(page.locator(".bp-grid .win").first).to_be_visible()
    shoot_sizes(page, "backprop-mnist-pool")
    assert page.errors == []  # type: ignore[attr-defined]


def train_small(base_url: str) -> str:
    """Train the course's small cnn_1 for one epoch on 100 digits over /ws/train; its model id."""
    import json

    from websockets.sync.client import connect

    config = {"model": "cnn_1", "train_size": 100, "epochs": 1, "batch_size": 50, "seed": 0}
    with connect(base_url.replace("http", "ws") + "/ws/train", open_timeout=20) as socket:
        socket.send(json.dumps({"type": "start", "config": config}))
        while True:
            message = json.loads(socket.recv(timeout=120))
            assert message["type"] != "error", message
            if message["type"] in ("done", "stopped"):
                assert message["reason"] == "finished"
                model_id: str = message["model_id"]
                return model_id


def test_a_cnn_1_trained_here_steps_its_first_conv_gradient(page: Page, base_url: str) -> None:
    import io

    import httpx

    from cnn_core.backprop import backprop_steps
    from cnn_core.chain import Chain
    from cnn_core.datasets import load_digits

    model_id = train_small(base_url)
    saved = httpx.get(f"{base_url}/api/train/{model_id}/weights.npz")
    assert saved.status_code == 200
    trained = Chain.load(io.BytesIO(saved.content))
    chain = Chain(trained.specs)
    chain.build((1, 28, 28))
    chain.set_weights([np.asarray(w, dtype=np.float64) for w in trained.get_weights()])
    _, (x_test, y_test) = load_digits()
    steps = backprop_steps(chain, x_test[143].astype(np.float64), int(y_test[143]))
    open_page(page)
    page.get_by_role("tab", name="Backprop").click()
    expect(page.locator("#bp-count")).to_have_text("step 1 of 18", timeout=COMPUTE_MS)
    page.locator("#bp-model").fill(model_id)
    page.locator("#bp-model").dispatch_event("change")
    # cnn_1: two convs, flatten, dense
    expect(page.locator("#bp-count")).to_have_text("step 1 of 12", timeout=COMPUTE_MS)
    go_to_step(page, "Loss")
    assert close_to_shown(shown_number(page.locator(".bp-formula .bp-num").last.inner_text()), steps.loss)
    second = steps.layers[1]  # conv2d_1: 8 filters 3x3 "same" on 8x28x28
    go_to_step(page, "conv2d_1 (layer 2): dL/dW[0, 0]")
    expect(page.locator("#output-title")).to_have_text("dL/dW[0, 0] (3, 3)", timeout=COMPUTE_MS)
    for k in range(9):
        # the run's first frame may take a while to come on a loaded machine
        expect(page.locator("#counter")).to_have_text(f"step {k + 1} of 9", timeout=COMPUTE_MS)
        result = shown_number(page.locator("#calc-body .result").inner_text())
        assert close_to_shown(result, second.grads["kernel"][0, 0].ravel()[k]), k
        page.locator("#step-forward").click()
    go_to_step(page, "Optimizer step")
    after = [shown_number(t) for t in page.locator(".bp-panel .bp-grid").nth(2).locator("span").all_inner_texts()]
    before = np.asarray(trained.get_weights()[0], dtype=np.float64)[0, 0]  # the first conv's kernel [0, 0]
    expected = before - 0.1 * steps.layers[0].grads["kernel"][0, 0]
    assert all(close_to_shown(s, v) for s, v in zip(after, np.ravel(expected), strict=True))
    assert page.errors == []  # type: ignore[attr-defined]
