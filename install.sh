#!/bin/sh
# modelswap installer: downloads the release binary for this machine, checks it
# against the release's SHA256SUMS and installs it as one file. With --systemd
# it also writes a systemd unit and, when there is none, a starter config.
#
#   curl -fsSL https://github.com/modelswap/modelswap/releases/latest/download/install.sh | sh
#   curl -fsSL https://github.com/modelswap/modelswap/releases/latest/download/install.sh | sudo sh -s -- --systemd
#
# The binary is downloaded to a temporary file beside its destination,
# verified, made executable, tried with --version and only then renamed into
# place, so an existing modelswap (even a running one) is replaced in one step
# or not at all.
set -eu

# The project's release page. A placeholder until the project publishes
# releases: set MODELSWAP_BASE_URL to where your release files are.
DEFAULT_BASE_URL="https://github.com/modelswap/modelswap/releases/latest/download"

usage() {
  cat <<'EOF'
usage: install.sh [--prefix DIR] [--systemd [--user NAME]]

  --prefix DIR   install DIR/bin/modelswap
                 (default: /usr/local as root, ~/.local otherwise)
  --systemd      also write /etc/systemd/system/modelswap.service, a starter
                 /etc/modelswap/config.yaml (only when there is none) and
                 /var/lib/modelswap (Linux, as root)
  --user NAME    the user the service runs as (default: modelswap; created
                 as a system user when missing)

environment:
  MODELSWAP_BASE_URL   where the release files are (default: the project's latest release)
  MODELSWAP_OS         linux or darwin, instead of detecting it
  MODELSWAP_ARCH       x64, x64-baseline or arm64, instead of detecting it
  MODELSWAP_ROOT       write the --systemd files under this directory instead
                       of / (image builders, tests)
EOF
}

say() { printf 'modelswap install: %s\n' "$*"; }
die() {
  printf 'modelswap install: error: %s\n' "$*" >&2
  exit 1
}

# Temporary files, removed on every exit.
work_dir=""
tmp_file=""
cleanup() {
  if [ -n "$tmp_file" ]; then rm -f "$tmp_file"; fi
  if [ -n "$work_dir" ]; then rm -rf "$work_dir"; fi
}

# Sets os and arch from uname (or MODELSWAP_OS / MODELSWAP_ARCH) and asset to
# the release file for them; detected=1 when nothing was overridden.
detect_platform() {
  detected=1
  if [ -n "${MODELSWAP_OS:-}" ] || [ -n "${MODELSWAP_ARCH:-}" ]; then detected=0; fi
  os=${MODELSWAP_OS:-$(uname -s)}
  arch=${MODELSWAP_ARCH:-$(uname -m)}
  case $os in
    Linux | linux) os=linux ;;
    Darwin | darwin) os=darwin ;;
    *) die "no modelswap release for the operating system \"$os\": there are builds for Linux and macOS. Build it from source instead (README, \"Install\")." ;;
  esac
  case $arch in
    x86_64 | amd64 | x64) arch=x64 ;;
    aarch64 | arm64) arch=arm64 ;;
    x64-baseline) ;;
    *) die "no modelswap release for the CPU architecture \"$arch\" ($os): there are builds for x86-64 (x64, x64-baseline) and arm64. Build it from source instead (README, \"Install\"), or set MODELSWAP_ARCH if \"$arch\" was detected wrongly." ;;
  esac
  if [ "$detected" = 1 ] && [ "$os" = darwin ] && [ "$arch" = x64 ] &&
    [ "$(sysctl -n sysctl.proc_translated 2>/dev/null || true)" = 1 ]; then
    arch=arm64 # an x86-64 shell under Rosetta on Apple silicon: take the native build
  fi
  if [ "$detected" = 1 ] && [ "$os" = linux ] && [ "$arch" = x64 ] &&
    [ -r /proc/cpuinfo ] && ! grep -qw avx2 /proc/cpuinfo; then
    arch=x64-baseline # the default x64 build needs AVX2
  fi
  case $os-$arch in
    linux-x64 | linux-x64-baseline | linux-arm64 | darwin-x64 | darwin-arm64) ;;
    *) die "no modelswap release for $os-$arch: there are linux-x64, linux-x64-baseline, linux-arm64, darwin-x64 and darwin-arm64." ;;
  esac
  asset="modelswap-$os-$arch"
}

# Sets fetch to the download command: curl or wget, whichever exists.
pick_downloader() {
  if command -v curl >/dev/null 2>&1; then
    fetch=curl
  elif command -v wget >/dev/null 2>&1; then
    fetch=wget
  else
    die "neither curl nor wget is installed: install one of them and run this again"
  fi
}

# download URL FILE: writes URL's body to FILE, or stops with a clear error.
download() {
  if [ "$fetch" = curl ]; then
    curl -fsSL --retry 2 -o "$2" "$1" || die "could not download $1 (curl exit $?); check the address and the network, or set MODELSWAP_BASE_URL"
  else
    wget -q -O "$2" "$1" || die "could not download $1 (wget exit $?); check the address and the network, or set MODELSWAP_BASE_URL"
  fi
}

# sha256 FILE: prints the file's SHA-256 in hex.
sha256() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | cut -d ' ' -f 1
  elif command -v shasum >/dev/null 2>&1; then
    shasum -a 256 "$1" | cut -d ' ' -f 1
  elif command -v openssl >/dev/null 2>&1; then
    openssl dgst -sha256 -r "$1" | cut -d ' ' -f 1
  else
    die "no sha256sum, shasum or openssl to verify the download with: install coreutils"
  fi
}

# verify FILE NAME: stops unless FILE's SHA-256 is the one SHA256SUMS lists for NAME.
verify() {
  expected=$(awk -v name="$2" '$2 == name || $2 == "*" name { print $1; exit }' "$work_dir/SHA256SUMS")
  [ -n "$expected" ] || die "$base/SHA256SUMS lists no $2: is MODELSWAP_BASE_URL a modelswap release?"
  actual=$(sha256 "$1")
  [ "$actual" = "$expected" ] || die "checksum mismatch for $2: SHA256SUMS says $expected, the download is $actual. The file is corrupt or not the released one; nothing was installed (an existing modelswap is untouched). Try again, or check MODELSWAP_BASE_URL."
}

# fetch_verified NAME DEST MODE: downloads release file NAME to a temporary
# file beside DEST, verifies it, sets MODE and leaves its path in tmp_file
# (the caller renames it into place).
fetch_verified() {
  tmp_file=$(mktemp "$(dirname "$2")/.modelswap.XXXXXX") || die "cannot write to $(dirname "$2")"
  download "$base/$1" "$tmp_file"
  verify "$tmp_file" "$1"
  chmod "$3" "$tmp_file"
}

# The unit from the README, "Install": User, KillMode=mixed, ExecReload.
systemd_unit() {
  cat <<EOF
# /etc/systemd/system/modelswap.service
[Unit]
Description=modelswap (OpenAI-compatible router for local LLM servers)
After=network-online.target
Wants=network-online.target

[Service]
User=$user
WorkingDirectory=/var/lib/modelswap
ExecStart=$bin_dir/modelswap --config /etc/modelswap/config.yaml --listen 127.0.0.1:8080
ExecReload=/bin/kill -HUP \$MAINPID
KillMode=mixed
TimeoutStopSec=30
Restart=on-failure

[Install]
WantedBy=multi-user.target
EOF
}

# The service's user, its state directory, the starter config and the unit.
install_systemd() {
  root=${MODELSWAP_ROOT:-}
  if ! id "$user" >/dev/null 2>&1; then
    if [ -n "$root" ]; then
      say "note: user $user does not exist here; create it where the unit will run"
    else
      command -v useradd >/dev/null 2>&1 || die "user $user does not exist and there is no useradd: create it, or pass --user NAME"
      useradd --system --home-dir /var/lib/modelswap --no-create-home --shell /usr/sbin/nologin "$user" ||
        die "could not create the system user $user: create it, or pass --user NAME"
      say "created the system user $user"
    fi
  fi
  mkdir -p "$root/var/lib/modelswap" "$root/etc/modelswap" "$root/etc/systemd/system"
  if id "$user" >/dev/null 2>&1; then chown "$user" "$root/var/lib/modelswap"; fi

  config="$root/etc/modelswap/config.yaml"
  if [ -e "$config" ]; then
    say "kept the existing $config"
  else
    fetch_verified config.sample.yaml "$config" 644
    mv -f "$tmp_file" "$config"
    tmp_file=""
    say "wrote the starter config $config (demo models; add yours beside them)"
  fi
  if ! check=$("$bin_dir/modelswap" validate --config "$config" 2>&1); then
    say "warning: $config does not validate yet:"
    printf '%s\n' "$check" >&2
  fi

  unit="$root/etc/systemd/system/modelswap.service"
  tmp_file=$(mktemp "$unit.XXXXXX")
  systemd_unit >"$tmp_file"
  chmod 644 "$tmp_file"
  mv -f "$tmp_file" "$unit"
  tmp_file=""
  say "wrote $unit; start it with: systemctl daemon-reload && systemctl enable --now modelswap"
  say "after a later upgrade: systemctl restart modelswap"
}

main() {
  prefix=""
  systemd=0
  user=modelswap
  while [ $# -gt 0 ]; do
    case $1 in
      --prefix)
        [ $# -ge 2 ] || die "--prefix needs a directory"
        prefix=$2
        shift 2
        ;;
      --prefix=*)
        prefix=${1#--prefix=}
        shift
        ;;
      --systemd)
        systemd=1
        shift
        ;;
      --user)
        [ $# -ge 2 ] || die "--user needs a name"
        user=$2
        shift 2
        ;;
      --user=*)
        user=${1#--user=}
        shift
        ;;
      -h | --help)
        usage
        exit 0
        ;;
      *) die "unknown option \"$1\" (see install.sh --help)" ;;
    esac
  done

  detect_platform
  if [ "$systemd" = 1 ]; then
    [ "$os" = linux ] || die "--systemd is for Linux; on macOS run modelswap by hand or from launchd"
    if [ -z "${MODELSWAP_ROOT:-}" ] && [ "$(id -u)" != 0 ]; then
      die "--systemd writes to /etc and /var/lib: run the installer as root (... | sudo sh -s -- --systemd)"
    fi
  fi
  if [ -z "$prefix" ]; then
    if [ "$(id -u)" = 0 ]; then prefix=/usr/local; else prefix="${HOME:?HOME is not set: pass --prefix DIR}/.local"; fi
  fi
  case $prefix in
    /*) ;;
    *) prefix="$(pwd)/$prefix" ;;
  esac
  bin_dir="$prefix/bin"
  base=${MODELSWAP_BASE_URL:-$DEFAULT_BASE_URL}
  base=${base%/}
  pick_downloader

  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  trap 'exit 129' HUP
  work_dir=$(mktemp -d)
  mkdir -p "$bin_dir" || die "cannot create $bin_dir: pass --prefix DIR, or run as root for /usr/local"

  say "downloading $asset from $base"
  download "$base/SHA256SUMS" "$work_dir/SHA256SUMS"
  fetch_verified "$asset" "$bin_dir/modelswap" 755
  version="$asset (not run: MODELSWAP_OS/MODELSWAP_ARCH chose another platform)"
  if [ "$detected" = 1 ]; then
    version=$("$tmp_file" --version 2>&1) || die "the downloaded $asset does not run on this machine: $version"
  fi
  mv -f "$tmp_file" "$bin_dir/modelswap"
  tmp_file=""
  say "installed $bin_dir/modelswap: $version"

  if [ "$systemd" = 1 ]; then install_systemd; fi
  case ":${PATH:-}:" in
    *":$bin_dir:"*) ;;
    *) say "note: $bin_dir is not on your PATH; add it, or run $bin_dir/modelswap" ;;
  esac
}

# Runs only once the whole script has been read (safe with curl | sh).
main "$@"
