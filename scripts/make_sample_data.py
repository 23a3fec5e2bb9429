"""Builds sample_data/ for the demo: posts with captions, photos, synthesized speech and a clip.

Run once by the maintainers (the output is committed); needs espeak-ng (Debian package) for the
speech. Photos come from scikit-learn's bundled sample images (CC BY 2.0, see SOURCES.md); the
clip is rendered here with OpenCV drawing calls and PyAV.

    python scripts/make_sample_data.py --out sample_data
"""

from __future__ import annotations

import argparse
import csv
import shutil
import subprocess
import tempfile
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
from PIL import Image
from sklearn.datasets import load_sample_image

SAMPLE_RATE = 16000
PHOTO_WIDTH = 480  # keeps each photo under ~60 KB

# post id -> caption; the media each post carries is made below
CAPTIONS = {
    "post01_temple": "Sunrise at the old temple was breathtaking 😍 best trip ever! #travel",
    "post02_monday": "Oh great, another Monday. Just what I needed. 🙄",
    "post03_garden": "My flowers finally bloomed 🌸 so proud of my little garden",
    "post04_headphones": "Loving my new headphones!!! 10/10 would recommend 🎧",
    "post05_launch": "Our new product launch video is live, have a look",
    "post06_support": "Customer service kept me on hold for two hours. Fantastic. #greatservice",
    "post07_cafe": "J'adore ce nouveau café, le meilleur de la ville !",
    "post08_flight": "So angry, my flight got cancelled AGAIN. Never flying with them again #fail",
}
# post id -> what its audio track says (espeak-ng voice)
SPEECH = {
    "post04_headphones": (
        "Honestly these headphones broke after two days and the sound is terrible."
    ),
    "post05_launch": "Meet our new water bottle. It keeps your drinks cold for a whole day.",
}
EXPORT_ROWS = [  # a CSV export with brand and campaign columns, text only
    ("t1", "2026-03-01T09:00", "acme", "spring", "The new Acme phone is amazing, lasts forever"),
    ("t2", "2026-03-01T10:30", "acme", "spring", "Acme support never answers. Worst experience."),
    ("t3", "2026-03-02T08:15", "acme", "spring", "Wow, my Acme phone died after a day. Love that."),
    ("t4", "2026-03-02T12:00", "globex", "launch", "Globex delivered a day early, great job 👍"),
    ("t5", "2026-03-03T18:45", "globex", "launch", "Is the Globex store open on Sundays?"),
    ("t6", "2026-03-04T07:20", "globex", "launch", "I'm so sad the Globex cafe closed down 😢"),
]


def save_photo(name: str, out: Path) -> None:
    image = Image.fromarray(load_sample_image(name))
    height = round(image.height * PHOTO_WIDTH / image.width)
    image.resize((PHOTO_WIDTH, height), Image.LANCZOS).save(out, quality=85)


def synthesize(text: str, out: Path) -> None:
    """16 kHz mono WAV of ``text`` spoken by espeak-ng."""
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "speech.wav"
        subprocess.run(["espeak-ng", "-s", "150", "-w", str(raw), text], check=True)
        with av.open(str(raw)) as src, av.open(str(out), "w", format="wav") as dst:
            stream = dst.add_stream("pcm_s16le", rate=SAMPLE_RATE, layout="mono")
            resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
            for frame in src.decode(audio=0):
                for resampled in resampler.resample(frame):
                    dst.mux(stream.encode(resampled))
            for resampled in resampler.resample(None):
                dst.mux(stream.encode(resampled))
            dst.mux(stream.encode(None))


def render_clip(speech_wav: Path, out: Path, fps: int = 12) -> None:
    """A short MP4: a bottle-shaped drawing sliding over a gradient, with the speech as audio."""
    with av.open(str(speech_wav)) as src:
        audio = np.concatenate([f.to_ndarray().reshape(-1) for f in src.decode(audio=0)])
    duration = len(audio) / SAMPLE_RATE + 0.5
    with av.open(str(out), "w") as dst:
        video = dst.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = 320, 240, "yuv420p"
        video.options = {"crf": "30"}
        sound = dst.add_stream("aac", rate=SAMPLE_RATE, layout="mono")
        for i in range(int(duration * fps)):
            canvas = np.zeros((240, 320, 3), np.uint8)
            canvas[:] = np.linspace(80, 200, 320, dtype=np.uint8)[None, :, None]
            x = 40 + (i * 4) % 240
            cv2.rectangle(canvas, (x, 80), (x + 40, 200), (30, 144, 255), -1)
            cv2.rectangle(canvas, (x + 12, 55), (x + 28, 80), (200, 200, 200), -1)
            frame = av.VideoFrame.from_ndarray(canvas, format="rgb24")
            for packet in video.encode(frame):
                dst.mux(packet)
        for packet in video.encode(None):
            dst.mux(packet)
        samples = np.concatenate([audio, np.zeros(SAMPLE_RATE // 2, audio.dtype)])
        chunk = 1024
        for start in range(0, len(samples), chunk):
            block = samples[start : start + chunk].reshape(1, -1)
            frame = av.AudioFrame.from_ndarray(block, format="s16", layout="mono")
            frame.sample_rate, frame.pts = SAMPLE_RATE, start
            frame.time_base = Fraction(1, SAMPLE_RATE)
            for packet in sound.encode(frame):
                dst.mux(packet)
        for packet in sound.encode(None):
            dst.mux(packet)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("sample_data"))
    args = parser.parse_args()
    posts = args.out / "social_media"
    shutil.rmtree(posts, ignore_errors=True)
    posts.mkdir(parents=True)
    for post, caption in CAPTIONS.items():
        (posts / f"{post}.txt").write_text(caption + "\n", encoding="utf-8")
    save_photo("china.jpg", posts / "post01_temple.jpg")
    save_photo("flower.jpg", posts / "post03_garden.jpg")
    synthesize(SPEECH["post04_headphones"], posts / "post04_headphones.wav")
    with tempfile.TemporaryDirectory() as tmp:
        speech = Path(tmp) / "launch.wav"
        synthesize(SPEECH["post05_launch"], speech)
        render_clip(speech, posts / "post05_launch.mp4")
    export = args.out / "social_media_export"
    export.mkdir(parents=True, exist_ok=True)
    with open(export / "posts.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "timestamp", "brand", "campaign", "text"])
        writer.writerows(EXPORT_ROWS)


if __name__ == "__main__":
    main()
