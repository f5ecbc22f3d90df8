"""Stage 1: the image and caption towers (open_clip, `aecf-digits-resnet`), contrastive on MNIST train digits
and captions of the benchmark grammar.

A caption is consistent with a *set* of digits (one for "a seven", five for "an odd number", ten for "a
digit"), so targets are soft multi-positives: image->caption spreads over the batch's captions that fit the
image (weighted 1/|set|), and caption->image over the images that fit the caption. A class-prompt
cross-entropy ties the images to the zero-shot prompts. Heavy augmentation (`augment.augment_digits`) makes
the tower read real scans and photos once preprocessed. Selection: zero-shot accuracy on MNIST val.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F

from aecf.constants import NUM_CLASSES
from aecf.data import captions as C
from aecf.data.mnist import load_mnist
from aecf.encoders.augment import augment_digits
from aecf.encoders.clip import load_clip, to_clip_pixels
from aecf.encoders.training.config import ClipTrainConfig
from aecf.encoders.training.loop import log, lr_at, param_groups, progress


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


@torch.no_grad()
def zero_shot_accuracy(
    model, images: torch.Tensor, labels: torch.Tensor, class_tokens: torch.Tensor
) -> float:
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
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    x_tr, y_tr = load_mnist("train")
    x_va, y_va = load_mnist("val")
    images = torch.from_numpy(x_tr).float().div_(255)[:, None]
    labels = torch.from_numpy(y_tr)
    val_images = torch.from_numpy(x_va[: cfg.val_size]).float().div_(255)[:, None]
    val_labels = torch.from_numpy(y_va[: cfg.val_size])

    model, _, tokenizer = load_clip(cfg.model)
    model.requires_grad_(True).to(device).train()
    bank = CaptionBank.build(tokenizer)
    prompts = [C.class_prompt(d) for d in range(NUM_CLASSES)]
    class_tokens = tokenizer(prompts)
    set_size = bank.consistent.sum(1)

    steps_per_epoch = len(images) // cfg.batch_size
    total = int(round(cfg.epochs * steps_per_epoch))
    eval_every = max(1, total // cfg.evals)
    opt = torch.optim.AdamW(param_groups(model, cfg.weight_decay), lr=cfg.lr, betas=(0.9, 0.98))
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
        progress("clip", step + 1, total, t0, loss.item())

        if (step + 1) % eval_every == 0 or step + 1 == total:
            acc = zero_shot_accuracy(model, val_images, val_labels, class_tokens)
            rec = {
                "step": step + 1,
                "epoch": round((step + 1) / steps_per_epoch, 2),
                "loss": loss.item(),
                "val_zero_shot": acc,
                "logit_scale": float(scale.detach()),
                "seconds": round(time.time() - t0, 1),
            }
            history.append(rec)
            log(f"clip {rec}")
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
        "logit_scale": float(model.logit_scale.detach().exp()),
    }
    return model, tokenizer, info
