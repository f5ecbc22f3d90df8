"""`python -m aecf encoders train`: train the frozen encoders shipped in checkpoints/encoders/.

Three stages, seeded, on clean data only (the benchmark's corruptions are never seen in training):

1. Image + caption towers (open_clip, `aecf-digits-resnet`), contrastive on MNIST train digits and
   captions of the benchmark grammar. A caption is consistent with a *set* of digits (one for
   "a seven", five for "an odd number", ten for "a digit"), so targets are soft multi-positives:
   image->caption spreads over the batch's captions that fit the image (weighted 1/|set|), and
   caption->image over the images that fit the caption. A class-prompt cross-entropy ties the
   images to the zero-shot prompts. Heavy augmentation (`augment.py`) makes the tower read
   real scans and photos once preprocessed. Selection: zero-shot accuracy on MNIST val.
2. Audio tower, CLAP-style with the text tower frozen: cross-entropy of clip-vs-class-prompt
   similarities at the CLIP temperature, on clean clips of the train voices with augmentation
   (`augment.augment_audio`: speed, shift, equaliser, room, band-limit, noise; SpecAugment), plus
   renderings by 18 MBROLA, 2 Pico and 4 RHVoice voices, engines neither the benchmark nor the held-out
   sets use (`audio.extra_mbrola` = 12 per voice and digit, `audio.extra_pico` = 40, `audio.extra_rhvoice`
   = 12; speech.training_extra_voices; chosen on the held-out val halves, docs/encoders.md).
   Selection: accuracy on the val voices (clean + augmented).
3. Image tower alone (text and audio frozen), cross-entropy against the class prompts for a few
   steps with the same augmentation plus flags and bases on some 1s (`ones_with_flag_and_base`); a
   quarter of each batch is typeset digits from 55 font families disjoint from the held-out sets'
   (`image.font_share`, aecf.encoders.fonts).

Writes clip.safetensors (float16), audio.safetensors and encoders.json to --out.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from aecf.constants import CHECKPOINT_DIR, DATA_DIR, NUM_CLASSES
from aecf.encoders.audio import MEL, AudioEncoder, AudioNetConfig, logmel_batch
from aecf.encoders.augment import (
    augment_audio,
    augment_digits,
    ones_with_flag_and_base,
    place_in_window,
    spec_augment,
)
from aecf.encoders.clip import DIGITS_MODEL, MODEL_CONFIG_DIR, build_clip
from aecf.encoders.removed import strip_removed

# ------------------------------------------------------------------------------------------ configs


@dataclass
class ClipTrainConfig:
    model: str = DIGITS_MODEL  # a config in model_configs/ (aecf-digits-resnet, aecf-digits-vit)
    epochs: float = 1.5  # the ResNet tower reaches 0.988 MNIST-val zero-shot in 1.5 epochs
    batch_size: int = 256
    lr: float = 1.5e-3
    weight_decay: float = 0.05
    warmup_steps: int = 100
    # caption levels drawn for a training image: exact, partial (a set holding its digit), none
    caption_mix: tuple[float, float, float] = (0.7, 0.2, 0.1)
    class_loss_weight: float = 0.5
    augment_prob: float = 0.85
    val_size: int = 2000
    evals: int = 6  # validation points over the run (best one kept)


@dataclass
class AudioTrainConfig:
    epochs: int = 20
    batch_size: int = 128
    lr: float = 3e-3
    weight_decay: float = 1e-3
    warmup_steps: int = 30
    label_smoothing: float = 0.05
    spec_augment: float = 0.5  # probability of a frequency mask and (independently) a time mask
    evals: int = 6
    # the reverberation of `augment.augment_audio`: share of clips, tail/direct energy, length (seconds)
    p_reverb: float = 0.45
    reverb_wet: tuple[float, float] = (0.2, 1.6)
    reverb_s: float = 0.5
    # renderings of each digit by every installed MBROLA / Pico / RHVoice voice (speech.training_extra_voices):
    # engines the benchmark and the held-out sets never use (RHVoice: never one of their speakers)
    extra_mbrola: int = 12
    extra_pico: int = 40
    extra_rhvoice: int = 12
    # not training: the speeds an embedding is averaged over at test time (Encoders.audio_speeds), written
    # into encoders.json; chosen on the held-out val halves
    test_speeds: tuple[float, ...] = (0.9, 1.0, 1.1)


@dataclass
class ImageFinetuneConfig:
    """Stage 3: the image tower alone, against the frozen class prompts (text and audio untouched)."""

    steps: int = 150  # 0: skip the stage
    batch_size: int = 256
    lr: float = 3e-4
    weight_decay: float = 0.05
    ones_prob: float = 0.5  # share of 1s given a flag/base (augment.ones_with_flag_and_base)
    val_size: int = 2000
    # share of each batch drawn from typeset digits of the training fonts (aecf.encoders.fonts; families
    # disjoint from the held-out sets'), `font_variants` renderings of each digit per font
    font_share: float = 0.25
    font_variants: int = 2


@dataclass
class TrainConfig:
    seed: int = 0
    threads: int = 2
    device: str = "cpu"
    clip: ClipTrainConfig = field(default_factory=ClipTrainConfig)
    audio: AudioTrainConfig = field(default_factory=AudioTrainConfig)
    audio_net: AudioNetConfig = field(default_factory=AudioNetConfig)
    image: ImageFinetuneConfig = field(default_factory=ImageFinetuneConfig)

    @classmethod
    def from_record(cls, encoders_json: dict) -> TrainConfig:
        """The configuration an encoders.json says its towers were trained with ("training" -> each stage's
        "config", "audio" -> "net"), in this code's terms. Raises CheckpointError where it names an option
        this code no longer has switched on, or a setting it does not know (`aecf.encoders.removed`)."""
        t = encoders_json["training"]
        return cls(
            seed=int(t["seed"]),
            threads=int(t["threads"]),
            device=str(t["device"]),
            clip=_stage(ClipTrainConfig, "training.clip", t["clip"]["config"]),
            audio=_stage(AudioTrainConfig, "training.audio", t["audio"]["config"]),
            audio_net=AudioNetConfig.from_dict(encoders_json["audio"]["net"]),
            image=_stage(ImageFinetuneConfig, "training.image", t["image"]["config"]),
        )


def _stage(kind: type, section: str, recorded: dict):
    """A stage's config from its JSON record (lists back to the tuples the dataclass holds)."""
    values = strip_removed(section, recorded, {f.name for f in fields(kind)})
    return kind(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


def lr_at(step: int, total: int, warmup: int, base: float) -> float:
    """Linear warmup then cosine decay to zero."""
    if step < warmup:
        return base * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return base * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def _param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        # no decay on gains, biases, embeddings, the temperature
        if p.ndim < 2 or "embedding" in name or "logit_scale" in name or name.endswith("class_embedding"):
            no_decay.append(p)
        else:
            decay.append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def _log(msg: str) -> None:
    print(f"[encoders] {msg}", flush=True)


def _progress(stage: str, step: int, total: int, t0: float, loss: float) -> None:
    """One line every ~5 % of a stage: step, loss, elapsed and the time left at the current pace."""
    every = max(1, total // 20)
    if step % every and step != total:
        return
    elapsed = time.time() - t0
    left = elapsed / max(1, step) * (total - step)
    _log(
        f"{stage} {step}/{total} ({100 * step / total:.0f} %) loss {loss:.3f}  "
        f"{elapsed / 60:.1f} min elapsed, ~{left / 60:.1f} min left"
    )


# ------------------------------------------------------------------------------------ caption bank


@dataclass
class CaptionBank:
    """Every grammar caption with its consistent digits, tokenised once."""

    texts: list[str]
    consistent: torch.Tensor  # bool [V, 10]
    level: torch.Tensor  # int [V]: 0 exact, 1 partial, 2 none
    tokens: torch.Tensor  # [V, context]
    by_level_digit: list[list[torch.Tensor]]  # [level][digit] -> caption indices

    @classmethod
    def build(cls, tokenizer) -> CaptionBank:
        from aecf.data import captions as C

        texts, sets, levels = [], [], []
        for d in range(NUM_CLASSES):
            for t in C.exact_captions(d):
                texts.append(t)
                sets.append({d})
                levels.append(0)
        for t, digits in C.PARTIAL_CAPTIONS.items():
            texts.append(t)
            sets.append(set(digits))
            levels.append(1)
        for t in C.NONE_CAPTIONS:
            texts.append(t)
            sets.append(set(range(NUM_CLASSES)))
            levels.append(2)
        consistent = torch.zeros(len(texts), NUM_CLASSES, dtype=torch.bool)
        for i, s in enumerate(sets):
            consistent[i, sorted(s)] = True
        level = torch.tensor(levels)
        by = [
            [torch.nonzero((level == lv) & consistent[:, d]).flatten() for d in range(NUM_CLASSES)]
            for lv in range(3)
        ]
        return cls(texts, consistent, level, tokenizer(texts), by)

    def sample(
        self, labels: torch.Tensor, mix: tuple[float, float, float], gen: torch.Generator
    ) -> torch.Tensor:
        """One caption index per label: level from `mix`, then uniform among that level's fits."""
        levels = torch.multinomial(torch.tensor(mix, dtype=torch.float), len(labels), True, generator=gen)
        out = torch.empty(len(labels), dtype=torch.long)
        for i, (lv, d) in enumerate(zip(levels.tolist(), labels.tolist(), strict=True)):
            pool = self.by_level_digit[lv][d]
            out[i] = pool[torch.randint(len(pool), (1,), generator=gen)]
        return out


def soft_contrastive_loss(
    img: torch.Tensor, txt: torch.Tensor, fits: torch.Tensor, set_size: torch.Tensor, scale: torch.Tensor
) -> torch.Tensor:
    """Symmetric CLIP loss with multi-positive soft targets.

    img [B,D], txt [U,D] unit vectors; fits bool [B,U] (caption u is consistent with image b);
    set_size [U] (how many digits caption u allows). Image->caption targets weigh a fitting caption by
    1/|set| (an exact caption is stronger evidence than "an odd number"); caption->image targets are
    uniform over the fitting images.
    """
    logits = scale * img @ txt.T
    w = fits.float() / set_size.float()[None]
    t_img = w / w.sum(dim=1, keepdim=True).clamp_min(1e-12)
    t_txt = (fits.float() / fits.float().sum(dim=0, keepdim=True).clamp_min(1)).T
    loss_i = -(t_img * F.log_softmax(logits, dim=1)).sum(1).mean()
    has = fits.any(dim=0)
    loss_t = -(t_txt * F.log_softmax(logits.T, dim=1)).sum(1)[has].mean()
    return 0.5 * (loss_i + loss_t)


# --------------------------------------------------------------------------------------- stage 1


@torch.no_grad()
def zero_shot_accuracy(
    model, images: torch.Tensor, labels: torch.Tensor, class_tokens: torch.Tensor
) -> float:
    from aecf.encoders.clip import to_clip_pixels

    was = model.training
    model.eval()
    dev = model.logit_scale.device
    t = model.encode_text(class_tokens.to(dev), normalize=True)
    correct = 0
    for i in range(0, len(images), 1024):
        e = model.encode_image(to_clip_pixels(images[i : i + 1024], model).to(dev), normalize=True)
        correct += int(((e @ t.T).argmax(1).cpu() == labels[i : i + 1024]).sum())
    model.train(was)
    return correct / max(1, len(images))


def train_clip(cfg: ClipTrainConfig, seed: int, device: str = "cpu") -> tuple[torch.nn.Module, object, dict]:
    from aecf.data.captions import class_prompt
    from aecf.data.mnist import load_mnist
    from aecf.encoders.clip import to_clip_pixels

    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    x_tr, y_tr = load_mnist("train")
    x_va, y_va = load_mnist("val")
    images = torch.from_numpy(x_tr).float().div_(255)[:, None]
    labels = torch.from_numpy(y_tr)
    val_images = torch.from_numpy(x_va[: cfg.val_size]).float().div_(255)[:, None]
    val_labels = torch.from_numpy(y_va[: cfg.val_size])

    model, tokenizer = build_clip(cfg.model, None)
    model.to(device).train()
    bank = CaptionBank.build(tokenizer)
    prompts = [class_prompt(d) for d in range(NUM_CLASSES)]
    class_tokens = tokenizer(prompts)
    set_size = bank.consistent.sum(1)

    steps_per_epoch = len(images) // cfg.batch_size
    total = int(round(cfg.epochs * steps_per_epoch))
    eval_every = max(1, total // cfg.evals)
    opt = torch.optim.AdamW(_param_groups(model, cfg.weight_decay), lr=cfg.lr, betas=(0.9, 0.98))
    best = {"acc": -1.0, "step": 0, "state": None}
    history = []
    t0 = time.time()
    order = torch.randperm(len(images), generator=gen)
    pos = 0
    for step in range(total):
        if pos + cfg.batch_size > len(order):
            order, pos = torch.randperm(len(images), generator=gen), 0
        idx = order[pos : pos + cfg.batch_size]
        pos += cfg.batch_size
        y = labels[idx]
        x = augment_digits(images[idx], gen, p=cfg.augment_prob)
        cap = bank.sample(y, cfg.caption_mix, gen)
        uniq, inverse = torch.unique(cap, return_inverse=True)
        del inverse
        tokens = torch.cat([bank.tokens[uniq], class_tokens])
        for g in opt.param_groups:
            g["lr"] = lr_at(step, total, cfg.warmup_steps, cfg.lr)

        img = model.encode_image(to_clip_pixels(x, model).to(device), normalize=True)
        txt_all = model.encode_text(tokens.to(device), normalize=True)
        txt, cls = txt_all[: len(uniq)], txt_all[len(uniq) :]
        scale = model.logit_scale.exp()
        fits = bank.consistent[uniq][:, y].T.to(device)  # [B, U]
        loss = soft_contrastive_loss(img, txt, fits, set_size[uniq].to(device), scale)
        loss = loss + cfg.class_loss_weight * F.cross_entropy(scale * img @ cls.T, y.to(device))

        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        with torch.no_grad():
            model.logit_scale.clamp_(0, math.log(100))
        _progress("clip", step + 1, total, t0, loss.item())

        if (step + 1) % eval_every == 0 or step + 1 == total:
            acc = zero_shot_accuracy(model, val_images, val_labels, class_tokens)
            rec = {
                "step": step + 1,
                "epoch": round((step + 1) / steps_per_epoch, 2),
                "loss": loss.item(),
                "val_zero_shot": acc,
                "logit_scale": float(scale),
                "seconds": round(time.time() - t0, 1),
            }
            history.append(rec)
            _log(f"clip {rec}")
            if acc > best["acc"]:
                best = {
                    "acc": acc,
                    "step": step + 1,
                    "state": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
                }
    model.cpu().load_state_dict(best["state"])
    model.eval()
    info = {
        "config": asdict(cfg),
        "steps": total,
        "best_step": best["step"],
        "val_zero_shot": best["acc"],
        "history": history,
        "seconds": round(time.time() - t0, 1),
        "train_images": len(images),
        "logit_scale": float(model.logit_scale.exp()),
    }
    return model, tokenizer, info


# --------------------------------------------------------------------------------------- stage 2


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
    from aecf.data import speech

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
    _log(f"audio: {len(waves)} renderings by {len(voices)} training-only voices in {time.time() - t0:.0f} s")
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
    opt = torch.optim.AdamW(_param_groups(model, cfg.weight_decay), lr=cfg.lr)
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
            _progress("audio", step, total, t0, loss.item())
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
                _log(f"audio {rec}")
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


# --------------------------------------------------------------------------------------- stage 3


def finetune_image(
    model,
    class_emb: torch.Tensor,
    logit_scale: float,
    cfg: ImageFinetuneConfig,
    seed: int,
    device: str = "cpu",
) -> dict:
    """Fine-tune only the image tower (cross-entropy against the frozen class-prompt embeddings), with
    the full augmentation plus flags and bases on some 1s. Chosen on the held-out val halves: +3.6 pp
    handwriting, +4 pp canvas, +2.7 pp photos over the same steps without the 1s (docs/architecture.md)."""
    from aecf.data.mnist import load_mnist
    from aecf.encoders.clip import to_clip_pixels

    torch.manual_seed(seed + 2)
    gen = torch.Generator().manual_seed(seed + 2)
    x_tr, y_tr = load_mnist("train")
    x_va, y_va = load_mnist("val")
    images, labels = torch.from_numpy(x_tr).float().div_(255)[:, None], torch.from_numpy(y_tr)
    val_images, val_labels = (
        torch.from_numpy(x_va[: cfg.val_size]).float().div_(255)[:, None],
        torch.from_numpy(y_va[: cfg.val_size]),
    )
    for p_ in model.parameters():
        p_.requires_grad_(False)
    for p_ in model.visual.parameters():
        p_.requires_grad_(True)
    model.to(device)
    model.visual.train()
    cls = class_emb.to(device)
    opt = torch.optim.AdamW(
        [p_ for p_ in model.visual.parameters()], lr=cfg.lr, weight_decay=cfg.weight_decay
    )

    @torch.no_grad()
    def val_acc() -> float:
        model.visual.eval()
        e = torch.cat(
            [
                model.encode_image(to_clip_pixels(val_images[i : i + 1024], model).to(device), normalize=True)
                for i in range(0, len(val_images), 1024)
            ]
        )
        model.visual.train()
        return float(((e @ cls.T).argmax(1).cpu() == val_labels).float().mean())

    info: dict = {}
    n_font = int(round(cfg.font_share * cfg.batch_size))
    if n_font:
        from aecf.encoders.fonts import font_digit_pool

        fx, fy, info["fonts"] = font_digit_pool(cfg.font_variants, seed, log=_log)
        font_images, font_labels = torch.from_numpy(fx).float().div_(255)[:, None], torch.from_numpy(fy)
    before = val_acc()
    t0 = time.time()
    for step in range(cfg.steps):
        idx = torch.randint(len(images), (cfg.batch_size - n_font,), generator=gen)
        y = labels[idx]
        x = ones_with_flag_and_base(images[idx], y, gen, cfg.ones_prob)
        if n_font:
            fidx = torch.randint(len(font_images), (n_font,), generator=gen)
            x, y = torch.cat([x, font_images[fidx]]), torch.cat([y, font_labels[fidx]])
        x = augment_digits(x, gen)
        for g in opt.param_groups:
            g["lr"] = lr_at(step, cfg.steps, 0, cfg.lr)
        e = model.encode_image(to_clip_pixels(x, model).to(device), normalize=True)
        loss = F.cross_entropy(logit_scale * e @ cls.T, y.to(device))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        _progress("image", step + 1, cfg.steps, t0, loss.item())
    model.cpu().eval()
    for p_ in model.parameters():
        p_.requires_grad_(False)
    after = val_acc()
    _log(f"image fine-tune: MNIST val zero-shot {before:.4f} -> {after:.4f}")
    return {
        "config": asdict(cfg),
        "val_zero_shot_before": before,
        "val_zero_shot": after,
        "seconds": round(time.time() - t0, 1),
        **info,
    }


# ------------------------------------------------------------------------------------------ saving


def save_encoders(
    out: Path,
    clip_model,
    audio_model: AudioEncoder,
    net: AudioNetConfig,
    info: dict,
    model_name: str = DIGITS_MODEL,
    test_speeds: tuple[float, ...] = (1.0,),
) -> Path:
    """Write clip.safetensors (float16), audio.safetensors, encoders.json into `out`, atomically per file."""
    from safetensors.torch import save

    from aecf.data.captions import class_prompt
    from aecf.encoders import AUDIO_FILE, CLIP_FILE, CONFIG_FILE, sha256_file
    from aecf.files import write_atomic

    out.mkdir(parents=True, exist_ok=True)
    clip_state = {
        k: (v.detach().to(torch.float16) if v.is_floating_point() else v.detach()).contiguous()
        for k, v in clip_model.state_dict().items()
    }
    audio_state = {k: v.detach().contiguous() for k, v in audio_model.state_dict().items()}
    for name, state in ((CLIP_FILE, clip_state), (AUDIO_FILE, audio_state)):
        write_atomic(out / name, save(state))
    model_config = json.loads((MODEL_CONFIG_DIR / f"{model_name}.json").read_text())
    config = {
        "clip": {
            "model_name": model_name,
            "model_config": model_config,
            "weights": CLIP_FILE,
            "dtype": "float16",
            "sha256": sha256_file(out / CLIP_FILE),
        },
        "audio": {
            "net": net.to_dict(),
            "mel": MEL.to_dict(),
            "weights": AUDIO_FILE,
            "sha256": sha256_file(out / AUDIO_FILE),
            "test_speeds": [float(v) for v in test_speeds],
        },
        "class_prompts": [class_prompt(d) for d in range(NUM_CLASSES)],
        "logit_scale": float(clip_model.logit_scale.detach().float().exp()),
        "training": info,
    }
    write_atomic(out / CONFIG_FILE, json.dumps(config, indent=1))
    return out


# -------------------------------------------------------------------------------------------- main


def apply_override(cfg: TrainConfig, item: str) -> None:
    """`section.field=value` -> set it on cfg, parsed to the field's current type."""
    from dataclasses import replace

    key, _, value = item.partition("=")
    section, _, name = key.partition(".")
    target = getattr(cfg, section, None)
    if target is None or not hasattr(target, name):
        raise SystemExit(f"unknown config field {key!r}")
    old = getattr(target, name)
    if isinstance(old, tuple):
        new = tuple(type(old[0])(v) for v in value.split(","))
    elif isinstance(old, bool):
        new = value.lower() in ("1", "true", "yes")
    else:
        new = type(old)(value)
    if section == "audio_net":  # frozen dataclass
        cfg.audio_net = replace(cfg.audio_net, **{name: new})
    else:
        setattr(target, name, new)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m aecf encoders train", description=__doc__.split("\n")[0])
    p.add_argument("--data", type=Path, default=DATA_DIR / "benchmark", help="raw benchmark (for clips.npz)")
    p.add_argument("--out", type=Path, default=CHECKPOINT_DIR / "encoders")
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
        from aecf.encoders import load_encoders

        enc = load_encoders(args.out)
        clip_model, tokenizer = enc.clip, enc.tokenizer
        clip_info = enc.info.get("training", {}).get("clip", {})
    else:
        _log(f"stage 1/3: image + caption towers ({cfg.clip.epochs} epochs)")
        clip_model, tokenizer, clip_info = train_clip(cfg.clip, cfg.seed, cfg.device)
    clip_model.eval()
    for p_ in clip_model.parameters():
        p_.requires_grad_(False)
    # the audio tower is trained against the float16-rounded text tower it will be shipped with
    clip_model.load_state_dict(
        {k: v.half().float() if v.is_floating_point() else v for k, v in clip_model.state_dict().items()}
    )

    from aecf.data.captions import class_prompt

    with torch.no_grad():
        class_emb = clip_model.encode_text(
            tokenizer([class_prompt(d) for d in range(NUM_CLASSES)]), normalize=True
        )
        logit_scale = float(clip_model.logit_scale.exp())

    if args.only in ("clip", "image"):
        from aecf.encoders import load_encoders

        enc = load_encoders(args.out)
        audio_model, audio_info, net = enc.audio, enc.info.get("training", {}).get("audio", {}), enc.audio.cfg
        if args.only == "clip":
            _log("keeping the existing audio tower (it was trained against the previous text tower)")
    else:
        _log(f"stage 2/3: audio tower ({cfg.audio.epochs} epochs, CLAP-style on frozen class prompts)")
        audio_model, audio_info = train_audio(
            cfg.audio, cfg.audio_net, args.data, class_emb, logit_scale, cfg.seed, cfg.device
        )
        net = cfg.audio_net
    image_info = enc.info.get("training", {}).get("image", {}) if args.only in ("audio", "clip") else {}
    if args.only in (None, "image") and cfg.image.steps > 0:
        _log(f"stage 3/3: image tower fine-tune ({cfg.image.steps} steps, text and audio frozen)")
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
    _log(
        f"wrote {args.out} in {info['seconds']:.0f} s "
        f"(val zero-shot image {clip_info.get('val_zero_shot', float('nan')):.4f}, "
        f"audio val voices {audio_info.get('val_clean', float('nan')):.4f})"
    )
    return 0
