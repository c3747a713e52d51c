# The Debian package: `cpack -G DEB` in the build dir (or
# `cmake --build build --target package`) writes agentd_<version>_<arch>.deb.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME agentd)
set(CPACK_PACKAGE_VENDOR "agentd")
set(CPACK_PACKAGE_CONTACT "agentd maintainers <agentd@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "default-deny egress for AI-agent sandboxes, enforced in the kernel")
set(CPACK_PACKAGE_DESCRIPTION "agentd keeps AI agents on a shared Linux host inside the network boundaries
their operators chose: every agent runs in a cgroup v2 sandbox whose sockets
eBPF programs judge in the kernel, default deny, from per-tenant YAML policy.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# Library dependencies from the binaries (dpkg-shlibdeps), plus what the
# maintainer scripts and the unit use.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "init-system-helpers (>= 1.54~), systemd")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "bpftool")
# The audit stream to one receiver (/usr/share/agentd/rsyslog/).
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "rsyslog, rsyslog-relp")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    "${PROJECT_BINARY_DIR}/packaging/debian/conffiles;${PROJECT_BINARY_DIR}/packaging/debian/postinst;${PROJECT_BINARY_DIR}/packaging/debian/prerm;${PROJECT_BINARY_DIR}/packaging/debian/postrm")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
# Only what a host needs: the tests and benchmarks do not install.
set(CPACK_STRIP_FILES ON)
include(CPack)
