# `cmake --install` (and `make install PREFIX=...`, `make deb`): the sextant
# binary, the console's assets, the public headers, the static libraries a C++
# program links against the client with, a CMake package (find_package(Sextant)
# gives Sextant::sextant) and a pkg-config file (sextant.pc).

# The engine's static libraries, in link order (each before what it uses).
set(SEXTANT_SDK_LIBRARIES
  sextant_client sextant_query sextant_processing sextant_drift sextant_map sextant_index
  sextant_alerts sextant_sync sextant_store sextant_io sextant_ner sextant_common)

# The one target consumers link: the client (logging, finish) and the readers
# (RunReader, ListRuns) with all they need.
add_library(sextant_sdk INTERFACE)
set_target_properties(sextant_sdk PROPERTIES EXPORT_NAME sextant)
target_link_libraries(sextant_sdk INTERFACE sextant_client sextant_query)
target_compile_features(sextant_sdk INTERFACE cxx_std_20)

set(SEXTANT_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/Sextant)

if(TARGET sextant)
  install(TARGETS sextant RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT runtime)
endif()
install(TARGETS ${SEXTANT_SDK_LIBRARIES} sextant_sdk sextant_warnings sextant_httplib
  EXPORT SextantTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/sextant DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  FILES_MATCHING PATTERN "*.h")
install(FILES ${PROJECT_BINARY_DIR}/include/sextant/version.h
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/sextant)
# The console, when built (web/dist; see web/CMakeLists.txt). Without it
# `sextant serve` shows its "console not built" page.
install(DIRECTORY ${PROJECT_SOURCE_DIR}/web/dist/ DESTINATION ${SEXTANT_INSTALL_WEBDIR} OPTIONAL)

install(EXPORT SextantTargets NAMESPACE Sextant:: DESTINATION ${SEXTANT_CMAKE_DIR})
include(CMakePackageConfigHelpers)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/SextantConfig.cmake.in
  ${PROJECT_BINARY_DIR}/SextantConfig.cmake INSTALL_DESTINATION ${SEXTANT_CMAKE_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/SextantConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/SextantConfig.cmake
  ${PROJECT_BINARY_DIR}/SextantConfigVersion.cmake DESTINATION ${SEXTANT_CMAKE_DIR})

# pkg-config: static libraries, so every library goes in Libs.
set(SEXTANT_PC_LIBS "")
foreach(lib IN LISTS SEXTANT_SDK_LIBRARIES)
  string(APPEND SEXTANT_PC_LIBS " -l${lib}")
endforeach()
# The prefix relative to the .pc file (${pcfiledir}), so that the file holds
# wherever the tree is installed (cmake --install --prefix, the .deb's /usr).
string(REGEX REPLACE "[^/]+" ".." SEXTANT_PC_UP "${CMAKE_INSTALL_LIBDIR}/pkgconfig")
configure_file(${PROJECT_SOURCE_DIR}/cmake/sextant.pc.in ${PROJECT_BINARY_DIR}/sextant.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/sextant.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

# `make deb`: a Debian package of the above (cpack -G DEB in the build folder).
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME sextant)
set(CPACK_PACKAGE_VENDOR "Sextant")
set(CPACK_PACKAGE_CONTACT "Sextant maintainers <sextant@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "How your NLP model behaves on production data")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION science)
# The binary's shared libraries (Faiss, OpenBLAS, SQLite, libgomp, ...) from dpkg-shlibdeps;
# the static libraries and headers need the development packages to link against.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "libfaiss-dev, libopenblas-dev, libsqlite3-dev, nlohmann-json3-dev, libre2-dev")
include(CPack)
