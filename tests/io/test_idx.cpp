// IDX files (MNIST's format), plain and gzip, and the MNIST loader.
#include "framework/engine/error.hpp"
#include "framework/io/idx.hpp"
#include "support/checks.hpp"

#include <boost/test/unit_test.hpp>
#include <zlib.h>

#include <filesystem>
#include <fstream>

using namespace xk;
namespace fs = std::filesystem;

namespace
{
    struct ScratchDir
    {
        fs::path path = fs::temp_directory_path() / ("xkeras_idx_test_" + std::to_string(::getpid()));
        ScratchDir() { fs::create_directories(path); }
        ~ScratchDir() { fs::remove_all(path); }
    };

    std::string idx_bytes(const std::vector<std::uint32_t>& dims, const std::vector<unsigned char>& values)
    {
        std::string b{'\0', '\0', '\x08', char(dims.size())};
        for (auto d : dims)
            for (int shift = 24; shift >= 0; shift -= 8)
                b.push_back(char((d >> shift) & 0xff));
        b.append(values.begin(), values.end());
        return b;
    }

    void write_plain(const fs::path& p, const std::string& bytes) { std::ofstream(p, std::ios::binary) << bytes; }

    void write_gzip(const fs::path& p, const std::string& bytes)
    {
        gzFile f = gzopen(p.c_str(), "wb");
        gzwrite(f, bytes.data(), unsigned(bytes.size()));
        gzclose(f);
    }
}

BOOST_AUTO_TEST_SUITE(idx)

BOOST_AUTO_TEST_CASE(reads_plain_and_gzip_files)
{
    ScratchDir dir;
    const std::string bytes = idx_bytes({2, 3}, {0, 1, 2, 253, 254, 255});
    write_plain(dir.path / "a.idx", bytes);
    write_gzip(dir.path / "a.idx.gz", bytes);
    for (const char* name : {"a.idx", "a.idx.gz"})
    {
        Tensor<float> t = read_idx((dir.path / name).string());
        BOOST_TEST(shape_of(t) == Shape({2, 3}));
        BOOST_TEST(t(1, 0) == 253.f);
        BOOST_TEST(t(1, 2) == 255.f);
    }
}

BOOST_AUTO_TEST_CASE(rejects_malformed_files_naming_them)
{
    ScratchDir dir;
    write_plain(dir.path / "short.idx", idx_bytes({2, 3}, {0, 1, 2}));
    BOOST_CHECK_EXCEPTION(read_idx((dir.path / "short.idx").string()), io_error,
                          test::message_contains({"short.idx", "6 values", "holds 3"}));
    write_plain(dir.path / "text.idx", "hello world");
    BOOST_CHECK_EXCEPTION(read_idx((dir.path / "text.idx").string()), io_error, test::message_contains({"text.idx", "not an IDX"}));
    std::string floats = idx_bytes({1}, {0, 0, 0, 0});
    floats[2] = '\x0d';
    write_plain(dir.path / "floats.idx", floats);
    BOOST_CHECK_EXCEPTION(read_idx((dir.path / "floats.idx").string()), io_error, test::message_contains("0xd"));
    BOOST_CHECK_EXCEPTION(read_idx((dir.path / "missing.idx").string()), io_error, test::message_contains("missing.idx"));
    std::string whole = idx_bytes({4}, {1, 2, 3, 4});
    write_gzip(dir.path / "cut.gz", whole);
    fs::resize_file(dir.path / "cut.gz", fs::file_size(dir.path / "cut.gz") - 6);
    BOOST_CHECK_THROW(read_idx((dir.path / "cut.gz").string()), io_error);
}

BOOST_AUTO_TEST_CASE(loads_mnist_splits_scaled_and_limited)
{
    ScratchDir dir;
    std::vector<unsigned char> pixels(3 * 28 * 28, 0);
    pixels[28 * 28 + 5] = 255; // second image, pixel 5
    write_gzip(dir.path / "train-images-idx3-ubyte.gz", idx_bytes({3, 28, 28}, pixels));
    write_plain(dir.path / "train-labels-idx1-ubyte", idx_bytes({3}, {7, 2, 9}));
    MnistSplit all = load_mnist(dir.path.string(), "train");
    BOOST_TEST(shape_of(all.images) == Shape({3, 28, 28, 1}));
    BOOST_TEST(all.images(1, 0, 5, 0) == 1.f);
    BOOST_TEST(all.labels(2) == 9.f);
    MnistSplit two = load_mnist(dir.path.string(), "train", 2);
    BOOST_TEST(two.labels.size() == 2u);
    BOOST_CHECK_EXCEPTION(load_mnist(dir.path.string(), "t10k"), io_error,
                          test::message_contains({"t10k-images-idx3-ubyte", "fetch-mnist"}));
    write_plain(dir.path / "t10k-images-idx3-ubyte", idx_bytes({1, 28, 28}, std::vector<unsigned char>(784, 0)));
    write_plain(dir.path / "t10k-labels-idx1-ubyte", idx_bytes({2}, {1, 2}));
    BOOST_CHECK_EXCEPTION(load_mnist(dir.path.string(), "t10k"), io_error, test::message_contains("expected 1 labels"));
}

BOOST_AUTO_TEST_SUITE_END()
