// dspnewton C++ core: version information shared by the extension and the plugin.
#pragma once

#ifndef DSPNEWTON_VERSION
#define DSPNEWTON_VERSION "0.0.0"
#endif

namespace dspnewton {
inline const char* version() { return DSPNEWTON_VERSION; }
}  // namespace dspnewton
