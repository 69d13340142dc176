# Install rules and the Debian package (CPack), included from the top CMakeLists.txt after
# the programs' directories. What goes where is in docs/install.md:
#   bin/                         the four programs (nothing else: no tests, fuzzers, benches)
#   share/man/man1/              one page per program, made from its --help by help2man
#   share/doc/hookwire/          README.md, and examples/ (INI files, Caddyfiles, sample app)
#   lib/systemd/system/          hookwire-relay.service, hookwire-receiver.service
# `cmake --install build --prefix /usr/local` and `scripts/package` (prefix /usr) use them.

include(GNUInstallDirs)

set(HW_PROGRAMS hookwire-relay hookwire-agent hookwire-receiver hookwire-replay)

install(TARGETS ${HW_PROGRAMS} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

# Man pages: help2man runs each built program's --help, so a page says what the program
# says; man/help.sh marks the text up the way help2man reads it (Usage:, Options:) and
# man/NAME.h2m adds the sections --help has no room for (environment, files, see also). Not
# made in a sanitizer build (a page is the same, and such a build is never installed).
find_program(HELP2MAN help2man)
set(HW_MAN_PAGES "")
if(NOT HOOKWIRE_SANITIZE)
  if(NOT HELP2MAN)
    message(WARNING "help2man not found (scripts/install-deps installs it): no man pages")
  else()
    set(hw_summary_hookwire-relay "public side of the hookwire webhook tunnel")
    set(hw_summary_hookwire-agent "forward a hookwire channel's webhooks to a local app")
    set(hw_summary_hookwire-receiver "verify, store and deliver production webhooks")
    set(hw_summary_hookwire-replay "find, inspect and re-deliver stored webhooks")
    file(MAKE_DIRECTORY ${CMAKE_BINARY_DIR}/man/bin)
    foreach(prog ${HW_PROGRAMS})
      set(page ${CMAKE_BINARY_DIR}/man/${prog}.1)
      set(include ${CMAKE_SOURCE_DIR}/man/${prog}.h2m)
      # help2man names the page after what it runs: a script by the program's name.
      set(shim ${CMAKE_BINARY_DIR}/man/bin/${prog})
      set(run "\"${CMAKE_SOURCE_DIR}/man/help.sh\" \"${CMAKE_RUNTIME_OUTPUT_DIRECTORY}/${prog}\"")
      file(WRITE ${CMAKE_BINARY_DIR}/man/${prog}.sh "#!/bin/sh\nexec sh ${run} \"$@\"\n")
      file(COPY ${CMAKE_BINARY_DIR}/man/${prog}.sh DESTINATION ${CMAKE_BINARY_DIR}/man/bin
           FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE
                            WORLD_READ WORLD_EXECUTE)
      file(RENAME ${CMAKE_BINARY_DIR}/man/bin/${prog}.sh ${shim})
      # gzip -n: no name or time stamp in the file, so the same page gives the same bytes.
      add_custom_command(
        OUTPUT ${page}.gz
        COMMAND ${HELP2MAN} --no-info --version-string=${PROJECT_VERSION}
                --name=${hw_summary_${prog}} --section=1 --manual=hookwire
                "--source=hookwire ${PROJECT_VERSION}" --include=${include} --output=${page} ${shim}
        COMMAND gzip -9nf ${page}
        DEPENDS ${prog} ${include} ${CMAKE_SOURCE_DIR}/man/help.sh ${shim}
        COMMENT "Man page ${prog}.1 from ${prog} --help"
        VERBATIM)
      list(APPEND HW_MAN_PAGES ${page}.gz)
    endforeach()
    add_custom_target(man ALL DEPENDS ${HW_MAN_PAGES})
    install(FILES ${HW_MAN_PAGES} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
  endif()
endif()

install(FILES README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(FILES examples/README.md examples/relay.ini examples/agent.ini examples/receiver.ini
              examples/Caddyfile examples/Caddyfile.receiver
        DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)
install(PROGRAMS examples/app.py DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)

# systemd units. Not LIBDIR (lib/x86_64-linux-gnu under /usr on Debian): systemd reads
# /usr/lib/systemd/system and /usr/local/lib/systemd/system. The units in examples/ run the
# programs from /usr/local/bin; the installed copies name the bin directory of the prefix
# given at install time (--prefix, or /usr in the package), hence install(CODE).
set(HOOKWIRE_SYSTEMD_UNIT_DIR "lib/systemd/system" CACHE STRING
    "Where the systemd units go, relative to the install prefix")
foreach(unit hookwire-relay.service hookwire-receiver.service)
  install(CODE "
    file(READ \"${CMAKE_SOURCE_DIR}/examples/${unit}\" text)
    string(REPLACE \"/usr/local/bin/\" \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_BINDIR}/\"
           text \"\${text}\")
    file(WRITE \"${CMAKE_BINARY_DIR}/systemd/${unit}\" \"\${text}\")
    file(INSTALL DESTINATION \"\${CMAKE_INSTALL_PREFIX}/${HOOKWIRE_SYSTEMD_UNIT_DIR}\"
         TYPE FILE FILES \"${CMAKE_BINARY_DIR}/systemd/${unit}\")")
endforeach()

# The Debian package: hookwire_VERSION_ARCH.deb, prefix /usr. dpkg-shlibdeps reads what the
# programs link and declares those libraries' packages (libwebsockets17, libssl3, ...), so
# `apt install ./hookwire_*.deb` pulls them in.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME hookwire)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR hookwire)
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "reliable webhooks: relay and agent tunnel, receiver, replay")
# The Description's first line is the summary; CPack indents these lines under it.
set(CPACK_PACKAGE_DESCRIPTION
    "hookwire-relay and hookwire-agent carry webhooks sent to a public URL through a
WebSocket tunnel to an app on a developer's machine, byte for byte, and queue
them while the machine is away. hookwire-receiver verifies production webhooks,
stores them durably (SQLite or MySQL) and delivers them to the backend with
retries; hookwire-replay finds, inspects and re-delivers the stored events.")
set(HOOKWIRE_PACKAGE_MAINTAINER "hookwire maintainers <maintainers@hookwire.invalid>" CACHE STRING
    "Maintainer field of the Debian package")
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${HOOKWIRE_PACKAGE_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# lws loads its libuv event library as a plugin at run time, which dpkg-shlibdeps cannot see.
set(CPACK_DEBIAN_PACKAGE_DEPENDS "libwebsockets-evlib-uv")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "caddy")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)
# Install with DESTDIR=staging and prefix /usr, so the units name /usr/bin (not the staging).
set(CPACK_SET_DESTDIR ON)
set(CPACK_INSTALL_PREFIX /usr)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_PACKAGE_DIRECTORY ${CMAKE_BINARY_DIR}/package)
include(CPack)
