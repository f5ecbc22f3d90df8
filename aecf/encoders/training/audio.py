"""Stage 2: the audio tower, CLAP-style with the text tower frozen.

Cross-entropy of clip-vs-class-prompt similarities at the CLIP temperature, on the clean clips of the
benchmark's train voices with augmentation (`augment.augment_audio`: speed, shift, equaliser, room,
band-limit, noise; SpecAugment), plus renderings by the MBROLA, Pico and RHVoice voices, engines neither the
benchmark nor the held-out sets use (`speech.training_extra_voices`). Selection: accuracy on the val voices,
clean and augmented once with a fixed seed.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from aecf.data import speech
from aecf.encoders.audio import MEL, AudioEncoder, AudioNetConfig, logmel_batch
from aecf.encoders.augment import augment_audio, place_in_window, spec_augment
from aecf.encoders.training.config import AudioTrainConfig
from aecf.encoders.training.loop import log, lr_at, param_groups, progress


def _clips(data_dir: Path, split: str) -> tuple[list[np.ndarray], torch.Tensor]:
    path = data_dir / "clips.npz"
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: build the benchmark first (`python -m aecf data build`).")
    with np.load(path, allow_pickle=False) as z:
        keep = np.nonzero(z["split"] == split)[0]
        audio, length, label = z["audio"][keep], z["length"][keep], z["label"][keep]
    return [audio[i, : length[i]].astype(np.float32) for i in range(len(keep))], torch.from_numpy(label)


def extra_train_clips(counts: dict[str, int], seed: int) -> tuple[list[np.ndarray], torch.Tensor]:
    """`counts[engine]` renderings of each digit by every installed voice of that training-only engine
    (speech.training_extra_voices: "mbrola", "pico", "rhvoice"), seeded apart from the benchmark's."""
    if max(counts.values(), default=0) <= 0:
        return [], torch.zeros(0, dtype=torch.long)
    voices = [v for v in speech.training_extra_voices() if counts.get(v.engine, 0) > 0]
    t0 = time.time()
    results = speech.synthesize_voices(voices, counts, seed=seed + 7919, progress=False)
    waves, labels = [], []
    for r in results:
        for spec, w in zip(r.specs, r.waves, strict=True):
            waves.append(w.astype(np.float32))
            labels.append(spec.digit)
    log(f"audio: {len(waves)} renderings by {len(voices)} training-only voices in {time.time() - t0:.0f} s")
    return waves, torch.tensor(labels, dtype=torch.long)


@torch.no_grad()
def _audio_accuracy(model, mels: torch.Tensor, labels: torch.Tensor, class_emb: torch.Tensor) -> float:
    was = model.training
    model.eval()
    dev = class_emb.device
    pred = torch.cat(
        [(model(mels[i : i + 512].to(dev)) @ class_emb.T).argmax(1).cpu() for i in range(0, len(mels), 512)]
    )
    model.train(was)
    return float((pred == labels).float().mean())


def train_audio(
    cfg: AudioTrainConfig,
    net: AudioNetConfig,
    data_dir: Path,
    class_emb: torch.Tensor,
    logit_scale: float,
    seed: int,
    device: str = "cpu",
) -> tuple[AudioEncoder, dict]:
    torch.manual_seed(seed + 1)
    gen = torch.Generator().manual_seed(seed + 1)
    waves, labels = _clips(data_dir, "train")
    more, more_labels = extra_train_clips(
        {"mbrola": cfg.extra_mbrola, "pico": cfg.extra_pico, "rhvoice": cfg.extra_rhvoice}, seed
    )
    waves, labels = waves + more, torch.cat([labels, more_labels])
    val_waves, val_labels = _clips(data_dir, "val")
    window = MEL.window_samples

    def augment(batch, gen_, pool):
        return augment_audio(
            batch,
            window,
            gen_,
            pool,
            p_reverb=cfg.p_reverb,
            reverb_wet=cfg.reverb_wet,
            reverb_s=cfg.reverb_s,
        )

    # validation: the clean val voices, and the same clips augmented once with a fixed seed
    val_clean, _ = place_in_window(val_waves, window, torch.Generator().manual_seed(0), max_shift=0.0)
    val_noisy = augment(val_waves, torch.Generator().manual_seed(1), val_waves)
    val_mels = (logmel_batch(val_clean), logmel_batch(val_noisy))

    model = AudioEncoder(net).to(device)
    model.train()
    class_emb = class_emb.to(device)
    opt = torch.optim.AdamW(param_groups(model, cfg.weight_decay), lr=cfg.lr)
    steps_per_epoch = math.ceil(len(waves) / cfg.batch_size)
    total = cfg.epochs * steps_per_epoch
    eval_every = max(1, total // cfg.evals)
    best = {"score": -1.0, "step": 0, "state": None}
    history = []
    t0 = time.time()
    step = 0
    for _ in range(cfg.epochs):
        order = torch.randperm(len(waves), generator=gen).tolist()
        for b in range(steps_per_epoch):
            idx = order[b * cfg.batch_size : (b + 1) * cfg.batch_size]
            x = augment([waves[i] for i in idx], gen, waves)
            mel = logmel_batch(x.to(device))
            if cfg.spec_augment > 0:
                mel = spec_augment(mel.cpu(), gen, p=cfg.spec_augment).to(device)
            for g in opt.param_groups:
                g["lr"] = lr_at(step, total, cfg.warmup_steps, cfg.lr)
            y = labels[idx].to(device)
            emb = model(mel)
            loss = F.cross_entropy(logit_scale * emb @ class_emb.T, y, label_smoothing=cfg.label_smoothing)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            progress("audio", step, total, t0, loss.item())
            if step % eval_every == 0 or step == total:
                clean = _audio_accuracy(model, val_mels[0], val_labels, class_emb)
                noisy = _audio_accuracy(model, val_mels[1], val_labels, class_emb)
                rec = {
                    "step": step,
                    "loss": loss.item(),
                    "val_clean": clean,
                    "val_augmented": noisy,
                    "seconds": round(time.time() - t0, 1),
                }
                history.append(rec)
                log(f"audio {rec}")
                score = clean + noisy
                if score > best["score"]:
                    best = {
                        "score": score,
                        "step": step,
                        "clean": clean,
                        "noisy": noisy,
                        "state": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
                    }
    model.cpu().load_state_dict(best["state"])
    model.eval()
    info = {
        "config": asdict(cfg),
        "steps": total,
        "best_step": best["step"],
        "val_clean": best["clean"],
        "val_augmented": best["noisy"],
        "history": history,
        "seconds": round(time.time() - t0, 1),
        "train_clips": len(waves),
        "val_clips": len(val_waves),
    }
    return model, info
