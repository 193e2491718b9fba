# Shared set-up for scripts/run and scripts/test (sourced, not run).
# Creates .venv when missing, installs the project (editable) with its test extras when
# pyproject.toml changed, and installs the system libraries Qt needs when they are missing.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CALLER_PWD="$PWD"  # relative paths in arguments are the caller's (scripts/run makes them absolute)
cd "$ROOT"
PY="${PYTHON:-python3}"
VENV="$ROOT/.venv"

# Libraries the PySide6 wheels load (offscreen and on a real X11/Wayland screen). "a|b": either
# name will do (Debian 13 and Ubuntu 24.04 renamed some for the 64-bit time_t transition).
QT_DEB_PACKAGES="libgl1 libegl1 libopengl0 libglib2.0-0t64|libglib2.0-0 libfontconfig1 libfreetype6 \
libdbus-1-3 libxkbcommon0 libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-shape0 \
libxcb-randr0 libxcb-render-util0 libxcb-image0 libxcb-xinerama0 libxcb-xkb1 libx11-xcb1 \
libwayland-cursor0 libwayland-egl1 fonts-dejavu-core"

deb_installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "ok installed"
}

ensure_system_libs() {
    command -v dpkg-query >/dev/null 2>&1 || return 0   # not Debian/Ubuntu: the wheels' own libs must do
    local missing=() entry alt found
    for entry in $QT_DEB_PACKAGES; do
        found=""
        for alt in ${entry//|/ }; do
            if deb_installed "$alt"; then found=1; break; fi
        done
        [ -n "$found" ] || missing+=("$entry")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" -eq 0 ]; then
        echo "Installing Qt system libraries: ${missing[*]}" >&2
        apt-get update -qq >/dev/null
        local wanted=()
        for entry in "${missing[@]}"; do  # of alternatives, the first this release has
            found="${entry%%|*}"
            for alt in ${entry//|/ }; do
                if apt-cache policy "$alt" 2>/dev/null | grep -q "Candidate: [0-9]"; then
                    found="$alt"; break
                fi
            done
            wanted+=("$found")
        done
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${wanted[@]}" >/dev/null
    else
        echo "Qt needs system libraries that are missing. Install them with (of a|b, either):" >&2
        echo "  sudo apt-get install -y ${missing[*]}" >&2
        exit 1
    fi
}

# A usable venv: its python runs, has pip, and was made for this checkout (a moved or copied
# checkout's venv still points at the old place; an interrupted or pip-less venv, or one whose
# interpreter was removed, cannot install anything).
venv_ok() {
    [ -x "$VENV/bin/python" ] && [ "$(cat "$VENV/.gallery-desktop-root" 2>/dev/null)" = "$ROOT" ] \
        && "$VENV/bin/python" -c 'import sys, pip; sys.exit(sys.version_info < (3, 11))' 2>/dev/null
}

ensure_venv() {
    if ! venv_ok; then
        "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
            echo "gallery-desktop needs Python 3.11 or newer ($PY is $("$PY" --version 2>&1))." >&2; exit 1; }
        echo "Creating $VENV" >&2
        "$PY" -m venv --clear "$VENV" || {
            echo "$PY -m venv failed; on Debian/Ubuntu install python3-venv first" >&2; exit 1; }
        echo "$ROOT" > "$VENV/.gallery-desktop-root"
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
