// A loaded bundle (see model.hpp).
#include "model.hpp"

#include "log.hpp"

namespace vgrt {

Model::Model(const std::string& path, const vgrt_model_options& options)
    : Model(read_bundle(path, options.verify_checksums != 0), options) {}

Model::Model(std::shared_ptr<const std::vector<uint8_t>> pack, const vgrt_model_options& options)
    : Model(read_packed_bundle(std::move(pack), options.verify_checksums != 0), options) {}

Model::Model(Bundle bundle, const vgrt_model_options& options)
    : manifest_(std::move(bundle.manifest)),
      manifest_text_(std::move(bundle.text)),
      context_(std::move(bundle.context)),
      backend_(make_backend(manifest_, options)),
      backend_library_(backend_->library()) {
    graphs(manifest_.batch_sizes().front());
    log(VGRT_LOG_INFO, "loaded " + manifest_.directory + " (" + manifest_.precision + ", backend " + backend_->name() + ")");
}

GraphSet Model::graphs(int batch) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = graphs_.find(batch);
    if (it != graphs_.end()) return it->second;
    GraphSet set;
    set.encode = backend_->load(manifest_.graph(batch, "encode"), batch);
    set.step = backend_->load(manifest_.graph(batch, "step"), batch);
    set.decode = backend_->load(manifest_.graph(batch, "decode"), batch);
    if (manifest_.head.flow()) {
        set.noise = backend_->load(manifest_.graph(batch, "noise"), batch);
        set.sample = backend_->load(manifest_.graph(batch, "sample"), batch);
        for (int64_t steps : manifest_.head.fused_sampling_steps)
            set.fused_sample[steps] = backend_->load(manifest_.graph(batch, HeadSpec::fused_kind(steps)), batch);
    }
    return graphs_.emplace(batch, set).first->second;
}

}  // namespace vgrt
