// xk::h5::File: round trips, Keras's string-attribute flavours, real Keras files of several versions, and
// damaged files. Expected facts about the real files were read once with h5py.
#include "framework/io/hdf5_file.hpp"

#include "support/checks.hpp"

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <thread>
#include <tuple>

namespace fs = std::filesystem;
using xk::io_error;
using xk::Shape;
using xk::Tensor;
using xk::h5::File;
using xk::test::message_contains;

namespace
{
    const std::string keras_dir = std::string(XKERAS_TEST_DATA_DIR) + "/keras_files/files/";
    const std::string keras_2_1 = keras_dir + "dl4j__conv2d_tensorflow_keras2.1.3.h5";
    const std::string keras_2_13 = keras_dir + "hls4ml__conv2d_1layer_model_keras2.13.1.h5";
    const std::string keras_3_14 = keras_dir + "shreyanshgupta28__keras3.14_legacy_model.h5";
    const std::string keras_2_2_4 = keras_dir + "nnom__mnist-densenet_keras_mnist_model.h5";
    const std::string reference_conv2d = std::string(XKERAS_TEST_DATA_DIR) + "/reference/valid/c001_conv2d/model.h5";

    /// A fresh directory under the system temp dir, removed with its content.
    struct TempDir
    {
        TempDir()
        {
            static std::atomic<int> counter{0};
            path = fs::temp_directory_path() /
                   ("xkeras_hdf5_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
            fs::remove_all(path);
            fs::create_directories(path);
        }
        ~TempDir()
        {
            std::error_code ec;
            fs::remove_all(path, ec);
        }
        std::string file(const std::string& name) const { return (path / name).string(); }

        fs::path path;
    };

    std::string read_bytes(const std::string& path)
    {
        std::ifstream in(path, std::ios::binary);
        return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }

    void write_bytes(const std::string& path, const std::string& bytes)
    {
        std::ofstream out(path, std::ios::binary | std::ios::trunc);
        out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    }

    std::set<std::string> directory_entries(const fs::path& dir)
    {
        std::set<std::string> names;
        for (const auto& entry : fs::directory_iterator(dir))
            names.insert(entry.path().filename().string());
        return names;
    }

    /// Values that need the full precision of T and are distinct per element.
    template <class T>
    Tensor<T> pattern(const Shape& shape)
    {
        Tensor<T> t = Tensor<T>::from_shape(shape);
        for (std::size_t i = 0; i < t.size(); ++i)
        {
            if constexpr (std::is_integral_v<T>)
                t.data()[i] = static_cast<T>(i) * 1000000007LL - 4000000000000LL;
            else
                t.data()[i] = static_cast<T>((static_cast<double>(i) - 3.3) / 7.0);
        }
        return t;
    }

    /// Reads every dataset and attribute below `path`: a damaged file must fail with io_error, nothing else.
    /// The depth limit stops at link cycles, which damage can create.
    void read_everything(const File& file, const std::string& path, int depth = 0)
    {
        for (const auto& name : file.attribute_names(path))
        {
            try
            {
                file.read_string_list_attribute(path, name);
            }
            catch (const io_error&)
            {
                // A numeric attribute is not a list; the point is to touch its bytes.
            }
        }
        for (const auto& child : file.children(path))
        {
            std::string child_path = path + "/" + child;
            if (file.is_dataset(child_path))
                file.read<double>(child_path);
            else if (file.is_group(child_path) && depth < 8)
                read_everything(file, child_path, depth + 1);
        }
    }

    using value_types = std::tuple<float, double, std::int64_t>;
} // namespace

BOOST_AUTO_TEST_SUITE(hdf5_file)

BOOST_AUTO_TEST_CASE_TEMPLATE(tensor_round_trip_ranks_0_to_5, T, value_types)
{
    TempDir dir;
    std::string path = dir.file("tensors.h5");
    const std::vector<Shape> shapes = {{}, {7}, {2, 3}, {2, 1, 4}, {3, 2, 1, 2}, {2, 1, 3, 1, 2}, {0, 3}};
    {
        File file = File::open_write(path);
        for (std::size_t i = 0; i < shapes.size(); ++i)
            file.write<T>("group/sub:0/t" + std::to_string(i), pattern<T>(shapes[i]));
        file.close();
    }
    File file = File::open_read(path);
    for (std::size_t i = 0; i < shapes.size(); ++i)
    {
        std::string name = "group/sub:0/t" + std::to_string(i);
        BOOST_TEST_CONTEXT("shape " << xk::shape_str(shapes[i]))
        {
            BOOST_TEST(file.is_dataset(name));
            BOOST_TEST(file.dataset_shape(name) == shapes[i]);
            Tensor<T> back = file.read<T>(name);
            BOOST_TEST(xk::shape_of(back) == shapes[i]);
            BOOST_TEST(back.size() == xk::shape_size(shapes[i]));
            BOOST_TEST((back == pattern<T>(shapes[i])));
        }
    }
    // A scalar dataset holds exactly one value.
    BOOST_TEST(file.read<T>("group/sub:0/t0").size() == 1u);
}

BOOST_AUTO_TEST_CASE(reading_converts_between_stored_types)
{
    TempDir dir;
    std::string path = dir.file("convert.h5");
    {
        File file = File::open_write(path);
        file.write<float>("f", pattern<float>({5}));
        file.write<std::int64_t>("i", Tensor<std::int64_t>{-3, 0, 7, 123456});
        file.write<double>("d", Tensor<double>{0.1, -2.5, 1e10});
    }
    File file = File::open_read(path);
    Tensor<double> f_as_double = file.read<double>("f");
    Tensor<float> f = pattern<float>({5});
    for (std::size_t i = 0; i < 5; ++i)
        BOOST_TEST(f_as_double(i) == static_cast<double>(f(i)));
    BOOST_TEST((file.read<float>("i") == Tensor<float>{-3.f, 0.f, 7.f, 123456.f}));
    BOOST_TEST((file.read<float>("d") == Tensor<float>{0.1f, -2.5f, 1e10f}));
    BOOST_TEST((file.read<std::int64_t>("i") == Tensor<std::int64_t>{-3, 0, 7, 123456}));
}

BOOST_AUTO_TEST_CASE(nested_paths_with_colons)
{
    TempDir dir;
    std::string path = dir.file("nested.h5");
    {
        File file = File::open_write(path);
        file.write<float>("model_weights/conv2d/conv2d/kernel:0", pattern<float>({1, 1, 3, 2}));
        file.write<float>("/model_weights/conv2d/conv2d/bias:0", pattern<float>({2}));
        file.create_group("model_weights/flatten");
        file.create_group("model_weights/flatten"); // already there: fine
        file.create_group("a/b/c");
        BOOST_CHECK_EXCEPTION(file.create_group("model_weights/conv2d/conv2d/bias:0"), io_error,
                              message_contains({"'/model_weights/conv2d/conv2d/bias:0'", "a dataset"}));
        BOOST_CHECK_EXCEPTION(file.write<float>("model_weights/conv2d/conv2d/bias:0", pattern<float>({2})), io_error,
                              message_contains({path, "already exists"}));
        BOOST_CHECK_EXCEPTION(file.write<float>("model_weights/conv2d/conv2d/bias:0/x", pattern<float>({2})), io_error,
                              message_contains({"is a dataset, not a group"}));
        BOOST_CHECK_THROW(file.write<float>("/", pattern<float>({2})), io_error);
    }
    File file = File::open_read(path);
    BOOST_TEST(file.exists(""));
    BOOST_TEST(file.is_group("/"));
    BOOST_TEST(file.exists("model_weights"));
    BOOST_TEST(file.is_group("model_weights/conv2d"));
    BOOST_TEST(file.is_group("/model_weights/conv2d/conv2d/"));
    BOOST_TEST(file.is_dataset("model_weights/conv2d/conv2d/kernel:0"));
    BOOST_TEST(!file.is_group("model_weights/conv2d/conv2d/kernel:0"));
    BOOST_TEST(!file.is_dataset("model_weights/conv2d"));
    BOOST_TEST(file.is_group("a/b/c"));
    BOOST_TEST(!file.exists("model_weights/conv2d/conv2d/kernel"));
    BOOST_TEST(!file.exists("missing/deeper/kernel:0"));
    BOOST_TEST(!file.exists("model_weights/conv2d/conv2d/kernel:0/below"));
    BOOST_TEST(!file.is_dataset("missing/deeper/kernel:0"));
    BOOST_TEST(file.dataset_shape("model_weights/conv2d/conv2d/kernel:0") == (Shape{1, 1, 3, 2}));
    BOOST_TEST(file.children("model_weights/conv2d/conv2d") == (std::vector<std::string>{"bias:0", "kernel:0"}));
    BOOST_TEST(file.children("/") == (std::vector<std::string>{"a", "model_weights"}));
    BOOST_TEST(file.children("model_weights") == (std::vector<std::string>{"conv2d", "flatten"}));
    BOOST_TEST(file.children("model_weights/flatten").empty());
    BOOST_CHECK_EXCEPTION(file.children("model_weights/conv2d/conv2d/kernel:0"), io_error,
                          message_contains({"expected a group", "found a dataset"}));
    BOOST_CHECK_EXCEPTION(file.children("nope"), io_error, message_contains({"group '/nope' not found"}));
    // A file opened for reading refuses writes.
    BOOST_CHECK_EXCEPTION(file.create_group("x"), io_error, message_contains({"reading only"}));
}

BOOST_AUTO_TEST_CASE(string_attribute_round_trip)
{
    TempDir dir;
    std::string path = dir.file("attrs.h5");
    std::string big_json = "{\"layers\": [";
    for (int i = 0; i < 5000; ++i)
        big_json += std::string(i ? ", " : "") + "{\"name\": \"dense_" + std::to_string(i) + "\", \"units\": 10}";
    big_json += "]}";
    BOOST_REQUIRE_GT(big_json.size(), 100000u); // beyond the 64 KiB object header
    const std::string unicode = "na\xc3\xafve \xe2\x9c\x93";
    const std::vector<std::string> names = {"input_1", "conv2d", "", "a_much_longer_layer_name_with:colon"};
    {
        File file = File::open_write(path);
        file.create_group("model_weights/conv2d");
        file.write_string_attribute("/", "keras_version", "2.15.0");
        file.write_string_attribute("", "model_config", big_json);
        file.write_string_attribute("/", "unicode", unicode);
        file.write_string_attribute("/", "empty", "");
        file.write_string_attribute("model_weights", "backend", "tensorflow", xk::h5::StringStorage::fixed_ascii);
        file.write_string_attribute("model_weights", "empty_fixed", "", xk::h5::StringStorage::fixed_ascii);
        file.write_string_attribute("model_weights", "replaced", "first");
        file.write_string_attribute("model_weights", "replaced", "second, longer value");
        file.write_string_list_attribute("model_weights", "layer_names", names);
        file.write_string_list_attribute("model_weights/conv2d", "weight_names", {"conv2d/kernel:0"});
        BOOST_CHECK_EXCEPTION(file.write_string_attribute("nope", "x", "y"), io_error,
                              message_contains({"object '/nope' not found"}));
        BOOST_CHECK_THROW(
            file.write_string_attribute("/", "x", std::string(70000, 'x'), xk::h5::StringStorage::fixed_ascii),
            io_error);
    }
    File file = File::open_read(path);
    BOOST_TEST(file.read_string_attribute("/", "keras_version") == "2.15.0");
    BOOST_TEST(file.read_string_attribute("/", "model_config") == big_json);
    BOOST_TEST(file.read_string_attribute("/", "unicode") == unicode);
    BOOST_TEST(file.read_string_attribute("/", "empty") == "");
    BOOST_TEST(file.read_string_attribute("model_weights", "backend") == "tensorflow");
    BOOST_TEST(file.read_string_attribute("model_weights", "empty_fixed") == "");
    BOOST_TEST(file.read_string_attribute("model_weights", "replaced") == "second, longer value");
    BOOST_TEST(file.read_string_list_attribute("model_weights", "layer_names") == names);
    BOOST_TEST(file.read_string_list_attribute("/model_weights/conv2d", "weight_names") ==
               (std::vector<std::string>{"conv2d/kernel:0"}));
    // A one-element array reads as a scalar string too; a scalar reads as a one-item list.
    BOOST_TEST(file.read_string_attribute("model_weights/conv2d", "weight_names") == "conv2d/kernel:0");
    BOOST_TEST(file.read_string_list_attribute("/", "keras_version") == (std::vector<std::string>{"2.15.0"}));
    BOOST_TEST(file.has_attribute("/", "keras_version"));
    BOOST_TEST(!file.has_attribute("/", "training_config"));
    BOOST_TEST(file.attribute_names("/") ==
               (std::vector<std::string>{"empty", "keras_version", "model_config", "unicode"}));
    BOOST_CHECK_EXCEPTION(file.read_string_attribute("model_weights", "layer_names"), io_error,
                          message_contains({path, "expected a single string", "'layer_names'", "'/model_weights'",
                                            "found a 1-D fixed-length string array of shape (4,)"}));
    BOOST_CHECK_EXCEPTION(file.read_string_attribute("/", "training_config"), io_error,
                          message_contains({path, "attribute 'training_config' not found on '/'"}));
    BOOST_CHECK_EXCEPTION(file.read_string_list_attribute("/", "layer_names"), io_error,
                          message_contains({"attribute 'layer_names'", "not found on '/'"}));
    BOOST_CHECK_EXCEPTION(file.has_attribute("missing/group", "x"), io_error,
                          message_contains({"object '/missing/group' not found"}));
}

BOOST_AUTO_TEST_CASE(keras_chunk_counts_follow_array_split)
{
    using xk::h5::keras_attribute_chunks;
    BOOST_TEST(keras_attribute_chunks(0, 1).empty());
    BOOST_TEST(keras_attribute_chunks(5, 1) == (std::vector<std::size_t>{5}));
    BOOST_TEST(keras_attribute_chunks(2150, 30) == (std::vector<std::size_t>{2150})); // 64500 bytes fit
    BOOST_TEST(keras_attribute_chunks(2151, 30) == (std::vector<std::size_t>{1076, 1075}));
    BOOST_TEST(keras_attribute_chunks(3000, 30) == (std::vector<std::size_t>{1500, 1500}));
    BOOST_TEST(keras_attribute_chunks(1001, 129) == (std::vector<std::size_t>{334, 334, 333}));
    // 120000 bytes would fit in 2 chunks by total size, but array_split(3, 2) puts 2 items in the first.
    BOOST_TEST(keras_attribute_chunks(3, 40000) == (std::vector<std::size_t>{1, 1, 1}));
    BOOST_TEST(keras_attribute_chunks(1, 64512) == (std::vector<std::size_t>{1}));
    BOOST_CHECK_THROW(keras_attribute_chunks(1, 64513), xk::value_error);
}

BOOST_AUTO_TEST_CASE(chunked_list_attribute_round_trip)
{
    TempDir dir;
    std::string path = dir.file("chunked.h5");
    std::vector<std::string> many;
    for (int i = 0; i < 3000; ++i)
    {
        std::string name = "layer_" + std::to_string(i) + "_";
        many.push_back(name + std::string(30 - name.size(), 'x'));
    }
    const std::vector<std::string> huge = {std::string(40000, 'a'), std::string(39999, 'b'), "c"};
    {
        File file = File::open_write(path);
        file.create_group("g");
        file.write_string_list_attribute("/", "layer_names", many);
        file.write_string_list_attribute("g", "weight_names", huge);
        // Rewriting with a short list must drop the old chunks, or Keras would read a stale mix.
        file.create_group("h");
        file.write_string_list_attribute("h", "names", many);
        file.write_string_list_attribute("h", "names", {"only"});
        BOOST_CHECK_EXCEPTION(file.write_string_list_attribute("/", "too_long", {"a", std::string(64513, 'z')}),
                              io_error, message_contains({"item 1", "64513 bytes"}));
    }
    File file = File::open_read(path);
    BOOST_TEST(!file.has_attribute("/", "layer_names"));
    BOOST_TEST(file.has_attribute("/", "layer_names0"));
    BOOST_TEST(file.has_attribute("/", "layer_names1"));
    BOOST_TEST(!file.has_attribute("/", "layer_names2"));
    BOOST_TEST(file.read_string_list_attribute("/", "layer_names") == many);
    BOOST_TEST(file.read_string_list_attribute("/", "layer_names0").size() == 1500u);

    BOOST_TEST(!file.has_attribute("g", "weight_names"));
    BOOST_TEST(file.has_attribute("g", "weight_names2"));
    BOOST_TEST(!file.has_attribute("g", "weight_names3"));
    BOOST_TEST(file.read_string_list_attribute("g", "weight_names") == huge);

    BOOST_TEST(file.read_string_list_attribute("h", "names") == (std::vector<std::string>{"only"}));
    BOOST_TEST(!file.has_attribute("h", "names0"));
    BOOST_TEST(!file.has_attribute("/", "too_long"));
}

BOOST_AUTO_TEST_CASE(empty_list_attribute)
{
    TempDir dir;
    std::string path = dir.file("empty.h5");
    {
        File file = File::open_write(path);
        file.create_group("model_weights/flatten");
        file.write_string_list_attribute("model_weights/flatten", "weight_names", {});
    }
    File file = File::open_read(path);
    BOOST_TEST(file.has_attribute("model_weights/flatten", "weight_names"));
    BOOST_TEST(file.read_string_list_attribute("model_weights/flatten", "weight_names").empty());
    // Stored as Keras stores it: float64 of shape (0,), not a string.
    BOOST_CHECK_EXCEPTION(file.read_string_attribute("model_weights/flatten", "weight_names"), io_error,
                          message_contains({"expected a string attribute 'weight_names' on '/model_weights/flatten'",
                                            "found a 1-D float array of shape (0,)"}));
}

BOOST_AUTO_TEST_CASE(keras_2_1_fixed_length_names)
{
    File file = File::open_read(keras_2_1);
    BOOST_TEST(file.path() == keras_2_1);
    BOOST_TEST(file.read_string_attribute("/", "keras_version") == "2.1.3");
    BOOST_TEST(file.read_string_attribute("/", "backend") == "tensorflow");
    BOOST_TEST(file.read_string_list_attribute("model_weights", "layer_names") ==
               (std::vector<std::string>{"conv2d_1"}));
    BOOST_TEST(file.read_string_list_attribute("model_weights/conv2d_1", "weight_names") ==
               (std::vector<std::string>{"conv2d_1/kernel:0", "conv2d_1/bias:0"}));
    BOOST_TEST(file.dataset_shape("model_weights/conv2d_1/conv2d_1/kernel:0") == (Shape{3, 3, 5, 6}));
    BOOST_TEST(
        (file.read<float>("model_weights/conv2d_1/conv2d_1/bias:0") == Tensor<float>{0.f, 1.f, 2.f, 3.f, 4.f, 5.f}));
    auto config = nlohmann::json::parse(file.read_string_attribute("/", "model_config"));
    BOOST_TEST(config["class_name"] == "Sequential");
    BOOST_TEST(config["config"].is_array()); // Keras 2.0-2.1 Sequential: a bare list of layers
    BOOST_TEST(config["config"][0]["config"]["name"] == "conv2d_1");
    BOOST_TEST(nlohmann::json::parse(file.read_string_attribute("/", "training_config")).is_object());
}

BOOST_AUTO_TEST_CASE(keras_2_13_variable_length_names_and_utf8_root)
{
    File file = File::open_read(keras_2_13);
    BOOST_TEST(file.read_string_attribute("/", "keras_version") == "2.13.1");
    BOOST_TEST(file.read_string_attribute("/", "backend") == "tensorflow");
    BOOST_TEST(file.read_string_list_attribute("model_weights", "layer_names") == (std::vector<std::string>{"conv2d"}));
    BOOST_TEST(file.read_string_list_attribute("model_weights/conv2d", "weight_names") ==
               (std::vector<std::string>{"conv2d/kernel:0", "conv2d/bias:0"}));
    BOOST_TEST(file.read_string_list_attribute("model_weights/top_level_model_weights", "weight_names").empty());
    BOOST_TEST(file.children("model_weights") == (std::vector<std::string>{"conv2d", "top_level_model_weights"}));
    Tensor<float> kernel = file.read<float>("model_weights/conv2d/conv2d/kernel:0");
    BOOST_TEST(xk::shape_of(kernel) == (Shape{3, 3, 1, 1}));
    BOOST_TEST(kernel(0, 0, 0, 0) == 0.8755364f);
    BOOST_TEST(kernel(2, 2, 0, 0) == 0.36197314f);
    auto config = nlohmann::json::parse(file.read_string_attribute("/", "model_config"));
    BOOST_TEST(config["config"]["layers"][0]["class_name"] == "InputLayer");
}

BOOST_AUTO_TEST_CASE(keras_3_14_legacy_model)
{
    File file = File::open_read(keras_3_14);
    BOOST_TEST(file.read_string_attribute("/", "keras_version") == "3.14.0");
    const std::vector<std::string> layers = {"flatten", "dense", "dense_1", "dense_2", "dense_3"};
    BOOST_TEST(file.read_string_list_attribute("model_weights", "layer_names") == layers);
    BOOST_TEST(file.read_string_list_attribute("model_weights/flatten", "weight_names").empty());
    BOOST_TEST(file.read_string_list_attribute("model_weights/dense", "weight_names") ==
               (std::vector<std::string>{"dense/kernel", "dense/bias"}));
    BOOST_TEST(file.dataset_shape("model_weights/dense/dense/kernel") == (Shape{784, 64}));
    BOOST_TEST(file.read<float>("model_weights/dense_3/dense_3/bias")(9) == -0.048859302f);
    // Optimizer scalars are 0-d datasets.
    Tensor<std::int64_t> iteration = file.read<std::int64_t>("optimizer_weights/adam/iteration");
    BOOST_TEST(iteration.dimension() == 0u);
    BOOST_TEST(iteration() == 17652);
    BOOST_TEST(file.read<double>("optimizer_weights/adam/learning_rate")() == double(1e-4f));
    BOOST_TEST(file.read_string_list_attribute("optimizer_weights", "weight_names").size() == 18u);
    auto config = nlohmann::json::parse(file.read_string_attribute("/", "model_config"));
    BOOST_TEST(config["config"]["layers"][0]["config"]["batch_shape"][1] == 28);
    BOOST_CHECK_EXCEPTION(file.read_string_attribute("model_weights/flatten", "weight_names"), io_error,
                          message_contains({keras_3_14, "expected a string attribute 'weight_names'",
                                            "'/model_weights/flatten'", "found a 1-D float array"}));
}

BOOST_AUTO_TEST_CASE(keras_2_2_4_many_layers)
{
    File file = File::open_read(keras_2_2_4);
    auto layers = file.read_string_list_attribute("model_weights", "layer_names");
    BOOST_REQUIRE_EQUAL(layers.size(), 51u);
    BOOST_TEST(layers.front() == "input_1");
    BOOST_TEST(layers[2] == "lambda_1");
    BOOST_TEST(layers.back() == "softmax_1");
    auto groups = file.children("model_weights");
    BOOST_TEST(groups.size() == 51u);
    BOOST_TEST(groups.front() == "concatenate_1"); // link order is by name, not layer order
    BOOST_TEST(file.read_string_list_attribute("optimizer_weights", "weight_names").front() == "Adam/iterations:0");
    for (const auto& layer : layers)
        for (const auto& weight : file.read_string_list_attribute("model_weights/" + layer, "weight_names"))
            BOOST_TEST(file.is_dataset("model_weights/" + layer + "/" + weight), layer << " / " << weight);
    BOOST_TEST(file.dataset_shape("model_weights/conv2d_10/conv2d_10/kernel:0") == (Shape{3, 3, 120, 24}));
}

BOOST_AUTO_TEST_CASE(reference_case_model)
{
    File file = File::open_read(reference_conv2d);
    BOOST_TEST(file.children("/") == (std::vector<std::string>{"model_weights"}));
    BOOST_TEST(file.read_string_attribute("/", "keras_version") == "2.11.0");
    BOOST_TEST(file.read_string_list_attribute("model_weights", "layer_names") == (std::vector<std::string>{"conv2d"}));
    BOOST_TEST(file.read_string_list_attribute("model_weights/conv2d", "weight_names") ==
               (std::vector<std::string>{"conv2d/kernel:0"}));
    Tensor<float> kernel = file.read<float>("model_weights/conv2d/conv2d/kernel:0");
    BOOST_TEST(xk::shape_of(kernel) == (Shape{1, 1, 3, 3}));
    BOOST_TEST(kernel(0, 0, 0, 1) == 1.0507953f);
    BOOST_TEST(kernel(0, 0, 2, 2) == 0.43437165f);
    auto config = nlohmann::json::parse(file.read_string_attribute("/", "model_config"));
    auto conv = config["config"]["layers"][1]["config"];
    BOOST_TEST(conv["use_bias"] == false);
    BOOST_TEST(conv["strides"] == nlohmann::json::parse("[3, 1]"));
    BOOST_CHECK_EXCEPTION(
        file.read<float>("model_weights/conv2d/conv2d/bias:0"), io_error,
        message_contains({"'" + reference_conv2d + "'", "dataset '/model_weights/conv2d/conv2d/bias:0' not found"}));
    BOOST_CHECK_EXCEPTION(file.read<float>("model_weights/conv2d"), io_error,
                          message_contains({"expected a dataset at '/model_weights/conv2d', found a group"}));
    BOOST_CHECK_EXCEPTION(file.dataset_shape("nope/x:0"), io_error, message_contains({"'/nope/x:0' not found"}));
}

BOOST_AUTO_TEST_CASE(every_real_file_reads_completely)
{
    int files = 0;
    for (const auto& entry : fs::directory_iterator(keras_dir))
    {
        if (entry.path().extension() != ".h5")
            continue;
        BOOST_TEST_CONTEXT(entry.path().filename().string())
        {
            File file = File::open_read(entry.path().string());
            BOOST_CHECK_NO_THROW(read_everything(file, ""));
            ++files;
        }
    }
    BOOST_TEST(files >= 10);
}

BOOST_AUTO_TEST_CASE(unusable_files_throw_io_error)
{
    TempDir dir;
    BOOST_CHECK_EXCEPTION(File::open_read(dir.file("absent.h5")), io_error,
                          message_contains({"Cannot open '" + dir.file("absent.h5") + "': no such file"}));
    BOOST_CHECK_EXCEPTION(File::open_read(dir.path.string()), io_error, message_contains({"not an HDF5 file"}));
    write_bytes(dir.file("empty.h5"), "");
    BOOST_CHECK_EXCEPTION(File::open_read(dir.file("empty.h5")), io_error,
                          message_contains({"Cannot open '" + dir.file("empty.h5") + "': not an HDF5 file"}));
    write_bytes(dir.file("text.h5"), "{\"class_name\": \"Sequential\"}\n" + std::string(4000, 'x'));
    BOOST_CHECK_EXCEPTION(File::open_read(dir.file("text.h5")), io_error, message_contains({"not an HDF5 file"}));
    BOOST_CHECK_EXCEPTION(File::open_write(dir.file("no/such/dir/x.h5")), io_error,
                          message_contains({"Cannot create '" + dir.file("no/such/dir/x.h5") + "'"}));
    BOOST_CHECK_EXCEPTION(File::open_write(dir.path.string()), io_error, message_contains({"directory"}));
}

BOOST_AUTO_TEST_CASE(truncated_files_throw_io_error)
{
    TempDir dir;
    const std::string original = read_bytes(keras_2_13);
    BOOST_REQUIRE_GT(original.size(), 4096u);
    for (std::size_t length : {std::size_t(8), std::size_t(100), std::size_t(800), std::size_t(2048),
                               original.size() / 2, original.size() - 1})
    {
        BOOST_TEST_CONTEXT("truncated to " << length << " bytes")
        {
            std::string path = dir.file("truncated_" + std::to_string(length) + ".h5");
            write_bytes(path, original.substr(0, length));
            BOOST_CHECK_EXCEPTION(
                {
                    File file = File::open_read(path);
                    read_everything(file, "");
                },
                io_error, message_contains(path));
        }
    }
}

BOOST_AUTO_TEST_CASE(bit_flipped_files_fail_cleanly)
{
    // A flipped bit in raw weights goes unnoticed (HDF5 has no checksums there); elsewhere it must give an
    // io_error: never a crash, a hang or another exception type.
    TempDir dir;
    const std::string original = read_bytes(keras_3_14);
    std::string path = dir.file("flipped.h5");
    int failures = 0;
    for (std::size_t position = 0; position < 4096; position += 37)
    {
        std::string bytes = original;
        bytes[position] = static_cast<char>(bytes[position] ^ (1 << (position % 8)));
        write_bytes(path, bytes);
        try
        {
            File file = File::open_read(path);
            read_everything(file, "");
        }
        catch (const io_error&)
        {
            ++failures;
        }
    }
    BOOST_TEST(failures > 0); // the superblock alone is in this range
}

BOOST_AUTO_TEST_CASE(damaged_string_heap_gives_io_error)
{
    // Variable-length strings live in a global heap collection; HDF5 1.10 follows a bad heap reference
    // without checking it (h5py segfaults on the second file below).
    TempDir dir;
    const std::string original = read_bytes(keras_2_13);
    const std::size_t heap = original.find("GCOL");
    BOOST_REQUIRE(heap != std::string::npos);
    BOOST_REQUIRE_EQUAL(original.substr(heap + 32, 6), "2.13.1"); // object 1 = keras_version, at header + 16

    std::string bad_index = original;
    bad_index[heap + 16] = '\xff'; // object 1 renumbered 0x7fff
    bad_index[heap + 17] = '\x7f';
    write_bytes(dir.file("bad_index.h5"), bad_index);
    BOOST_CHECK_EXCEPTION(File::open_read(dir.file("bad_index.h5")).read_string_attribute("/", "keras_version"),
                          io_error,
                          message_contains({dir.file("bad_index.h5"), "attribute 'keras_version' on '/'",
                                            "damaged global heap", "object 1 missing"}));

    std::string bad_size = original;
    bad_size[heap + 26] = '\x0f'; // object 1 claims about 1 MB
    write_bytes(dir.file("bad_size.h5"), bad_size);
    BOOST_CHECK_EXCEPTION(File::open_read(dir.file("bad_size.h5")).read_string_attribute("/", "keras_version"),
                          io_error, message_contains({"damaged global heap", "overruns"}));

    std::string no_heap = original;
    no_heap[heap] = 'X';
    write_bytes(dir.file("no_heap.h5"), no_heap);
    BOOST_CHECK_EXCEPTION(
        File::open_read(dir.file("no_heap.h5")).read_string_list_attribute("model_weights", "layer_names"), io_error,
        message_contains({"damaged global heap", "no collection at address"}));
    // The fixed-size parts of the file are still readable.
    BOOST_TEST(File::open_read(dir.file("no_heap.h5")).dataset_shape("model_weights/conv2d/conv2d/kernel:0") ==
               (Shape{3, 3, 1, 1}));
}

BOOST_AUTO_TEST_CASE(damaged_dataset_layout_gives_io_error)
{
    // Layout message version 3 -> 1 makes HDF5 see a compact dataset with no data, which HDF5 1.10 then
    // copies 256 bytes from (h5py segfaults on this file).
    TempDir dir;
    std::string bytes = read_bytes(keras_3_14);
    const std::size_t layout_version = 13864; // found by fuzzing; the file is fixed test data
    BOOST_REQUIRE(bytes.size() > layout_version && bytes[layout_version] == 3 && bytes[layout_version + 1] == 1);
    bytes[layout_version] = 1;
    std::string path = dir.file("compact.h5");
    write_bytes(path, bytes);
    File file = File::open_read(path);
    BOOST_CHECK_EXCEPTION(
        file.read<float>("model_weights/dense/dense/bias"), io_error,
        message_contains({path, "damaged dataset '/model_weights/dense/dense/bias'", "holds 0 bytes", "need 256"}));
    BOOST_TEST(file.dataset_shape("model_weights/dense/dense/kernel") == (Shape{784, 64}));
}

BOOST_AUTO_TEST_CASE(damaged_attribute_message_gives_io_error)
{
    // The dataspace size of the root's keras_version attribute message made huge: HDF5 1.10 would decode
    // past the message (a crash in H5O_attr_decode when memory happens to end there).
    TempDir dir;
    std::string bytes = read_bytes(keras_dir + "knmlprz-MNIST_VAE__decoder_Conv2DTranspose_s2_keras2.7.h5");
    const std::size_t name = bytes.find(std::string("keras_version\0", 14));
    BOOST_REQUIRE(name != std::string::npos && name >= 8);
    // Version 1 attribute message: version, reserved, name size 14, type size 20, space size 8, name.
    BOOST_REQUIRE_EQUAL(bytes.substr(name - 8, 8), std::string("\x01\x00\x0e\x00\x14\x00\x08\x00", 8));
    bytes[name - 1] = '\x70';
    std::string path = dir.file("attribute.h5");
    write_bytes(path, bytes);
    File file = File::open_read(path);
    BOOST_CHECK_EXCEPTION(file.read_string_attribute("/", "keras_version"), io_error,
                          message_contains({path, "damaged object header of '/'"}));
    BOOST_CHECK_THROW(file.has_attribute("/", "backend"), io_error);
    BOOST_CHECK_THROW(file.attribute_names("/"), io_error);
    // Other objects keep working.
    BOOST_TEST(file.has_attribute("model_weights", "layer_names"));
}

BOOST_AUTO_TEST_CASE(damaged_group_listing_gives_io_error)
{
    // A symbol table node of layers/flatten claiming 5 entries instead of 1: the extra ones have empty names,
    // which would make "layers/flatten/" + "" loop back to the group.
    TempDir dir;
    std::string bytes = read_bytes(keras_dir + "shreyanshgupta28__keras3.14__model.weights.h5");
    const std::size_t node = 8464; // found by fuzzing; the file is fixed test data
    BOOST_REQUIRE(bytes.size() > node + 8 && bytes.substr(node, 4) == "SNOD" && bytes[node + 6] == 1);
    bytes[node + 6] = 5;
    std::string path = dir.file("group.h5");
    write_bytes(path, bytes);
    File file = File::open_read(path);
    BOOST_CHECK_EXCEPTION(file.children("layers/flatten"), io_error,
                          message_contains({path, "damaged group '/layers/flatten'", "invalid link name ''"}));
}

BOOST_AUTO_TEST_CASE(write_atomically_replaces_or_leaves_untouched)
{
    TempDir dir;
    std::string path = dir.file("model.h5");
    xk::h5::write_atomically(path,
                             [](File& file)
                             {
                                 file.write<float>("w", pattern<float>({3}));
                                 file.write_string_attribute("/", "version", "one");
                             });
    BOOST_TEST(File::open_read(path).read_string_attribute("/", "version") == "one");
    xk::h5::write_atomically(path, [](File& file) { file.write_string_attribute("/", "version", "two"); });
    {
        File file = File::open_read(path);
        BOOST_TEST(file.read_string_attribute("/", "version") == "two");
        BOOST_TEST(!file.exists("w"));
    }
    const std::string before = read_bytes(path);
    BOOST_CHECK_EXCEPTION(xk::h5::write_atomically(path,
                                                   [](File& file)
                                                   {
                                                       file.write<double>("half/written", pattern<double>({100}));
                                                       file.flush();
                                                       throw std::runtime_error("fill gave up");
                                                   }),
                          std::runtime_error, message_contains("fill gave up"));
    BOOST_TEST((read_bytes(path) == before));
    BOOST_TEST(directory_entries(dir.path) == (std::set<std::string>{"model.h5"}));
    // An HDF5 failure inside fill propagates as io_error, with the same guarantees.
    BOOST_CHECK_THROW(xk::h5::write_atomically(path, [](File& file) { file.read<float>("missing"); }), io_error);
    BOOST_TEST((read_bytes(path) == before));
    BOOST_TEST(directory_entries(dir.path) == (std::set<std::string>{"model.h5"}));
    // A target that cannot be replaced: the temporary still goes away.
    fs::create_directories(dir.path / "occupied.h5" / "inner");
    BOOST_CHECK_THROW(xk::h5::write_atomically(dir.file("occupied.h5"), [](File&) {}), io_error);
    BOOST_TEST(directory_entries(dir.path) == (std::set<std::string>{"model.h5", "occupied.h5"}));
}

BOOST_AUTO_TEST_CASE(closed_and_moved_files)
{
    TempDir dir;
    std::string path = dir.file("m.h5");
    File file = File::open_write(path);
    file.write<float>("x", pattern<float>({2}));
    File moved = std::move(file);
    BOOST_CHECK_THROW(file.exists("x"), io_error);
    BOOST_TEST(moved.exists("x"));
    moved.close();
    moved.close(); // twice is fine
    BOOST_TEST(!moved.is_open());
    BOOST_CHECK_EXCEPTION(moved.exists("x"), io_error, message_contains({path, "closed"}));
    File reopened = File::open_read(path);
    BOOST_TEST((reopened.read<float>("x") == pattern<float>({2})));
    // Move assignment closes the file it replaces.
    reopened = File::open_read(reference_conv2d);
    BOOST_TEST(reopened.path() == reference_conv2d);
    File::open_write(path).close(); // truncating works: nothing holds the old file open
}

BOOST_AUTO_TEST_CASE(concurrent_readers)
{
    // HDF5 is built without thread safety; the module's lock must make parallel use safe.
    std::atomic<int> good{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back(
            [&good]
            {
                for (int i = 0; i < 25; ++i)
                {
                    File file = File::open_read(i % 2 ? reference_conv2d : keras_2_13);
                    auto names = file.read_string_list_attribute("model_weights", "layer_names");
                    auto kernel = file.read<float>("model_weights/conv2d/conv2d/kernel:0");
                    if (names == std::vector<std::string>{"conv2d"} && kernel.size() == 9)
                        ++good;
                }
            });
    for (auto& thread : threads)
        thread.join();
    BOOST_TEST(good.load() == 100);
}

BOOST_AUTO_TEST_SUITE_END()
