#!/usr/bin/env bash
# Refresh the translation catalogs after adding or changing user-facing strings:
# extract every marked string, merge into fr and en, then translate the new
# French entries by hand (the test suite fails while one is missing or fuzzy).
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/pybabel extract -F babel.cfg -k _l -k N_ -k lazy_gettext --no-location \
  -o translations/messages.pot . >/dev/null
.venv/bin/pybabel update -i translations/messages.pot -d translations --no-fuzzy-matching >/dev/null
.venv/bin/pybabel compile -d translations -D messages >/dev/null
echo "untranslated French entries:"
.venv/bin/python - <<'PY'
from babel.messages.pofile import read_po
with open("translations/fr/LC_MESSAGES/messages.po", "rb") as f:
    catalog = read_po(f)
for m in catalog:
    if m.id and (not m.string or (isinstance(m.string, tuple) and not all(m.string)) or m.fuzzy):
        print("  ", repr(m.id))
PY
