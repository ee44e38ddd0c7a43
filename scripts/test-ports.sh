#!/usr/bin/env bash
# Builds the deterministic core, the public library and every Check suite
# that needs no live networking (-DVNETSIM_HOST=OFF) for three ports, and
# runs them:
#   s390x  big-endian, 64-bit: s390x-linux-gnu-gcc, run under qemu-s390x
#   i386   32-bit: gcc -m32, run natively, or under qemu-i386 where the
#          kernel cannot run 32-bit programs
#   musl   x86-64 with musl instead of glibc: musl-gcc
# Usage: scripts/test-ports.sh [PORT...]   (default: s390x i386 musl)
# Installs what it needs from Debian's archive (run as root on Debian 12):
# the cross compiler, gcc-12-multilib and qemu-user as packages; Check and libpcap for
# s390x and i386 as the archive's own .deb files unpacked into a sysroot in
# the build folder (a multiarch install would have to match the build
# machine's library versions exactly); Check and libpcap (its file-only
# part) for musl built from Debian's source packages. Nothing of it replaces
# a package of the build machine.
# Environment: VNETSIM_PORTS_DIR, the work folder (default build-ports).
# The trace hashes the suites pin are the x86-64 ones: a port passes only
# if its traces are identical.
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD
work=${VNETSIM_PORTS_DIR:-$src/build-ports}
ports=${*:-s390x i386 musl}
jobs=2
export DEBIAN_FRONTEND=noninteractive
mkdir -p "$work"

# Check, libpcap and the libraries they load at run time, for one
# architecture, as unpacked .deb files.
SYSROOT_PKGS="check libsubunit-dev libsubunit0 libpcap-dev libpcap0.8-dev libpcap0.8
  libdbus-1-dev libdbus-1-3 libsystemd0 libcap2 libgcrypt20 libgpg-error0 liblz4-1
  liblzma5 libzstd1"

apt_install() { apt-get install -y -qq --no-install-recommends "$@" >/dev/null; }

# Whether every package named is installed.
installed() {
  local p
  for p in "$@"; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q "ok installed" || return 1
  done
}

install_tools() {
  local arch fresh=0 want="ca-certificates gcc make cmake pkg-config binutils"
  for arch in s390x i386; do
    case " $ports " in *" $arch "*)
      dpkg --print-foreign-architectures | grep -qx "$arch" ||
        { dpkg --add-architecture "$arch" && fresh=1; } ;;
    esac
  done
  case " $ports " in *" s390x "*)
    want="$want gcc-12-s390x-linux-gnu gcc-s390x-linux-gnu libc6-dev-s390x-cross qemu-user" ;;
  esac
  case " $ports " in *" i386 "*) want="$want gcc-12-multilib qemu-user" ;; esac
  case " $ports " in *" musl "*) want="$want musl-tools flex bison" ;; esac
  # shellcheck disable=SC2086 # a list of names on purpose
  if [ $fresh -eq 0 ] && installed $want; then
    echo "== ports: tools already installed"
    return 0
  fi
  apt-get update -qq
  apt_install ca-certificates gcc make cmake pkg-config binutils
  # One call each: asked for together with other packages, the cross
  # compiler's meta package can fail to resolve ("held broken packages");
  # its versioned compiler first, alone, resolves.
  case " $ports " in *" s390x "*)
    apt_install gcc-12-s390x-linux-gnu
    apt_install gcc-s390x-linux-gnu libc6-dev-s390x-cross
    apt_install qemu-user ;;
  esac
  # gcc-12-multilib, not gcc-multilib: the latter conflicts with every cross
  # compiler, and installing one removes the other.
  case " $ports " in *" i386 "*)
    apt_install gcc-12-multilib
    apt_install qemu-user ;;
  esac
  # flex and bison: libpcap's filter grammar, built for musl.
  case " $ports " in *" musl "*) apt_install musl-tools flex bison ;; esac
}

# Unpacks SYSROOT_PKGS for architecture $1 into $work/sysroot-$1.
make_sysroot() {
  local arch=$1 root=$work/sysroot-$1 deb pkg
  [ -f "$root/.done" ] && return 0
  rm -rf "$root" "$work/debs-$arch"
  mkdir -p "$root" "$work/debs-$arch"
  # shellcheck disable=SC2086 # a list of names on purpose
  (cd "$work/debs-$arch" && apt-get download -qq $(for pkg in $SYSROOT_PKGS; do
    echo "$pkg:$arch"; done) 2>&1 | grep -v "unsandboxed" || true)
  for deb in "$work/debs-$arch"/*.deb; do dpkg -x "$deb" "$root"; done
  touch "$root/.done"
}

# Fetches Debian's source package $1 into $work/musl-src and unpacks its
# upstream tarball there, through apt lists private to the work folder (no
# deb-src line is added to the system).
musl_source() {
  local dir=$work/musl-src opts
  mkdir -p "$dir/lists/partial"
  echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg]" \
    "http://deb.debian.org/debian bookworm main" >"$dir/src.list"
  opts=(-o "Dir::Etc::SourceList=$dir/src.list" -o "Dir::Etc::SourceParts=$dir/none"
    -o "Dir::State::Lists=$dir/lists")
  [ -n "$(ls "$dir/lists" 2>/dev/null | grep -v partial)" ] || apt-get "${opts[@]}" update -qq
  (cd "$dir" && apt-get "${opts[@]}" source --download-only -qq "$1" 2>&1 |
    grep -v "unsandboxed" || true)
  tar -C "$dir" -xzf "$dir/$1"_*.orig.tar.gz
}

# Check for musl, from Debian's source package, into $work/musl-check:
# Debian's libcheck.a is built against glibc (its _chk calls do not link).
musl_check() {
  local dir=$work/musl-src prefix=$work/musl-check
  [ -f "$prefix/.done" ] && return 0
  rm -rf "$prefix" "$dir"/check-*
  musl_source check
  cmake -S "$dir"/check-*/ -B "$dir/check-build" -DCMAKE_C_COMPILER=musl-gcc \
    -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$prefix" -DBUILD_TESTING=OFF \
    >"$dir/check-configure.log"
  cmake --build "$dir/check-build" -j "$jobs" >"$dir/check-build.log"
  cmake --install "$dir/check-build" >/dev/null
  # The static archive only: nothing to find at run time.
  rm -f "$prefix"/lib/libcheck.so*
  touch "$prefix/.done"
}

# libpcap for musl, from Debian's source package, into $work/musl-pcap:
# the "null" capture module (reading and writing files, no live capture) is
# all check_iface and check_wire use. musl-gcc sees no kernel headers, which
# libpcap's Linux code includes; they do not depend on the C library, so the
# build machine's are lent to it, after musl's own.
musl_pcap() {
  local dir=$work/musl-src prefix=$work/musl-pcap kh=$work/musl-src/kernel-headers
  [ -f "$prefix/.done" ] && return 0
  rm -rf "$prefix" "$dir"/libpcap-*/ "$kh"
  musl_source libpcap
  mkdir -p "$kh"
  ln -s /usr/include/linux "$kh/linux"
  ln -s /usr/include/asm-generic "$kh/asm-generic"
  ln -s "/usr/include/$(gcc -print-multiarch)/asm" "$kh/asm"
  (cd "$dir"/libpcap-*/ &&
    ./configure -q CC=musl-gcc CFLAGS="-O2 -idirafter $kh" --prefix="$prefix" \
      --with-pcap=null --disable-shared --disable-usb --disable-netmap \
      --disable-bluetooth --disable-dbus --disable-rdma --disable-remote \
      --without-libnl >"$dir/pcap-configure.log" 2>&1 &&
    make -s -j "$jobs" >"$dir/pcap-build.log" 2>&1 && make -s install >/dev/null 2>&1)
  touch "$prefix/.done"
}

# Configures, builds and tests port $1 with the toolchain file given.
build_and_test() {
  local port=$1 build=$work/$1
  shift
  echo "== port $port: configure and build"
  cmake -S "$src" -B "$build" -DVNETSIM_HOST=OFF -DVNETSIM_WERROR=ON \
    -DCMAKE_TOOLCHAIN_FILE="$src/cmake/toolchain-$port.cmake" "$@" >"$build.configure.log" || {
    tail -40 "$build.configure.log"
    return 1
  }
  grep -E "skipped|not registered" "$build.configure.log" || true
  cmake --build "$build" -j "$jobs" >"$build.build.log" || {
    tail -40 "$build.build.log"
    return 1
  }
  echo "== port $port: ctest"
  ctest --test-dir "$build" -j "$jobs" --output-on-failure || return 1
}

install_tools
status=0
for port in $ports; do
  start=$SECONDS
  case $port in
    s390x)
      make_sysroot s390x
      VNETSIM_PORT_SYSROOT=$work/sysroot-s390x build_and_test s390x || status=1 ;;
    i386)
      make_sysroot i386
      emu=()
      # A kernel without 32-bit support runs i386 programs under qemu-user.
      echo 'int main(void) { return 0; }' >"$work/probe32.c"
      gcc -m32 "$work/probe32.c" -o "$work/probe32"
      "$work/probe32" 2>/dev/null || emu=(-DCMAKE_CROSSCOMPILING_EMULATOR=qemu-i386)
      [ ${#emu[@]} -eq 0 ] || echo "== port i386: this kernel runs no 32-bit program; qemu-i386"
      VNETSIM_PORT_SYSROOT=$work/sysroot-i386 build_and_test i386 "${emu[@]}" || status=1 ;;
    musl)
      musl_check
      musl_pcap
      PKG_CONFIG_LIBDIR=$work/musl-check/lib/pkgconfig:$work/musl-pcap/lib/pkgconfig \
        build_and_test musl || status=1 ;;
    *)
      echo "unknown port $port (s390x, i386, musl)" >&2
      exit 2 ;;
  esac
  echo "== port $port: $((SECONDS - start)) s"
done
exit $status
