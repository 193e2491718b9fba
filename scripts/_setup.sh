# Shared set-up for scripts/run and scripts/test (sourced, not run).
# Creates .venv when missing, installs the project (editable) with its test extras when
# pyproject.toml changed, and installs the system libraries Qt needs when they are missing.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-python3}"
VENV="$ROOT/.venv"

# Libraries the PySide6 wheels load (offscreen and on a real X11/Wayland screen).
QT_DEB_PACKAGES="libgl1 libegl1 libopengl0 libglib2.0-0 libfontconfig1 libfreetype6 libdbus-1-3 \
libxkbcommon0 libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-shape0 \
libxcb-randr0 libxcb-render-util0 libxcb-image0 libxcb-xinerama0 libxcb-xkb1 libx11-xcb1 fonts-dejavu-core"

ensure_system_libs() {
    command -v dpkg-query >/dev/null 2>&1 || return 0   # not Debian/Ubuntu: the wheels' own libs must do
    local missing=()
    for pkg in $QT_DEB_PACKAGES; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" -eq 0 ]; then
        echo "Installing Qt system libraries: ${missing[*]}" >&2
        apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    else
        echo "Qt needs system libraries that are missing. Install them with:" >&2
        echo "  sudo apt-get install -y ${missing[*]}" >&2
        exit 1
    fi
}

ensure_venv() {
    if [ ! -x "$VENV/bin/python" ]; then
        "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
            echo "gallery-desktop needs Python 3.11 or newer ($PY is $("$PY" --version 2>&1))." >&2; exit 1; }
        echo "Creating $VENV" >&2
        "$PY" -m venv "$VENV"
    fi
    local stamp="$VENV/.gallery-desktop-installed"
    local want
    want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
    if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
        echo "Installing gallery-desktop and its dependencies into $VENV" >&2
        "$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
        "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e ".[test]"
        echo "$want" > "$stamp"
    fi
}

ensure_system_libs
ensure_venv
