#include "framework/io/idx.hpp"
#include "framework/engine/error.hpp"

#include <zlib.h>

#include <filesystem>
#include <vector>

namespace xk
{
    namespace
    {
        /// The whole file, inflated when gzip-compressed (gzread passes plain files through unchanged).
        std::vector<unsigned char> read_bytes(const std::string& path)
        {
            XK_CHECK(std::filesystem::is_regular_file(path), io_error, "Cannot open '", path, "': no such file.");
            gzFile file = gzopen(path.c_str(), "rb");
            XK_CHECK(file, io_error, "Cannot open '", path, "'.");
            std::vector<unsigned char> bytes;
            unsigned char buffer[1 << 16];
            int n;
            while ((n = gzread(file, buffer, sizeof buffer)) > 0)
                bytes.insert(bytes.end(), buffer, buffer + n);
            int error = 0;
            const char* message = gzerror(file, &error);
            std::string why = (n < 0 || error < 0) ? std::string(message ? message : "read error") : std::string();
            gzclose(file);
            XK_CHECK(why.empty(), io_error, "'", path, "': ", why, " (a corrupt or truncated gzip file?).");
            return bytes;
        }

        std::size_t big_endian(const std::vector<unsigned char>& b, std::size_t at)
        {
            return (std::size_t(b[at]) << 24) | (std::size_t(b[at + 1]) << 16) | (std::size_t(b[at + 2]) << 8) |
                   std::size_t(b[at + 3]);
        }

        std::string existing(const std::string& dir, const std::string& name)
        {
            namespace fs = std::filesystem;
            for (const std::string& candidate : {name + ".gz", name})
                if (fs::exists(fs::path(dir) / candidate))
                    return (fs::path(dir) / candidate).string();
            throw io_error("MNIST file '" + name + "[.gz]' not found in '" + dir +
                           "' (scripts/fetch-mnist DIR writes the files).");
        }
    }

    Tensor<float> read_idx(const std::string& path)
    {
        const auto bytes = read_bytes(path);
        XK_CHECK(bytes.size() >= 4 && bytes[0] == 0 && bytes[1] == 0, io_error, "'", path,
                 "' is not an IDX file: it does not start with two zero bytes.");
        XK_CHECK(bytes[2] == 0x08, io_error, "'", path, "': only unsigned-byte IDX data (type 0x08) is supported; found type 0x",
                 std::hex, int(bytes[2]), ".");
        const std::size_t rank = bytes[3];
        XK_CHECK(rank >= 1 && bytes.size() >= 4 + 4 * rank, io_error, "'", path, "': truncated IDX header.");
        Shape shape;
        for (std::size_t i = 0; i < rank; ++i)
            shape.push_back(big_endian(bytes, 4 + 4 * i));
        const std::size_t offset = 4 + 4 * rank, count = shape_size(shape);
        XK_CHECK(bytes.size() - offset == count, io_error, "'", path, "': the header announces ", count,
                 " values of shape ", shape_str(shape), " but the file holds ", bytes.size() - offset, ".");
        Tensor<float> out = Tensor<float>::from_shape(shape);
        for (std::size_t i = 0; i < count; ++i)
            out.data()[i] = float(bytes[offset + i]);
        return out;
    }

    MnistSplit load_mnist(const std::string& dir, const std::string& split, std::size_t limit)
    {
        const std::string images_path = existing(dir, split + "-images-idx3-ubyte");
        const std::string labels_path = existing(dir, split + "-labels-idx1-ubyte");
        Tensor<float> images = read_idx(images_path), labels = read_idx(labels_path);
        XK_CHECK(images.dimension() == 3 && images.shape()[1] == 28 && images.shape()[2] == 28, io_error, "'",
                 images_path, "': expected images of shape (n, 28, 28), found ", shape_str(shape_of(images)), ".");
        XK_CHECK(labels.dimension() == 1 && labels.shape()[0] == images.shape()[0], io_error, "'", labels_path,
                 "': expected ", images.shape()[0], " labels, found shape ", shape_str(shape_of(labels)), ".");
        std::size_t n = images.shape()[0];
        if (limit > 0 && limit < n)
            n = limit;
        MnistSplit out{Tensor<float>::from_shape({n, 28, 28, 1}), Tensor<float>::from_shape({n})};
        for (std::size_t i = 0; i < n * 28 * 28; ++i)
            out.images.data()[i] = images.data()[i] / 255.f;
        for (std::size_t i = 0; i < n; ++i)
            out.labels.data()[i] = labels.data()[i];
        return out;
    }
}
