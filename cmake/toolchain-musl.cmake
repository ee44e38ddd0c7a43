# x86-64 with musl instead of glibc: musl-gcc (musl-tools) sees musl's
# headers only, so a glibc-only call or header fails to build. Check is
# built from Debian's source for musl by scripts/test-ports.sh, which puts
# its pkg-config folder in PKG_CONFIG_LIBDIR. Marked as a cross build: the
# library_* checks, which expect glibc's libc.so.6, are not registered.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR x86_64)
set(CMAKE_C_COMPILER musl-gcc)
