// pybind11 bindings of the dspnewton C++ core (no torch on this side).
#include <pybind11/pybind11.h>

#include "dspnewton/version.hpp"

namespace py = pybind11;

PYBIND11_MODULE(_native, m) {
    m.doc() = "dspnewton C++ core: real-time compressor, bundle and preset writers";
    m.def("version", &dspnewton::version, "Version string compiled into the C++ core.");
}
