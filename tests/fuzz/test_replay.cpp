// Replays every saved fuzz input through the same harness functions the libFuzzer targets call, without
// libFuzzer: tests/data/fuzz/<target>/* (the crashes found, one file each) and the committed seeds. A
// foreign exception fails the test here; a crash or sanitizer report fails the whole executable.
#include "fuzz/harness.hpp"
#include "layers/registry.hpp"

#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <vector>

namespace fs = std::filesystem;

namespace
{
    const fs::path data_dir = XKERAS_TEST_DATA_DIR;
    const fs::path seed_dir = fs::path(XKERAS_TEST_DATA_DIR) / ".." / "fuzz" / "seeds";

    std::vector<std::uint8_t> read_bytes(const fs::path& path)
    {
        std::ifstream in(path, std::ios::binary);
        return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    }

    /// Calls `check` with the bytes of every file under tests/data/keras_files ending in `extension`;
    /// returns how many.
    template <class Check>
    std::size_t for_each_test_file(const std::string& extension, Check&& check)
    {
        std::size_t count = 0;
        for (const auto& entry : fs::recursive_directory_iterator(data_dir / "keras_files"))
            if (entry.is_regular_file() && entry.path().extension() == extension)
            {
                BOOST_TEST_CONTEXT(entry.path().string()) { check(read_bytes(entry.path())); }
                ++count;
            }
        return count;
    }

    /// Runs `target`'s harness on every regular file under `dir` (which must exist and hold some); returns how
    /// many it handled, which must be all of them.
    std::size_t replay(const std::string& target, const fs::path& dir)
    {
        const auto harness = xk::fuzz::harness_named(target);
        BOOST_REQUIRE(harness != nullptr);
        BOOST_REQUIRE_MESSAGE(fs::is_directory(dir), dir.string() << " is missing: nothing would be replayed");
        std::vector<fs::path> files;
        for (const auto& entry : fs::recursive_directory_iterator(dir))
            if (entry.is_regular_file() && entry.path().filename() != "README.md")
                files.push_back(entry.path());
        BOOST_TEST_REQUIRE(!files.empty(), dir.string() << " holds no input to replay");
        std::size_t handled = 0;
        for (const auto& file : files)
            BOOST_TEST_CONTEXT(file.string())
            {
                const auto bytes = read_bytes(file);
                try
                {
                    harness(bytes.data(), bytes.size());
                    ++handled;
                }
                catch (const std::exception& e)
                {
                    BOOST_ERROR("the harness let through " << e.what());
                }
            }
        BOOST_TEST(handled == files.size());
        return handled;
    }
}

BOOST_AUTO_TEST_CASE(harnesses_are_named)
{
    BOOST_TEST(xk::fuzz::harness_named("load_model") == &xk::fuzz::load_model_bytes);
    BOOST_TEST(xk::fuzz::harness_named("layer") == &xk::fuzz::layer_from_bytes);
    BOOST_TEST(xk::fuzz::harness_named("no_such_target") == nullptr);
}

BOOST_AUTO_TEST_CASE(saved_fuzz_findings_are_handled)
{
    for (const std::string target : {"load_model", "load_archive", "model_config", "layer"})
    {
        BOOST_TEST_CONTEXT(target) { replay(target, data_dir / "fuzz" / target); }
    }
}

BOOST_AUTO_TEST_CASE(model_config_seeds_are_handled)
{
    // The Keras configs the fuzzer starts from (extracted from tests/data): all must load or be rejected cleanly.
    BOOST_TEST(replay("model_config", seed_dir / "model_config") > 200u);
}

BOOST_AUTO_TEST_CASE(model_files_in_test_data_are_handled)
{
    // The loader's seeds are the model files in tests/data: a sample of them through the harness.
    const std::size_t count = for_each_test_file(".h5", [](const std::vector<std::uint8_t>& bytes) {
        BOOST_CHECK_NO_THROW(xk::fuzz::load_model_bytes(bytes.data(), bytes.size()));
    });
    BOOST_TEST(count > 10u);
}

BOOST_AUTO_TEST_CASE(archives_in_test_data_are_handled)
{
    // The archive target's seeds: every .keras file in tests/data, whole and cut short.
    const std::size_t count = for_each_test_file(".keras", [](const std::vector<std::uint8_t>& bytes) {
        BOOST_CHECK_NO_THROW(xk::fuzz::load_archive_bytes(bytes.data(), bytes.size()));
        BOOST_CHECK_NO_THROW(xk::fuzz::load_archive_bytes(bytes.data(), bytes.size() / 2));
    });
    BOOST_TEST(count >= 5u);
}

BOOST_AUTO_TEST_CASE(layer_harness_covers_every_layer)
{
    // Inputs whose first byte picks the layer, the rest varied: every registered layer (InputLayer aside) must
    // be built and run forward and backward at least once, not only picked and rejected.
    std::map<std::string, int> ran;
    std::size_t runs = 0;
    for (int variant = 0; variant < 8; ++variant)
        for (int first = 0; first < 256; ++first)
        {
            std::vector<std::uint8_t> bytes(64);
            for (std::size_t i = 0; i < bytes.size(); ++i)
                bytes[i] = static_cast<std::uint8_t>(i == 0 ? first : (first * 31 + i * 7 + variant * 53 + i * i * variant) % 256);
            BOOST_TEST_CONTEXT("first byte " << first << ", variant " << variant)
            {
                try
                {
                    const xk::fuzz::LayerRun run = xk::fuzz::run_layer_from_bytes(bytes.data(), bytes.size());
                    if (run.ran)
                    {
                        ++ran[run.class_name];
                        ++runs;
                    }
                }
                catch (const std::exception& e)
                {
                    BOOST_ERROR("the harness let through " << e.what());
                }
            }
        }
    const std::vector<std::string> layers = xk::fuzz::fuzzable_layers();
    BOOST_TEST(layers.size() == xk::layer_registry<float>().names().size() - 1);
    for (const auto& name : layers)
        BOOST_TEST(ran[name] > 0, name << " was never built and run");
    BOOST_TEST(runs > layers.size());
}
