"""The stages of `python -m aecf encoders train` (the command itself: `aecf.encoders.train`).

config.py          the recipe of each stage (the defaults are the shipped encoders'), read back from an
                   encoders.json by `TrainConfig.from_record`
image_caption.py   stage 1: the image and caption towers, contrastive
audio.py           stage 2: the audio tower against the frozen class prompts
image_finetune.py  stage 3: the image tower alone, with typeset digits and flagged 1s
loop.py            what the stages' loops share: learning-rate schedule, weight-decay groups, progress lines
"""
