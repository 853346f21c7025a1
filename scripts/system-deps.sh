#!/usr/bin/env bash
# System packages the tests need: Debian's Chromium (browser tests; Playwright
# never downloads a browser), Pango for WeasyPrint (PDF) and poppler-utils
# (PDF tests). Installs only what is missing; without root it says what to
# install and the tests that need it fail loudly.
set -euo pipefail

missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
ldconfig -p 2>/dev/null | grep -q libpango-1.0 || missing+=(libpango-1.0-0 libpangoft2-1.0-0)
fc-list 2>/dev/null | grep -qi dejavu || missing+=(fonts-dejavu-core)
# pdftoppm / pdftotext: invoice PDF tests render pages to PNG and read their text.
command -v pdftoppm >/dev/null 2>&1 || missing+=(poppler-utils)

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "system-deps: please install: ${missing[*]} (sudo apt-get install ${missing[*]})" >&2
  exit 0
fi
echo "system-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
