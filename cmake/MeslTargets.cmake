# Helpers that give every mesl target the same flags, so that one precompiled <torch/torch.h> serves them all.
#
#   mesl_add_library(NAME SOURCES a.cpp ... [DEPS lib ...])    static library mesl_NAME, alias mesl::NAME
#   mesl_add_executable(NAME SOURCES ... [DEPS ...])
#   mesl_configure_target(TARGET)                               flags, include dirs and the shared PCH
#
# GCC only uses a precompiled header when the compile flags match those it was built with, so targets must not
# add compile definitions or options of their own; put configuration in headers instead.

set(MESL_WARNINGS -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wcast-align -Woverloaded-virtual
    -Wno-unused-parameter
    # The codecs promise bit-identical results between their fast loops and the LibTorch-ops reference;
    # fused multiply-add contraction (with -march flags that enable FMA) would break that.
    -ffp-contract=off)
if(MESL_WERROR)
  list(APPEND MESL_WARNINGS -Werror)
endif()

set(MESL_SANITIZE_FLAGS)
if(MESL_SANITIZE)
  set(MESL_SANITIZE_FLAGS -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
endif()

function(mesl_configure_target tgt)
  target_compile_options(${tgt} PRIVATE ${MESL_WARNINGS} ${MESL_SANITIZE_FLAGS})
  # Every target sees LibTorch: the shared precompiled header includes it. libstdc++ is named before it: PyTorch's
  # pip wheels export their own copies of libstdc++ symbols (std::filesystem among them) from libtorch.so, and the
  # library that comes first serves them; libtorch's std::filesystem::remove_all jumped to address 0 (LibTorch
  # 2.11, GCC 13).
  target_link_libraries(${tgt} PRIVATE stdc++ torch)
  target_link_options(${tgt} PRIVATE ${MESL_SANITIZE_FLAGS})
  target_include_directories(${tgt} PUBLIC
    "${PROJECT_SOURCE_DIR}/include" "${PROJECT_BINARY_DIR}/generated")
  set_target_properties(${tgt} PROPERTIES POSITION_INDEPENDENT_CODE OFF)
  if(MESL_PCH AND TARGET mesl_pch AND NOT tgt STREQUAL "mesl_pch")
    target_precompile_headers(${tgt} REUSE_FROM mesl_pch)
  endif()
endfunction()

# The precompiled header: LibTorch's C++ frontend is by far the slowest thing to parse.
if(MESL_PCH)
  add_library(mesl_pch STATIC "${CMAKE_CURRENT_LIST_DIR}/pch.cpp")
  target_link_libraries(mesl_pch PUBLIC torch)
  mesl_configure_target(mesl_pch)
  target_precompile_headers(mesl_pch PRIVATE <torch/torch.h>)
endif()

function(mesl_add_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(mesl_${name} STATIC ${ARG_SOURCES})
  add_library(mesl::${name} ALIAS mesl_${name})
  target_link_libraries(mesl_${name} PUBLIC ${ARG_DEPS})
  mesl_configure_target(mesl_${name})
endfunction()

function(mesl_add_executable name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS})
  mesl_configure_target(${name})
endfunction()
