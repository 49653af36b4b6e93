#!/usr/bin/env bash
# Installs the Debian packages a feature needs, only those missing.
#   run:  CJK font and HarfBuzz subsetter for WeasyPrint PDFs
#   test: the above, plus Chromium for browser tests, poppler for PDF checks,
#         PostgreSQL server binaries for the throw-away test database
set -euo pipefail
want=(fonts-noto-cjk libharfbuzz-subset0 libpango-1.0-0 libpangoft2-1.0-0)
if [ "${1:-run}" = "test" ]; then
  want+=(chromium poppler-utils postgresql)
fi
missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing Debian packages: ${missing[*]}"
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
