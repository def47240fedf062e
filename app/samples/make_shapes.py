"""Draw app/samples/shapes.png: flat shapes with sharp edges at several angles, for edge detectors.

    python3 app/samples/make_shapes.py
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw


def main() -> None:
    image = Image.new("RGB", (320, 240), (238, 238, 230))
    draw = ImageDraw.Draw(image)
    draw.rectangle((20, 20, 110, 110), fill=(30, 30, 30))  # vertical and horizontal edges
    draw.ellipse((140, 20, 230, 110), fill=(200, 40, 40))  # edges at every angle
    draw.polygon([(250, 110), (300, 20), (310, 110)], fill=(40, 90, 200))  # slanted edges
    draw.rectangle((20, 140, 140, 220), fill=(60, 160, 80))
    draw.rectangle((50, 165, 110, 195), fill=(245, 220, 60))  # a shape inside a shape
    for index in range(8):  # stripes: a gradient of frequencies
        x0 = 170 + index * (6 + index)
        draw.rectangle((x0, 140, x0 + 2 + index // 2, 220), fill=(20, 20, 20))
    draw.line((20, 230, 300, 232), fill=(0, 0, 0), width=1)  # a one-pixel line
    image.save(Path(__file__).with_name("shapes.png"), optimize=True)


if __name__ == "__main__":
    main()
