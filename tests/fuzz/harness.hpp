#pragma once
// The fuzz harnesses, as plain functions: libFuzzer's entry points (tests/fuzz/fuzz_*.cpp) call them, and so
// does the replay test (tests/fuzz/test_replay.cpp) for every saved input, in any build.
// Each returns normally when the library accepted the input or rejected it with one of its own exceptions
// (xk::value_error, shape_error, io_error); anything else (another exception, a crash, a sanitizer report)
// is a finding.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace xk::fuzz
{
    /// The bytes as an HDF5 model file: load_model, then predict on zeros when the model is small.
    void load_model_bytes(const std::uint8_t* data, std::size_t size);

    /// The bytes as a Keras 3 .keras archive (zip members, config.json, the weights member, the optimizer's
    /// variables): load_model and load_training_keras, then predict on zeros when the model is small.
    void load_archive_bytes(const std::uint8_t* data, std::size_t size);

    /// The bytes as JSON text: model_from_config and layer_from_config. Text that is not JSON is skipped
    /// (the JSON parser is not ours).
    void model_config_text(const std::uint8_t* data, std::size_t size);

    /// The bytes choose a registered layer, a well-formed config for it (kernel sizes, strides, padding,
    /// dilation, data_format...) and a small input shape; the layer is built, run forward and backward.
    void layer_from_bytes(const std::uint8_t* data, std::size_t size);
    /// What layer_from_bytes did with the bytes: the class it picked, and whether that layer was built and run
    /// forward and backward (false: the library rejected the config or the input with its own error).
    struct LayerRun
    {
        std::string class_name;
        bool ran = false;
    };
    LayerRun run_layer_from_bytes(const std::uint8_t* data, std::size_t size);
    /// The registered layers the layer harness picks from: every one but InputLayer. Merge layers get a list
    /// of two or three inputs.
    std::vector<std::string> fuzzable_layers();

    /// Which harness a corpus directory name stands for ("load_model", "load_archive", "model_config",
    /// "layer"); nullptr if none.
    using Harness = void (*)(const std::uint8_t*, std::size_t);
    Harness harness_named(const std::string& name);
}
