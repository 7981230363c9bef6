// The conformance cases (tests/data/reference, computed in float64 by an independent implementation of
// tf.keras 2.x semantics, and tests/data/keras_files/cases, computed by Keras itself): each model file is
// loaded, run on its input, and the output, the input gradient and every weight gradient of
// loss = sum(y * upstream) + regularization losses must match within 1e-4 of the largest magnitude.
// The cases marked expect_error must raise one of the library's errors, naming the layer. The invalid models are
// tested with the loader (tests/io/test_keras_h5.cpp).
#include "framework/engine/error.hpp"
#include "framework/io/hdf5_file.hpp"
#include "framework/io/keras_h5.hpp"
#include "support/checks.hpp"

#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>

using namespace xk;
namespace fs = std::filesystem;

namespace
{
    constexpr double tolerance = 1e-4;
    const fs::path data_dir = XKERAS_TEST_DATA_DIR;

    std::vector<fs::path> case_dirs(const fs::path& root)
    {
        std::vector<fs::path> out;
        for (const auto& entry : fs::directory_iterator(root))
            if (entry.is_directory())
                out.push_back(entry.path());
        std::sort(out.begin(), out.end());
        return out;
    }

    void check_array(const std::string& what, const Tensor<float>& got, const Tensor<float>& expected)
    {
        std::string why;
        BOOST_TEST(test::close_to_scale(got, expected, tolerance, &why), what << ": " << why);
    }

    json read_index()
    {
        std::ifstream in(data_dir / "reference/valid/index.json");
        return json::parse(in);
    }

    /// The names of the layers of `model_path`'s config whose class is one of `classes`.
    std::vector<std::string> layer_names(const fs::path& model_path, const json& classes)
    {
        const json config = json::parse(h5::File::open_read(model_path.string()).read_string_attribute("", "model_config"));
        // Keras 2.0-2.1 Sequential configs are the bare list of layers.
        const json& layers = config["config"].is_array() ? config["config"] : config["config"]["layers"];
        std::vector<std::string> names;
        for (const auto& layer : layers)
            if (std::find(classes.begin(), classes.end(), layer["class_name"]) != classes.end())
                names.push_back(layer["config"]["name"].get<std::string>());
        return names;
    }

    /// Loading and running a model TensorFlow rejects: the error must be one of ours (not a JSON out_of_range,
    /// a bad_alloc...) and name the layer.
    void check_rejected(const fs::path& dir, const json& entry, const Tensor<float>& x)
    {
        const std::vector<std::string> names = layer_names(dir / "model.h5", entry.at("layers"));
        BOOST_TEST_REQUIRE(!names.empty(), "no layer of class " << entry.at("layers").dump() << " in the model config");
        std::string what = "nothing thrown";
        bool ours = false;
        try
        {
            load_model<float>((dir / "model.h5").string())->predict(x);
        }
        catch (const value_error& e) // shape_error too
        {
            what = e.what();
            ours = true;
        }
        catch (const io_error& e)
        {
            what = e.what();
            ours = true;
        }
        catch (const std::exception& e)
        {
            what = std::string("not an xkeras error: ") + e.what();
        }
        catch (...)
        {
            what = "not a std::exception";
        }
        BOOST_TEST(ours, what);
        const bool named = std::any_of(names.begin(), names.end(), [&](const std::string& name) {
            return what.find("'" + name + "'") != std::string::npos;
        });
        BOOST_TEST(named, "the message does not name layer '" << names.front() << "': " << what);
        BOOST_TEST_MESSAGE(dir.filename().string() << " rejected: " << what);
    }
}

BOOST_AUTO_TEST_SUITE(conformance)

BOOST_AUTO_TEST_CASE(reference_outputs_and_gradients)
{
    std::size_t checked = 0, rejected = 0;
    for (const auto& entry : read_index())
    {
        const fs::path dir = data_dir / "reference/valid" / entry["case"].get<std::string>();
        BOOST_TEST_CONTEXT(dir.filename().string())
        {
            auto input = h5::File::open_read((dir / "input.h5").string());
            const Tensor<float> x = input.read<float>("x");
            if (entry.value("expect_error", false))
            {
                // Configurations TensorFlow rejects: loading or running them must raise a clear error.
                check_rejected(dir, entry, x);
                ++rejected;
                continue;
            }
            auto model = load_model<float>((dir / "model.h5").string());
            auto expect = h5::File::open_read((dir / "expect.h5").string());
            const std::vector<Tensor<float>> xs{x}, upstream{input.read<float>("upstream")};
            auto result = model->gradients(xs, upstream);
            check_array("y", result.outputs.at(0), expect.read<float>("y"));
            check_array("dx", result.inputs.at(0), expect.read<float>("dx"));
            std::size_t k = 0;
            for (auto* layer : model->layers())
            {
                for (auto* w : layer->trainable_weights())
                {
                    std::string path = "model_weights/" + layer->name() + "/" + layer->weight_path(*w);
                    check_array(path, result.weights.at(k++), expect.read<float>(path));
                }
            }
            BOOST_TEST(k == result.weights.size());
            ++checked;
        }
    }
    BOOST_TEST(checked >= 200u);
    BOOST_TEST(rejected == 3u);
}

BOOST_AUTO_TEST_CASE(outputs_computed_by_keras)
{
    std::size_t checked = 0;
    for (const auto& dir : case_dirs(data_dir / "keras_files/cases"))
        BOOST_TEST_CONTEXT(dir.filename().string())
        {
            auto model = load_model<float>((dir / "model.h5").string());
            const Tensor<float> x = h5::File::open_read((dir / "input.h5").string()).read<float>("x");
            check_array("y", model->predict(x), h5::File::open_read((dir / "expect.h5").string()).read<float>("y"));
            ++checked;
        }
    BOOST_TEST(checked == 16u);
}

BOOST_AUTO_TEST_SUITE_END()
