# Install layout and the .deb / .rpm packages (CPack). Included from the top
# CMakeLists.txt after the targets exist. Build the packages from a release
# tree:  cmake --build build/release && (cd build/release && cpack -G "DEB;RPM")
# packaging/README.md says what each package declares and why.

set(_pkg ${CMAKE_CURRENT_LIST_DIR})
set(TANDEM_CONF_DIR /etc/tandem)

# --- files ------------------------------------------------------------------
# The binaries install themselves (src/daemon, cli: sbin/tandemd, bin/tandem).
install(FILES ${PROJECT_SOURCE_DIR}/etc/tandem.conf DESTINATION ${TANDEM_CONF_DIR})
install(FILES ${_pkg}/systemd/tandemd.service DESTINATION lib/systemd/system)
install(FILES ${_pkg}/completion/tandem DESTINATION share/bash-completion/completions)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/etc/examples/ DESTINATION share/doc/tandem/examples)
install(FILES ${PROJECT_SOURCE_DIR}/README.md
              ${PROJECT_SOURCE_DIR}/docs/config.md
              ${PROJECT_SOURCE_DIR}/docs/operations.md
              ${PROJECT_SOURCE_DIR}/docs/architecture.md
        DESTINATION share/doc/tandem)

# Man pages: the roff sources carry @TANDEM_VERSION@; gzip -n keeps the
# compressed files byte-identical from build to build.
find_program(TANDEM_GZIP gzip REQUIRED)
set(_man_outputs)
foreach(page tandemd.8 tandem.8 tandem.conf.5)
  string(REGEX REPLACE ".*\\.([0-9])$" "\\1" _section ${page})
  set(TANDEM_VERSION ${PROJECT_VERSION})
  configure_file(${_pkg}/man/${page} ${CMAKE_BINARY_DIR}/man/${page} @ONLY)
  add_custom_command(OUTPUT ${CMAKE_BINARY_DIR}/man/${page}.gz
                     COMMAND ${TANDEM_GZIP} -9nf -k ${CMAKE_BINARY_DIR}/man/${page}
                     DEPENDS ${CMAKE_BINARY_DIR}/man/${page}
                     COMMENT "Compressing man page ${page}")
  list(APPEND _man_outputs ${CMAKE_BINARY_DIR}/man/${page}.gz)
  install(FILES ${CMAKE_BINARY_DIR}/man/${page}.gz DESTINATION share/man/man${_section})
endforeach()
add_custom_target(man_pages ALL DEPENDS ${_man_outputs})

# --- common package metadata ---------------------------------------------------
set(CPACK_PACKAGE_NAME tandem)
set(CPACK_PACKAGE_VENDOR "Tandem")
set(CPACK_PACKAGE_CONTACT "Tandem maintainers <tandem@localhost>")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "active/active stateful firewall cluster node (DPDK)")
set(CPACK_PACKAGE_DESCRIPTION
    "Tandem is an active/active stateful firewall cluster: every node (tandemd, a DPDK \
dataplane and an HA agent) owns some connections, replicates its session table to \
its peers over ZeroMQ and forwards packets it does not own to their owner, so \
asymmetric routing and node failures keep connections alive. Includes the \
operator shell tandem.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_GENERATOR "DEB;RPM")
set(CPACK_STRIP_FILES TRUE)
set(CPACK_PACKAGE_DIRECTORY ${CMAKE_BINARY_DIR}/packages)

# DPDK's ABI number names Debian's runtime packages (librte-net-ena23 for
# DPDK 22.11): read it from the librte_eal this tree links against.
pkg_get_variable(_dpdk_libdir libdpdk libdir)
file(GLOB _eal_sonames "${_dpdk_libdir}/librte_eal.so.*")
set(TANDEM_DPDK_ABI "")
foreach(f IN LISTS _eal_sonames)
  if(f MATCHES "librte_eal\\.so\\.([0-9]+)$")
    set(TANDEM_DPDK_ABI ${CMAKE_MATCH_1})
  endif()
endforeach()
if(NOT TANDEM_DPDK_ABI)
  message(WARNING "librte_eal.so.N not found in ${_dpdk_libdir}: the .deb will not "
                  "name the DPDK drivers it loads at run time")
endif()

# --- .deb (Debian 12) -----------------------------------------------------------
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# Libraries tandemd and tandem link against: found by dpkg-shlibdeps.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# What the scan cannot see: DPDK loads its bus, mempool and port drivers as
# plugins at run time (from the pmds directory), so name the ones Tandem's
# ports use: PCI and virtual buses, the ring mempool every mbuf pool needs,
# ENA (EC2), af_packet, af_xdp, tap, null and ring ports. passwd brings
# groupadd for the tandem group.
set(_deb_depends passwd)
if(TANDEM_DPDK_ABI)
  foreach(drv bus-pci bus-vdev mempool-ring net-ena net-af-packet net-af-xdp net-tap net-null
              net-ring)
    list(APPEND _deb_depends librte-${drv}${TANDEM_DPDK_ABI})
  endforeach()
endif()
list(JOIN _deb_depends ", " CPACK_DEBIAN_PACKAGE_DEPENDS)
# dpdk: dpdk-devbind.py and dpdk-hugepages.py, to bind ports and reserve
# hugepages (docs/operations.md).
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "dpdk")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    "${_pkg}/deb/conffiles;${_pkg}/deb/postinst;${_pkg}/deb/prerm;${_pkg}/deb/postrm")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)

# --- .rpm (RHEL family) ---------------------------------------------------------
set(CPACK_RPM_FILE_NAME RPM-DEFAULT)
set(CPACK_RPM_PACKAGE_LICENSE "Proprietary")
set(CPACK_RPM_PACKAGE_GROUP "System Environment/Daemons")
set(CPACK_RPM_PACKAGE_RELEASE 1)
set(CPACK_RPM_PACKAGE_RELOCATABLE OFF)
# No /usr/lib/.build-id links: they belong with a debuginfo package.
set(CPACK_RPM_SPEC_MORE_DEFINE "%define _build_id_links none")
# Automatic requirements are sonames read from the binaries. On an RPM-based
# build host they are the target's own and exact, so keep them. On Debian
# they would be Debian's (librte_eal.so.23, libboost_program_options.so.1.74.0)
# and promise nothing about a RHEL system: there the package names the RHEL
# packages instead, and packaging/README.md says what that does and does not
# promise.
if(EXISTS /etc/redhat-release)
  set(_rpm_host ON)
else()
  set(_rpm_host OFF)
endif()
option(TANDEM_RPM_AUTOREQ "Let rpmbuild derive soname requirements (right on RPM-based hosts)"
       ${_rpm_host})
set(CPACK_RPM_PACKAGE_AUTOREQ ${TANDEM_RPM_AUTOREQ})
set(CPACK_RPM_PACKAGE_AUTOPROV OFF)
set(CPACK_RPM_PACKAGE_REQUIRES "dpdk, zeromq, boost-program-options, readline, systemd")
set(CPACK_RPM_PACKAGE_REQUIRES_PRE "shadow-utils")
cmake_host_system_information(RESULT _build_os QUERY DISTRIB_PRETTY_NAME)
set(CPACK_RPM_PACKAGE_DESCRIPTION "${CPACK_PACKAGE_DESCRIPTION}

Built on ${_build_os} against DPDK ABI ${TANDEM_DPDK_ABI}; \
soname requirements from the build: ${TANDEM_RPM_AUTOREQ}.")
set(CPACK_RPM_USER_FILELIST "%config(noreplace) ${TANDEM_CONF_DIR}/tandem.conf")
# Directories the system's own packages own.
set(CPACK_RPM_EXCLUDE_FROM_AUTO_FILELIST_ADDITION
    /usr/sbin /usr/lib/systemd /usr/lib/systemd/system /usr/share/man /usr/share/man/man5
    /usr/share/man/man8 /usr/share/bash-completion /usr/share/bash-completion/completions)
set(CPACK_RPM_PRE_INSTALL_SCRIPT_FILE ${_pkg}/rpm/pre)
set(CPACK_RPM_POST_INSTALL_SCRIPT_FILE ${_pkg}/rpm/post)
set(CPACK_RPM_PRE_UNINSTALL_SCRIPT_FILE ${_pkg}/rpm/preun)
set(CPACK_RPM_POST_UNINSTALL_SCRIPT_FILE ${_pkg}/rpm/postun)

include(CPack)
