"""Our own held-out evaluation sets (`python -m aecf heldout build [--out DIR] [--per-set N] [--seed S]`).

Real users draw, photograph and say digits; MNIST test and the benchmark's test voices say little about
that. These sets come from sources the encoders never see in training (no MNIST pixel, no espeak-ng or
flite voice), built locally and deterministically from the seed into `data/heldout/` (git-ignored):

    handwriting  digits rendered from Debian font families, handwriting/script and ordinary ones
                 (weights, slants, stroke widths, sizes, positions), dark on light like a scan
    canvas       digits drawn as scripted strokes (several styles per digit; varied thickness, speed,
                 size and placement) rasterised like the app's canvas: white polyline, RGBA PNG 196x196
    photos       font and canvas digits on paper: perspective, rotation up to ±20°, uneven light and a
                 shadow, blur, JPEG quality 30-90, the digit 10-50 % of the frame height
    voices       "zero".."nine" from festival voices (ked diphone, slt HTS), rate and pitch varied, WAV
    voices_room  the same voices in a simulated room: early reflections + reverberant tail, background
                 noise (pink, fan hum, babble) at 0-20 dB SNR, 0.3-1 s of room tone around the word,
                 44.1/48 kHz stereo, FLAC/MP3/OGG

Every set has two halves, named `val` and `test` (alternate items, so both see every font/voice):
`val` may be used to choose recipes and checkpoints, `test` only to report. Each set's
`manifest.json` lists file, label, half and source of every item. The report
(`python -m aecf encoders report`) scores the `test` halves through the public `aecf.load().predict`,
one modality at a time, taking that modality's own zero-shot opinion (`Prediction.experts`), i.e.
exactly what a user's upload gets (`aecf.encoders.report.heldout_accuracy`).

    sets.py        the sets, their halves and their manifests (write, read, list the items)
    images.py      the image renderers: font digits, scripted strokes, photos of either on paper
    recordings.py  the audio renderers: festival voices, and the same words recorded in a simulated room
    build.py       build the missing sets, deterministically from the seed; the command
"""

from aecf.data.heldout.build import main

__all__ = ["main"]
