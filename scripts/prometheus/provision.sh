#!/usr/bin/env bash
# Makes `prometheus` and `promtool` available for the metrics tests (test/integration/metrics/prometheus.test.ts,
# test/unit/metrics/alerts.test.ts) and prints the folder that holds both. Used by .ci/run.
#
# Where they come from, first match wins:
#   1. .tributary/prometheus/bin/, from an earlier run of this script (nothing is downloaded again);
#   2. PROMETHEUS_BIN_DIR, or the folder of a `prometheus` on PATH that has `promtool` beside it (used as they are);
#   3. Debian's (or Ubuntu's) `prometheus` package, fetched with `apt-get download` and unpacked with `dpkg -x` into
#      .tributary/prometheus/: no package is installed, no service is started, no user is created. When apt's
#      package lists do not know the package (a fresh image with no lists, or lists older than the archive), the
#      script runs `apt-get update` first if it runs as root.
# Needs: bash, and for 3. apt-get and dpkg-deb (Debian, Ubuntu). Idempotent; safe to run concurrently.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
dest="$root/.tributary/prometheus"
me=scripts/prometheus/provision.sh

works() { [[ -x "$1/prometheus" && -x "$1/promtool" ]] && "$1/promtool" --version >/dev/null 2>&1; }

if works "$dest/bin"; then
  echo "$dest/bin"
  exit 0
fi
if [[ -n "${PROMETHEUS_BIN_DIR:-}" ]]; then
  if works "$PROMETHEUS_BIN_DIR"; then
    echo "$PROMETHEUS_BIN_DIR"
    exit 0
  fi
  echo "$me: PROMETHEUS_BIN_DIR=$PROMETHEUS_BIN_DIR holds no working prometheus and promtool" >&2
  exit 1
fi
if on_path=$(command -v prometheus 2>/dev/null) && works "$(dirname "$on_path")"; then
  dirname "$on_path"
  exit 0
fi

if ! command -v apt-get >/dev/null || ! command -v dpkg-deb >/dev/null; then
  echo "$me: no prometheus and promtool here, and no apt-get to fetch Debian's package;" \
    "install Prometheus (2.x or 3.x) yourself and set PROMETHEUS_BIN_DIR to the folder holding both" >&2
  exit 1
fi

mkdir -p "$root/.tributary"
work=$(mktemp -d "$root/.tributary/prometheus-download.XXXXXX")
trap 'rm -rf "$work"' EXIT
# As root, apt downloads as its _apt user, which cannot write into this private folder: download as root instead.
apt_options=()
[[ "$(id -u)" == 0 ]] && apt_options=(-o APT::Sandbox::User=root)

download() { (cd "$work" && apt-get download "${apt_options[@]}" -q prometheus) >"$work/apt.log" 2>&1; }

echo "$me: fetching Debian's prometheus package with apt-get download (about 20 MB, once)" >&2
if ! download; then
  if [[ "$(id -u)" != 0 ]]; then
    echo "$me: apt-get download prometheus failed (as a user that cannot run apt-get update):" >&2
    cat "$work/apt.log" >&2
    exit 1
  fi
  echo "$me: apt's package lists do not have it; running apt-get update" >&2
  apt-get update -q >"$work/update.log" 2>&1 || { cat "$work/update.log" >&2; exit 1; }
  download || { cat "$work/apt.log" >&2; exit 1; }
fi

deb=$(echo "$work"/prometheus_*.deb)
dpkg-deb -x "$deb" "$work/unpacked"
mkdir -p "$work/prometheus/bin"
mv "$work/unpacked/usr/bin/prometheus" "$work/unpacked/usr/bin/promtool" "$work/prometheus/bin/"
dpkg-deb -f "$deb" Version >"$work/prometheus/DEBIAN_VERSION"
if ! works "$work/prometheus/bin"; then
  echo "$me: the unpacked promtool does not run; nothing installed" >&2
  exit 1
fi
# Another provision.sh may have finished meanwhile: its copy is as good as this one.
mv -T "$work/prometheus" "$dest" 2>/dev/null || works "$dest/bin"
echo "$me: $("$dest/bin/prometheus" --version 2>&1 | head -1) installed in ${dest#"$root/"}" >&2
echo "$dest/bin"
