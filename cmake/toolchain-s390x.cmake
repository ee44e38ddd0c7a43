# Big-endian, 64-bit: Debian's cross compiler, tests run under qemu-user.
# virtio 1.x fields are little-endian on every host (virtio 1.2, 2.4 and
# 2.7), so this is where a missing byte swap shows. scripts/test-ports.sh.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR s390x)
set(CMAKE_C_COMPILER s390x-linux-gnu-gcc)
set(VNETSIM_PORT_TRIPLET s390x-linux-gnu)
# -L: the cross C library's loader and libc (libc6-s390x-cross).
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-s390x -L /usr/s390x-linux-gnu)
include(${CMAKE_CURRENT_LIST_DIR}/port-sysroot.cmake)
