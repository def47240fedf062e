"""The Train tab in headless Chromium: train a small network and watch its curves and filters change, draw a 7
for the pretrained network, an empty pad refused, the lessons with their text, the setup kept in the URL."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from playwright.sync_api import Page, WebSocketRoute, expect

from tests.e2e.conftest import shoot

SIZES = [(1280, 800), (1920, 1080), (800, 900)]
LESSONS = [
    ("Filters are learned", "first-layer filters"),
    ("Overfitting: 200 digits, 30 epochs", "learns those very digits by heart"),
    ("Overfitting, remedied", "the gap to validation narrows"),
]


def open_train(page: Page, query: str = "") -> None:
    page.goto(f"/{query}")
    page.get_by_role("tab", name="Train").click()
    expect(page.locator("#train-summary table")).to_be_visible(timeout=15_000)


def probe(page: Page, expression: str) -> Any:
    return page.evaluate(f"() => window.kernelLensTrain.{expression}")


def shoot_sizes(page: Page, name: str) -> None:
    for width, height in SIZES:
        page.set_viewport_size({"width": width, "height": height})
        page.evaluate("() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))")
        shoot(page, f"{name}-{width}x{height}")
    page.set_viewport_size({"width": 1280, "height": 800})


def test_training_500_digits_draws_curves_and_changes_the_filters(page: Page) -> None:
    open_train(page, "?model=cnn_1_with_pooling&train_size=500&epochs=1&batch_size=50")
    expect(page.get_by_label("Network")).to_have_value("cnn_1_with_pooling")  # the URL's setup restored
    expect(page.get_by_label("Training digits")).to_have_value("500")
    expect(page.locator("#train-summary tfoot")).to_contain_text("4,722")  # 8·25+8 + 8·8·9+8 + 392·10+10
    expect(page.locator("#train-summary")).to_contain_text("400 digits to train on, 100 held out; 8 batches per epoch")
    blank = page.locator("#train-loss").evaluate("canvas => canvas.toDataURL()")
    page.get_by_role("button", name="Train", exact=True).click()
    expect(page.locator("#train-status")).to_contain_text("Done after 1 epoch", timeout=120_000)
    assert probe(page, "curves.loss.count") >= 2 and probe(page, "curves.accuracy.count") >= 2
    assert probe(page, "progress") >= 1 and probe(page, "epochs") == 1
    # the curves repaint on their own animation frame (not flushed with "Done"): a job whose messages came in one
    # burst has its points counted before they are drawn
    page.wait_for_function("(blank) => document.querySelector('#train-loss').toDataURL() !== blank", arg=blank)
    first, last = probe(page, "firstFilters"), probe(page, "lastFilters")
    assert len(first) == len(last) == 8 and first != last  # the filters' pixels changed as they learned
    expect(page.locator("#train-filters canvas")).to_have_count(8)
    expect(page.locator("#train-sobel canvas")).to_have_count(2)
    expect(page.locator("#train-sobel")).to_contain_text("sobel x ±2")  # the range the server coloured them on
    expect(page.locator("table.confusion tbody tr")).to_have_count(10)
    final = probe(page, "lastFinal")
    assert final["type"] == "done" and final["model_id"]
    expect(page.locator("#train-runs tbody tr")).to_have_count(1)
    expect(page.locator("#train-download")).to_have_attribute("href", f"api/train/{final['model_id']}/weights.npz")
    expect(page.get_by_role("button", name="Train more from these weights")).to_be_enabled()
    shoot_sizes(page, "train-watch")
    page.get_by_role("button", name="Try it").click()
    expect(page.locator("#try-model")).to_contain_text("the network you trained")
    page.get_by_role("button", name="Use this digit").click()  # validation digit 0 of the trained model
    expect(page.locator("#try-answer")).to_have_text(re.compile(r"^It says \d \(it is a \d\)$"))
    assert page.errors == []  # type: ignore[attr-defined]


def draw_seven(page: Page) -> None:
    box = page.locator("#try-pad").bounding_box()
    assert box is not None
    scale = box["width"] / 280

    def at(x: float, y: float) -> tuple[float, float]:
        return box["x"] + x * scale, box["y"] + y * scale

    page.mouse.move(*at(70, 60))
    page.mouse.down()
    page.mouse.move(*at(210, 60), steps=12)
    page.mouse.move(*at(120, 240), steps=14)
    page.mouse.up()


def test_a_job_whose_last_progress_arrives_with_its_done_ends_on_done(page: Page) -> None:
    """A short job's messages arrive in one burst: its last progress, repainted on the next animation frame,
    wrote "batch 8 of 8 · almost done" over "Done after 1 epoch" (CI, about one run in four). The socket's
    messages are held here until "done" and then handed to the page together, every time."""
    held: list[str | bytes] = []

    def burst(route: WebSocketRoute) -> None:
        server = route.connect_to_server()

        def from_server(message: str | bytes) -> None:
            held.append(message)
            if json.loads(message)["type"] in ("done", "stopped", "error"):
                for each in held:
                    route.send(each)

        server.on_message(from_server)

    page.route_web_socket(re.compile(r"/ws/train$"), burst)
    open_train(page, "?model=cnn_1&train_size=500&epochs=1&batch_size=50")
    blank = page.locator("#train-loss").evaluate("canvas => canvas.toDataURL()")
    # "Done" and the curves are painted together: when Done is written (a mutation observer sees it in the same
    # task, before any animation frame), the loss chart is already drawn (it was blank there before flush did it)
    page.evaluate("""(blank) => new MutationObserver((_, observer) => {
        if (!document.querySelector('#train-status').textContent.includes('Done after')) return;
        window.chartAtDone = document.querySelector('#train-loss').toDataURL() !== blank;
        observer.disconnect();
    }).observe(document.querySelector('#train-status'), {childList: true, characterData: true, subtree: true})""",
                  blank)
    page.get_by_role("button", name="Train", exact=True).click()
    expect(page.locator("#train-status")).to_contain_text("Done after 1 epoch", timeout=60_000)
    assert page.evaluate("() => window.chartAtDone") is True
    page.evaluate("() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))")
    expect(page.locator("#train-status")).to_contain_text("Done after 1 epoch")  # still, after the frames
    assert sum('"progress"' in str(message) for message in held) >= 1  # the burst did carry progress


def test_a_drawn_seven_is_a_seven_for_the_pretrained_network_and_an_empty_pad_is_refused(page: Page) -> None:
    open_train(page)
    page.get_by_role("button", name="Try it").click()
    expect(page.locator("#try-model")).to_contain_text("pretrained")
    page.get_by_role("button", name="Predict").click()
    expect(page.locator("#try-error")).to_contain_text("the pad is empty")
    expect(page.locator("#try-bars .prob-row")).to_have_count(0)  # no confident answer for nothing
    draw_seven(page)  # predicted on pointer-up
    expect(page.locator("#try-answer")).to_have_text("It says 7", timeout=30_000)
    expect(page.locator("#try-bars")).to_have_attribute("data-predicted", "7")
    expect(page.locator("#try-bars .prob-row.top")).to_have_attribute("data-digit", "7")
    expect(page.locator("#try-steps figure")).to_have_count(4)
    expect(page.locator("#try-maps .try-layer").first).to_contain_text("conv2d")
    shoot_sizes(page, "train-try")
    page.get_by_role("button", name="Clear").click()
    page.get_by_role("button", name="Predict").click()
    expect(page.locator("#try-error")).to_contain_text("the pad is empty")
    refused = "Failed to load resource: the server responded with a status of 422 (Unprocessable Entity)"
    assert [error for error in page.errors if error != refused] == []  # type: ignore[attr-defined]


@pytest.mark.parametrize(("title", "text"), LESSONS, ids=["filters", "overfitting", "remedies"])
def test_each_training_lesson_sets_the_form_starts_and_keeps_its_text_visible(page: Page, title: str,
                                                                              text: str) -> None:
    open_train(page)
    page.get_by_role("button", name=re.compile("^" + re.escape(title))).click()
    expect(page.locator("#train-lesson-title")).to_have_text(re.compile("^" + re.escape(title)))
    expect(page.locator("#train-lesson-text")).to_contain_text(text)
    expect(page.locator("#train-lesson-text")).to_be_visible()
    expect(page.locator("#train-status")).to_contain_text(re.compile(r"^(Training|Epoch) "), timeout=60_000)
    if "Overfitting" in title:
        expect(page.get_by_label("Training digits")).to_have_value("200")
        expect(page.get_by_label("Epochs")).to_have_value("30")
    if "remedied" in title:
        expect(page.get_by_label("Dropout rate")).to_have_value("0.3")
        expect(page.get_by_label("Early stopping", exact=True)).to_be_checked()
        expect(page.get_by_label("Augmentation shift in pixels")).to_have_value("2")
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:30]
    shoot(page, f"train-lesson-{slug}")
    stop = page.get_by_role("button", name="Stop", exact=True)
    if stop.is_enabled():  # (a fast machine may have finished already)
        stop.click()
    expect(page.locator("#train-status")).to_contain_text(re.compile(r"^(Stopped|Done)"), timeout=60_000)
    expect(page.locator("#train-lesson-text")).to_be_visible()  # the text stays beside the stage
    assert page.errors == []  # type: ignore[attr-defined]


def test_a_try_it_layer_opens_on_the_stage_with_the_learned_kernels_on_that_digit(page: Page) -> None:
    # Before: Try it showed each layer's maps as thumbnails only; no layer could be stepped
    import numpy as np

    from cnn_core import conv2d
    from cnn_core.chain import pretrained
    from cnn_core.datasets import load_digits
    from tests.e2e.test_backprop import close_to_shown, shown_number

    open_train(page)
    page.get_by_role("button", name="Try it").click()
    page.get_by_role("button", name="Use this digit").click()  # held-out test digit 0, pretrained network
    expect(page.locator("#try-answer")).to_contain_text("It says", timeout=30_000)
    first = page.locator("#try-maps .try-layer").first
    expect(first).to_contain_text("conv2d")
    first.get_by_role("button", name="Step it on the stage").click()
    counter = page.locator("#counter")
    expect(counter).to_have_text("step 1 of 21,632", timeout=30_000)  # 32 maps of 26x26: one step per value
    expect(page.locator("#train-stage-title")).to_contain_text("the pretrained network on a shipped")
    expect(page.locator("#output-canvas")).to_be_visible()
    expect(page.locator("#train-try")).to_be_hidden()
    _, (x_test, _) = load_digits()
    weights = pretrained("mnist").get_weights()
    kernel, bias = np.asarray(weights[0], dtype=np.float64), np.asarray(weights[1], dtype=np.float64)
    z = conv2d(x_test[0].astype(np.float64), kernel, bias)
    for k in range(3):
        expect(counter).to_have_text(f"step {k + 1} of 21,632")
        cells = page.locator("#calc-body .num-grid").nth(1).locator("span").all_inner_texts()
        assert all(close_to_shown(shown_number(t), v) for t, v in zip(cells, kernel[0, 0].ravel(), strict=True))
        assert close_to_shown(shown_number(page.locator("#calc-body .result").inner_text()), z[0, 0, k])
        page.locator("#step-forward").click()
    shoot_sizes(page, "train-try-stage")
    page.get_by_role("button", name="Back to Try it").click()
    expect(page.locator("#train-try")).to_be_visible()
    expect(page.locator("#output-canvas")).to_be_hidden()
    assert page.errors == []  # type: ignore[attr-defined]


def test_the_train_tab_pauses_the_cold_start_so_it_does_not_compete_with_training(page: Page) -> None:
    # Before: the stage, hidden behind the Train tab, kept streaming the bundled photo at 6,400 steps/s; the
    # server's training took 2.5x the CPU of a bare fit while the page was open (benchmarks/bench_train_page.py)
    page.goto("/")
    page.wait_for_function("() => kernelLens.player.playing", timeout=30_000)
    page.get_by_role("tab", name="Train").click()
    page.wait_for_function("() => !kernelLens.player.playing")
    page.wait_for_timeout(500)  # frames sent before the server read the pause still arrive
    before = page.evaluate("() => kernelLens.getState().step")
    page.wait_for_timeout(700)  # a paused stream sends nothing more: the step stays where it stopped
    assert page.evaluate("() => kernelLens.getState().step") == before
    page.get_by_role("tab", name="Convolution").click()
    expect(page.locator("#output-canvas")).to_be_visible()
    page.wait_for_function("() => !document.querySelector('#counter').textContent.includes('computing')")
    start = page.evaluate("() => kernelLens.getState().step")
    page.locator("#play").click()  # the stage, back on screen, plays again when asked
    page.wait_for_function(f"() => kernelLens.player.playing && kernelLens.getState().step !== {start}", timeout=30_000)
    assert page.errors == []  # type: ignore[attr-defined]
