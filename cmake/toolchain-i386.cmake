# 32-bit x86: the native compiler with -m32 (gcc-12-multilib). size_t and
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
# glibc's <errno.h> reaches <asm/errno.h>, which -m32 finds through the
# /usr/include/asm link of the gcc-multilib package; that package conflicts
# with every cross compiler (s390x's included), so the same link is made in
# the build tree instead.
if(NOT EXISTS /usr/include/asm AND EXISTS /usr/include/x86_64-linux-gnu/asm)
  file(MAKE_DIRECTORY ${CMAKE_BINARY_DIR}/m32-include)
  file(CREATE_LINK /usr/include/x86_64-linux-gnu/asm ${CMAKE_BINARY_DIR}/m32-include/asm SYMBOLIC)
  string(APPEND CMAKE_C_FLAGS_INIT " -isystem ${CMAKE_BINARY_DIR}/m32-include")
endif()
include(${CMAKE_CURRENT_LIST_DIR}/port-sysroot.cmake)
