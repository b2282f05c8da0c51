#!/usr/bin/env bash
# Install what policydsl and its tests need on a fresh Debian-like machine:
# graphviz and a CJK font for the diagrams, Chromium for the review-page browser test, node and npm
# for the VS Code extension (editors/vscode), Java for `--engine spark`, then a virtual environment
# with the package, its test dependencies, PySpark and the service's faster JSON and event loop.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v dot >/dev/null 2>&1 || missing+=(graphviz)
fc-list :lang=zh 2>/dev/null | grep -q . || missing+=(fonts-noto-cjk)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
# node and npm: the VS Code extension's grammar tests and its packaging (editors/vscode)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
command -v java >/dev/null 2>&1 || missing+=(default-jre-headless)
if [ ${#missing[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null 2>&1; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "installing system packages: ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "please install: ${missing[*]} (graphviz, a CJK font, chromium, node and npm, java)" >&2
  fi
fi

# vsce's dependencies (undici) need node 20 or later: Debian 12's own nodejs is 18
if command -v node >/dev/null 2>&1 && ! node -e 'process.exit(Number(process.versions.node.split(".")[0]) < 20 ? 1 : 0)'; then
  echo "node $(node --version) is too old to package the VS Code extension: install node 20 or later" >&2
fi

python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[test,serve-fast,spark]'
