// sdk_cmake_host: a C++17 host over vidgen_rt.hpp, built with CMake's find_package(vidgen_rt). It
// loads a bundle directory, or reads a packed bundle (.vgrtpack) into memory and opens it from
// there, plays FRAMES steps of a fixed action script, prints an FNV-1a checksum of the last frame
// and writes that frame's raw RGBA bytes (height x width x 4, rows top-down) when OUT is given.
//
//   sdk_cmake_host BUNDLE.vgrt|BUNDLE.vgrtpack [FRAMES=60] [OUT.rgba] [THREADS=0]
//
// ONNX Runtime needs no setting: libvidgen_rt loads the copy installed beside it (printed).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#include "vidgen_rt.hpp"

namespace {

// Action of frame i: walk forward, then cycle through every action for 5 frames each.
int64_t scripted_action(int frame, int action_count) { return (frame / 5 + 1) % action_count; }

uint64_t fnv1a(const uint8_t* data, size_t size) {
    uint64_t hash = 1469598103934665603ull;
    for (size_t i = 0; i < size; ++i) hash = (hash ^ data[i]) * 1099511628211ull;
    return hash;
}

bool ends_with(const std::string& text, const std::string& suffix) {
    return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

vidgen_rt::Model open_model(const std::string& path, const vgrt_model_options& options) {
    if (!ends_with(path, ".vgrtpack")) return vidgen_rt::Model(path, options);
    std::ifstream file(path, std::ios::binary);
    if (!file) throw std::runtime_error(path + ": cannot open");
    const std::vector<char> bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    return vidgen_rt::Model::open_memory(bytes.data(), bytes.size(), options);  // bytes may go now
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s BUNDLE.vgrt|BUNDLE.vgrtpack [FRAMES=60] [OUT.rgba] [THREADS=0]\n", argv[0]);
        return 1;
    }
    const int frames = argc > 2 ? std::atoi(argv[2]) : 60;
    try {
        vgrt_model_options options = vgrt_model_options_default();
        options.intra_op_threads = argc > 4 ? std::atoi(argv[4]) : 0;
        vidgen_rt::Model model = open_model(argv[1], options);
        const vgrt_model_info info = model.info();
        vidgen_rt::Stream stream(model);
        std::vector<uint8_t> rgba(stream.frame_bytes());
        for (int i = 0; i < frames; ++i)
            stream.step({scripted_action(i, info.action_count)}, rgba.data(), rgba.size());
        std::printf("%d frames of %dx%d, last frame checksum %016llx, ONNX Runtime %s\n", frames, info.width,
                    info.height, static_cast<unsigned long long>(fnv1a(rgba.data(), rgba.size())),
                    model.backend_library().c_str());
        if (argc > 3) std::ofstream(argv[3], std::ios::binary).write(reinterpret_cast<const char*>(rgba.data()),
                                                                     std::streamsize(rgba.size()));
    } catch (const std::exception& error) {
        std::fprintf(stderr, "sdk_cmake_host: %s\n", error.what());
        return 1;
    }
    return 0;
}
