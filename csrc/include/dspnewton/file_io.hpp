// dspnewton: whole-file reads, and writes through a temporary file that is then renamed.
#pragma once

#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

namespace dspnewton {

inline std::string read_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) throw std::invalid_argument("cannot read '" + path + "'");
    std::ostringstream o;
    o << f.rdbuf();
    return o.str();
}

/// Writes ``data`` to a temporary file beside ``path``, then renames it over ``path``: a reader
/// never sees a half-written file, and a failed write leaves what was there.
inline void write_file(const std::string& path, const std::string& data) {
    const std::string part = path + ".part";
    {
        std::ofstream f(part, std::ios::binary | std::ios::trunc);
        if (!f) throw std::runtime_error("cannot write '" + path + "'");
        f.write(data.data(), static_cast<std::streamsize>(data.size()));
        f.flush();
        if (!f) {
            f.close();
            std::remove(part.c_str());
            throw std::runtime_error("failed writing '" + path + "'");
        }
    }
    if (std::rename(part.c_str(), path.c_str()) != 0) {
        std::remove(part.c_str());
        throw std::runtime_error("cannot replace '" + path + "'");
    }
}

}  // namespace dspnewton
