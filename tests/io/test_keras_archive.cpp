// Keras 3 `.keras` archives: real archives load with exactly the weights their model.weights.h5 stores
// (read here straight from the extracted HDF5 member by path), an archive xkeras writes reads back with the
// same weights and predictions and has saving_lib's member order, and bad archives fail naming the file.
#include "framework/io/hdf5_file.hpp"
#include "framework/io/keras_archive.hpp"
#include "framework/io/keras_h5.hpp"
#include "framework/io/zip_archive.hpp"
#include "support/checks.hpp"

#include <boost/test/unit_test.hpp>

#include <cmath>
#include <algorithm>
#include <filesystem>
#include <functional>
#include <fstream>

using namespace xk;
using test::message_contains;

namespace
{
    const std::string archives = std::string(XKERAS_TEST_DATA_DIR) + "/keras_files/archives/";

    std::string scratch(const std::string& name)
    {
        return (std::filesystem::temp_directory_path() / ("xkeras-test-archive-" + name)).string();
    }

    /// The datasets of the archive's weights member, in the given order (independent of the loader's walk).
    std::vector<Tensor<float>> stored(const std::string& archive, const std::vector<std::string>& datasets)
    {
        const std::string h5 = scratch("member.weights.h5");
        ZipReader(archive).extract("model.weights.h5", h5, std::uint64_t(1) << 30);
        const h5::File f = h5::File::open_read(h5);
        std::vector<Tensor<float>> out;
        for (const auto& d : datasets)
            out.push_back(f.read<float>(d));
        return out;
    }

    /// Every group and dataset (with its shape) of an archive's HDF5 member, but those under `skip`.
    std::vector<std::string> h5_tree(const std::string& archive, const std::string& member,
                                     const std::string& skip = "")
    {
        const std::string h5 = scratch("tree.h5");
        ZipReader(archive).extract(member, h5, std::uint64_t(1) << 30);
        const h5::File f = h5::File::open_read(h5);
        std::vector<std::string> out;
        std::function<void(const std::string&)> walk = [&](const std::string& group) {
            for (const auto& child : f.children(group))
            {
                const std::string path = group.empty() ? child : group + "/" + child;
                if (!skip.empty() && path.rfind(skip, 0) == 0)
                    continue;
                if (f.is_group(path))
                {
                    out.push_back(path + "/");
                    walk(path);
                }
                else
                    out.push_back(path + " " + shape_str(f.dataset_shape(path)));
            }
        };
        walk("");
        std::sort(out.begin(), out.end());
        return out;
    }

    void expect_weights(BasicModel<float>& model, const std::vector<Tensor<float>>& want)
    {
        auto weights = model.weights();
        BOOST_TEST_REQUIRE(weights.size() == want.size());
        for (std::size_t i = 0; i < want.size(); ++i)
            BOOST_TEST(test::close_to_scale(weights[i]->variable.value(), want[i], 0.0), "weight " << i);
    }
}

BOOST_AUTO_TEST_CASE(real_archives_load_with_their_stored_weights)
{
    // Keras 3.4.1: a Functional of two nested Functionals (their calls numbered from 0 in keras_history).
    const std::string autoencoder = archives + "2shakilrafi__autoencoder.keras";
    ModelPtr<float> model = load_model<float>(autoencoder);
    BOOST_TEST(model->class_name() == "Functional");
    std::vector<std::string> datasets;
    for (const char* nested : {"functional", "functional_1"})
        for (const char* dense : {"dense", "dense_1", "dense_2"})
            for (const char* i : {"0", "1"})
                datasets.push_back(std::string("layers/") + nested + "/layers/" + dense + "/vars/" + i);
    expect_weights(*model, stored(autoencoder, datasets));

    // tf.keras 2.13: the container is _layer_checkpoint_dependencies.
    const std::string generator = archives + "mpnunez__generator.keras";
    ModelPtr<float> gen = load_model<float>(generator);
    expect_weights(*gen, stored(generator, {"_layer_checkpoint_dependencies/dense/vars/0",
                                            "_layer_checkpoint_dependencies/dense/vars/1",
                                            "_layer_checkpoint_dependencies/conv2d_transpose/vars/0",
                                            "_layer_checkpoint_dependencies/conv2d_transpose/vars/1"}));
}

BOOST_AUTO_TEST_CASE(real_archive_predicts_what_its_stored_weights_compute)
{
    // The Keras 3.4.1 autoencoder is two nested chains of Dense layers (tanh, tanh, linear each): computed
    // here in double from the datasets of its weights member, read by path.
    const std::string autoencoder = archives + "2shakilrafi__autoencoder.keras";
    ModelPtr<float> model = load_model<float>(autoencoder);
    BOOST_TEST(model->summary().find("functional_1") != std::string::npos);
    std::vector<std::string> datasets;
    for (const char* nested : {"functional", "functional_1"})
        for (const char* dense : {"dense", "dense_1", "dense_2"})
            for (const char* i : {"0", "1"})
                datasets.push_back(std::string("layers/") + nested + "/layers/" + dense + "/vars/" + i);
    const std::vector<Tensor<float>> w = stored(autoencoder, datasets);
    const std::size_t n = 3;
    Tensor<float> x = Tensor<float>::from_shape({n, 10});
    for (std::size_t i = 0; i < x.size(); ++i)
        x.data()[i] = std::sin(0.7f * float(i)) * 1.5f;
    std::vector<std::vector<double>> h(n);
    for (std::size_t r = 0; r < n; ++r)
        for (std::size_t c = 0; c < 10; ++c)
            h[r].push_back(x(r, c));
    for (std::size_t layer = 0; layer < 6; ++layer)
    {
        const Tensor<float>& kernel = w[2 * layer];
        const Tensor<float>& bias = w[2 * layer + 1];
        const bool linear = layer == 2 || layer == 5;
        for (auto& row : h)
        {
            std::vector<double> out(kernel.shape()[1]);
            for (std::size_t j = 0; j < out.size(); ++j)
            {
                double sum = bias(j);
                for (std::size_t i = 0; i < row.size(); ++i)
                    sum += row[i] * double(kernel(i, j));
                out[j] = linear ? sum : std::tanh(sum);
            }
            row = out;
        }
    }
    Tensor<double> want = Tensor<double>::from_shape({n, 10});
    for (std::size_t r = 0; r < n; ++r)
        for (std::size_t c = 0; c < 10; ++c)
            want(r, c) = h[r][c];
    std::string why;
    BOOST_TEST(test::close_to_scale(model->predict(x), want, 1e-5, &why), why);
}

BOOST_AUTO_TEST_CASE(written_archive_reads_back_in_saving_lib_order)
{
    ModelPtr<float> model = load_model<float>(archives + "2shakilrafi__autoencoder.keras");
    const std::string path = scratch("round_trip.keras");
    save_model(*model, path);
    ZipReader zip(path);
    const std::vector<std::string> order{"metadata.json", "config.json", "model.weights.h5"};
    BOOST_TEST(zip.members() == order, boost::test_tools::per_element());
    const json metadata = json::parse(zip.read("metadata.json", 1 << 20));
    BOOST_TEST(metadata["keras_version"] == written_keras3_version);
    BOOST_TEST(metadata.contains("date_saved"));
    const json config = json::parse(zip.read("config.json", 1 << 20));
    BOOST_TEST(config["class_name"] == "Functional");
    BOOST_TEST(config["module"] == "keras.src.models.functional");
    BOOST_TEST(config["config"]["layers"][1]["class_name"] == "Functional");

    // The weights member has the groups and datasets Keras 3.4.1 wrote for the same model (its optimizer
    // aside: this save is uncompiled): /vars, layers/<snake_case class>/..., vars/<i> numbered from 0.
    const auto written = h5_tree(path, "model.weights.h5");
    BOOST_TEST(written == h5_tree(archives + "2shakilrafi__autoencoder.keras", "model.weights.h5", "optimizer"),
               boost::test_tools::per_element());
    BOOST_TEST(written.size() > 20u);
    BOOST_TEST(std::count(written.begin(), written.end(), "layers/functional_1/layers/dense_2/vars/1 (10,)") == 1);

    ModelPtr<float> back = load_model<float>(path);
    auto a = model->weights(), b = back->weights();
    BOOST_TEST_REQUIRE(a.size() == b.size());
    for (std::size_t i = 0; i < a.size(); ++i)
        BOOST_TEST(test::close_to_scale(a[i]->variable.value(), b[i]->variable.value(), 0.0), "weight " << i);
    Tensor<float> x = Tensor<float>::from_shape({2, 10});
    for (std::size_t i = 0; i < x.size(); ++i)
        x.data()[i] = 0.1f * float(i) - 0.7f;
    BOOST_TEST(test::close_to_scale(model->predict(x), back->predict(x), 0.0));
    std::filesystem::remove(path);
}

BOOST_AUTO_TEST_CASE(bad_archives_name_the_file_and_member)
{
    const std::string not_zip = scratch("not_zip.keras");
    std::ofstream(not_zip) << "not a zip archive";
    BOOST_CHECK_EXCEPTION(load_model<float>(not_zip), io_error,
                          message_contains({not_zip, "not a valid zip archive"}));
    const std::string no_config = scratch("no_config.keras");
    {
        ZipWriter zip(no_config);
        zip.add("metadata.json", "{}");
        zip.close();
    }
    BOOST_CHECK_EXCEPTION(load_model<float>(no_config), io_error,
                          message_contains({no_config, "no 'config.json' member"}));
    const std::string bad_json = scratch("bad_json.keras");
    {
        ZipWriter zip(bad_json);
        zip.add("config.json", "{not json");
        zip.close();
    }
    BOOST_CHECK_EXCEPTION(load_model<float>(bad_json), io_error,
                          message_contains({bad_json, "'config.json' is not valid JSON"}));
    for (const auto& p : {not_zip, no_config, bad_json})
        std::filesystem::remove(p);
}

BOOST_AUTO_TEST_CASE(deflated_archives_read_and_bombs_are_refused_before_inflating)
{
    // Made by tests/data/keras_files/bad/make_bad_archives.py from the Keras 3.4.1 autoencoder.
    const std::string bad = std::string(XKERAS_TEST_DATA_DIR) + "/keras_files/bad/";
    ModelPtr<float> stored = load_model<float>(archives + "2shakilrafi__autoencoder.keras");
    ModelPtr<float> deflated = load_model<float>(bad + "autoencoder_deflated.keras");
    auto a = stored->weights(), b = deflated->weights();
    BOOST_TEST_REQUIRE(a.size() == b.size());
    for (std::size_t i = 0; i < a.size(); ++i)
        BOOST_TEST(test::close_to_scale(a[i]->variable.value(), b[i]->variable.value(), 0.0), "weight " << i);
    // config.json declares 4 GiB from a few kilobytes: more than deflate can expand to, refused unread.
    const std::string bomb = bad + "bomb_declared_4gib.keras";
    BOOST_CHECK_EXCEPTION(load_model<float>(bomb), io_error, message_contains({bomb, "config.json", "declares"}));
}

BOOST_AUTO_TEST_CASE(missing_or_misfitting_weights_name_the_member)
{
    ModelPtr<float> model = load_model<float>(archives + "2shakilrafi__autoencoder.keras");
    const std::string good = scratch("good.keras");
    save_model(*model, good);
    const ZipReader zip(good);
    const std::string config = zip.read("config.json", 1 << 20), metadata = zip.read("metadata.json", 1 << 20);

    const std::string no_weights = scratch("no_weights.keras");
    {
        ZipWriter out(no_weights);
        out.add("metadata.json", metadata);
        out.add("config.json", config);
        out.close();
    }
    BOOST_CHECK_EXCEPTION(load_model<float>(no_weights), io_error,
                          message_contains({no_weights, "no 'model.weights.h5' member"}));

    // The weights of another model (a Dense of another width) under this config.
    json other = json::parse(config);
    json& first_dense = other["config"]["layers"][1]["config"]["layers"][1]["config"];
    BOOST_TEST_REQUIRE(first_dense.contains("units"));
    first_dense["units"] = first_dense["units"].get<long>() + 1;
    const std::string other_path = scratch("other.keras");
    {
        ZipWriter out(other_path);
        out.add("metadata.json", metadata);
        out.add("config.json", other.dump());
        const std::string weights = scratch("weights_member.h5");
        zip.extract("model.weights.h5", weights, 1 << 30);
        out.add_file("model.weights.h5", weights);
        out.close();
        std::filesystem::remove(weights);
    }
    BOOST_CHECK_EXCEPTION(load_model<float>(other_path), io_error,
                          message_contains({other_path, "model.weights.h5", "shape"}));

    const std::string garbage = scratch("garbage_weights.keras");
    {
        ZipWriter out(garbage);
        out.add("metadata.json", metadata);
        out.add("config.json", config);
        out.add("model.weights.h5", "not an HDF5 file");
        out.close();
    }
    BOOST_CHECK_EXCEPTION(load_model<float>(garbage), io_error, message_contains({garbage, "model.weights.h5"}));
    for (const auto& p : {good, no_weights, other_path, garbage})
        std::filesystem::remove(p);
}
