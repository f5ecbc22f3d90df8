"""`python -m aecf encoders train`: train the frozen encoders shipped in checkpoints/encoders/.

Three stages, seeded, on clean data only (the benchmark's corruptions are never seen in training), each in
`aecf.encoders.training` with its recipe in `training/config.py` (the defaults are the shipped encoders'):

1. `image_caption`: the image and caption towers, contrastive on MNIST train digits and the benchmark's
   caption grammar (soft multi-positive targets), plus a class-prompt cross-entropy.
2. `audio`: the audio tower, CLAP-style against the frozen class prompts, on the benchmark's train voices
   and the MBROLA, Pico and RHVoice voices no benchmark or held-out set uses.
3. `image_finetune`: the image tower alone against the frozen prompts, with typeset digits and flagged 1s.

Writes clip.safetensors (float16), audio.safetensors and encoders.json to --out (`save_encoders`); `--only`
retrains one stage and keeps the others from --out.
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import torch

from aecf.constants import NUM_CLASSES
from aecf.data.captions import class_prompt
from aecf.encoders import load_encoders, save_encoders
from aecf.encoders.clip import DIGITS_MODEL
from aecf.encoders.training.audio import train_audio
from aecf.encoders.training.config import TrainConfig, apply_override
from aecf.encoders.training.image_caption import train_clip
from aecf.encoders.training.image_finetune import finetune_image
from aecf.encoders.training.loop import log
from aecf.paths import BENCHMARK_DIR, ENCODER_DIR


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m aecf encoders train", description=__doc__.split("\n")[0])
    p.add_argument("--data", type=Path, default=BENCHMARK_DIR, help="raw benchmark (for clips.npz)")
    p.add_argument("--out", type=Path, default=ENCODER_DIR)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    p.add_argument("--device", default="cpu", help="torch device (cpu, cuda); the shipped weights: cpu")
    p.add_argument("--clip-epochs", type=float, default=None)
    p.add_argument("--audio-epochs", type=int, default=None)
    p.add_argument(
        "--set",
        nargs="*",
        action="extend",
        default=[],
        metavar="SECTION.FIELD=VALUE",
        help="override a config field, e.g. clip.lr=2e-3 audio.epochs=40 audio_net.channels=24,48,64,96",
    )
    p.add_argument(
        "--only",
        choices=("clip", "audio", "image"),
        default=None,
        help="retrain one stage; 'audio' reuses the CLIP towers already in --out, 'image' fine-tunes "
        "the image tower in --out (stage 3) and keeps everything else",
    )
    args = p.parse_args(argv)

    cfg = TrainConfig(seed=args.seed, threads=args.threads, device=args.device)
    if args.clip_epochs is not None:
        cfg.clip.epochs = args.clip_epochs
    if args.audio_epochs is not None:
        cfg.audio.epochs = args.audio_epochs
    for item in args.set:
        apply_override(cfg, item)
    torch.set_num_threads(cfg.threads)
    t0 = time.time()

    if args.only in ("audio", "image"):
        enc = load_encoders(args.out)
        clip_model, tokenizer = enc.clip, enc.tokenizer
        clip_info = enc.info.get("training", {}).get("clip", {})
    else:
        log(f"stage 1/3: image + caption towers ({cfg.clip.epochs} epochs)")
        clip_model, tokenizer, clip_info = train_clip(cfg.clip, cfg.seed, cfg.device)
    clip_model.eval()
    for p_ in clip_model.parameters():
        p_.requires_grad_(False)
    # the audio tower is trained against the float16-rounded text tower it will be shipped with
    clip_model.load_state_dict(
        {k: v.half().float() if v.is_floating_point() else v for k, v in clip_model.state_dict().items()}
    )

    with torch.no_grad():
        class_emb = clip_model.encode_text(
            tokenizer([class_prompt(d) for d in range(NUM_CLASSES)]), normalize=True
        )
        logit_scale = float(clip_model.logit_scale.exp())

    if args.only in ("clip", "image"):
        enc = load_encoders(args.out)
        audio_model, audio_info, net = enc.audio, enc.info.get("training", {}).get("audio", {}), enc.audio.cfg
        if args.only == "clip":
            log("keeping the existing audio tower (it was trained against the previous text tower)")
    else:
        log(f"stage 2/3: audio tower ({cfg.audio.epochs} epochs, CLAP-style on frozen class prompts)")
        audio_model, audio_info = train_audio(
            cfg.audio, cfg.audio_net, args.data, class_emb, logit_scale, cfg.seed, cfg.device
        )
        net = cfg.audio_net
    image_info = enc.info.get("training", {}).get("image", {}) if args.only in ("audio", "clip") else {}
    if args.only in (None, "image") and cfg.image.steps > 0:
        log(f"stage 3/3: image tower fine-tune ({cfg.image.steps} steps, text and audio frozen)")
        image_info = finetune_image(clip_model, class_emb, logit_scale, cfg.image, cfg.seed, cfg.device)
    info = {
        "argv": list(argv if argv is not None else []),
        "seed": cfg.seed,
        "threads": cfg.threads,
        "device": cfg.device,
        "seconds": round(time.time() - t0, 1),
        "torch": torch.__version__,
        "machine": platform.machine(),
        "clip": clip_info,
        "audio": audio_info,
        "image": image_info,
    }
    model_name = cfg.clip.model
    if args.only in ("audio", "image"):
        model_name = enc.info["clip"].get("model_name", DIGITS_MODEL)
    save_encoders(args.out, clip_model, audio_model, net, info, model_name, test_speeds=cfg.audio.test_speeds)
    log(
        f"wrote {args.out} in {info['seconds']:.0f} s "
        f"(val zero-shot image {clip_info.get('val_zero_shot', float('nan')):.4f}, "
        f"audio val voices {audio_info.get('val_clean', float('nan')):.4f})"
    )
    return 0
