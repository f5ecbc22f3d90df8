"""AECF in your own training loop, on plain tensors (the README's example).

Run it from the repository root: `python -m examples.own_training_loop`.
"""

import torch

from aecf import AECF
from aecf.losses import cec_loss, entropy_term, task_loss
from aecf.masking import acm_drop_probs, sample_keep_mask

model = AECF(dims={"image": 512, "text": 384, "audio": 40}, num_classes=7)
opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
batch = {"image": torch.randn(64, 512), "text": torch.randn(64, 384), "audio": torch.randn(64, 40)}
y, present = torch.randint(0, 7, (64,)), torch.rand(64, 3) > 0.2  # present: [B, M], False = missing
present[:, 0] |= ~present.any(1)  # every row needs one modality
for _ in range(20):
    out = model(batch, present, return_lambda=True)  # logits, gate, λ(x)
    keep = sample_keep_mask(present, acm_drop_probs(out["gate"], present, rate=0.5))  # ACM
    sub = model.subsets(batch, present)  # every modality subset, for CEC
    loss = (
        task_loss(out["logits"], y)
        + task_loss(model(batch, keep)["logits"], y)
        + entropy_term(out["gate"], out["lam"])
        + 10 * cec_loss(sub["confidence"], sub["subsets"], sub["valid"], squared=False)
    )
    opt.zero_grad()
    loss.backward()
    opt.step()
print(f"loss {loss.item():.3f}, gate of row 0 {out['gate'][0].tolist()}")
