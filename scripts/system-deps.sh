#!/usr/bin/env bash
# System packages: `scripts/system-deps.sh runtime` installs what the app needs
# to run (Pango and a font for WeasyPrint's PDFs); with no argument, also what
# the tests need: Debian's Chromium (browser tests; Playwright never downloads
# a browser) and poppler-utils (PDF tests). Installs only what is missing;
# without root it says what to install and the tests that need it fail loudly.
set -euo pipefail

missing=()
# dpkg, not `ldconfig -p | grep -q`: under pipefail grep's early exit makes
# the pipeline fail and every run would reinstall.
installed() { dpkg -s "$1" >/dev/null 2>&1; }
installed libpango-1.0-0 || missing+=(libpango-1.0-0)
installed libpangoft2-1.0-0 || missing+=(libpangoft2-1.0-0)
installed fonts-dejavu-core || missing+=(fonts-dejavu-core)
if [ "${1:-test}" != "runtime" ]; then
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
  # pdftoppm / pdftotext: PDF tests render pages to PNG and read their text.
  command -v pdftoppm >/dev/null 2>&1 || missing+=(poppler-utils)
fi

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
