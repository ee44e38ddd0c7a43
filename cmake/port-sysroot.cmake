# Shared by the port toolchain files (scripts/test-ports.sh): points
# pkg-config and the linker at a sysroot of Debian packages unpacked for the
# target (Check, libpcap and what they load), installed nowhere on the
# system. VNETSIM_PORT_TRIPLET names the multiarch folder inside it.
#
# The sysroot comes from the environment on the first configure and is then
# kept in the cache, so that a re-run of CMake from the build step finds it.
if(DEFINED ENV{VNETSIM_PORT_SYSROOT})
  set(VNETSIM_PORT_SYSROOT "$ENV{VNETSIM_PORT_SYSROOT}" CACHE PATH
      "Unpacked target packages for a port build")
endif()
if(VNETSIM_PORT_SYSROOT)
  set(ENV{PKG_CONFIG_LIBDIR} "${VNETSIM_PORT_SYSROOT}/usr/lib/${VNETSIM_PORT_TRIPLET}/pkgconfig")
  set(ENV{PKG_CONFIG_SYSROOT_DIR} "${VNETSIM_PORT_SYSROOT}")
  unset(ENV{PKG_CONFIG_PATH})
  # pkg-config would drop -I/usr/include (a system folder of the build
  # machine) before prefixing the sysroot to it.
  set(ENV{PKG_CONFIG_SYSTEM_INCLUDE_PATH} "/nonexistent")
  set(ENV{PKG_CONFIG_SYSTEM_LIBRARY_PATH} "/nonexistent")
  # libpcap loads libdbus, which loads more: the linker resolves them with
  # -rpath-link, and an old-style RPATH (unlike RUNPATH) also serves the
  # loader for those indirect libraries when a test runs.
  set(port_link "-Wl,--disable-new-dtags")
  foreach(dir usr/lib lib)
    set(d "${VNETSIM_PORT_SYSROOT}/${dir}/${VNETSIM_PORT_TRIPLET}")
    string(APPEND port_link " -Wl,-rpath,${d} -Wl,-rpath-link,${d}")
  endforeach()
  set(CMAKE_EXE_LINKER_FLAGS_INIT "${port_link}")
  set(CMAKE_SHARED_LINKER_FLAGS_INIT "${port_link}")
endif()
