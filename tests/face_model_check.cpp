// The face's bundle logic without DPF (plugin_export/dspnewton_la2a/face_model.hpp):
//   face_model_check BUNDLE_JSON_OR_FOLDER   -> prints "next=... previous=... name=... model=... ok=..."
#include <cstdio>

#include "face_model.hpp"

int main(int argc, char** argv) {
    if (argc != 2) return 2;
    using namespace dspnewton_face;
    const fs::path current = bundle_json_of(argv[1]);
    std::string error;
    const std::string text = read_text(current, error);
    const BundleInfo info = describe(text, current.string());
    std::printf("next=%s\nprevious=%s\nname=%s\nmodel=%s\nok=%d\nerror=%s\n",
                neighbour_bundle(current, +1).string().c_str(), neighbour_bundle(current, -1).string().c_str(),
                info.name.c_str(), info.model.c_str(), info.ok ? 1 : 0, (error.empty() ? info.error : error).c_str());
    return 0;
}
