# 32-bit x86: the native compiler with -m32 (gcc-multilib). size_t and
# pointers are 32 bits while guest addresses stay 64. scripts/test-ports.sh
# passes CMAKE_CROSSCOMPILING_EMULATOR=qemu-i386 where the kernel cannot run
# 32-bit programs.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR i686)
set(CMAKE_C_COMPILER gcc)
set(CMAKE_C_FLAGS_INIT "-m32")
set(VNETSIM_PORT_TRIPLET i386-linux-gnu)
# The ld -r that makes libvnetsim.a's one object runs ld directly, whose
# default output is x86-64.
set(VNETSIM_LD_R_FLAGS -m elf_i386)
include(${CMAKE_CURRENT_LIST_DIR}/port-sysroot.cmake)
