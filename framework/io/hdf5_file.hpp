#pragma once
// A small HDF5 layer shaped after what Keras's HDF5 files need (h5py semantics): nested paths whose names
// contain ':', numeric datasets, and the string attributes in every flavour Keras and h5py have written.
// This header hides HDF5 entirely; hdf5_file.cpp is the only translation unit that includes <hdf5.h>.
// Every failure is an xk::io_error naming the file, the object and what was expected vs found.
#include "framework/engine/error.hpp"
#include "framework/engine/tensor.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace xk::h5
{
    /// How write_string_attribute stores a scalar string.
    enum class StringStorage
    {
        /// Variable-length UTF-8, as tf.keras 2.x / Keras 3 write root attributes; any length fits because the
        /// text lives in the global heap, not in the 64 KiB object header.
        variable_utf8,
        /// Fixed-length NULLPAD ASCII: h5py of every version returns `bytes`, so Keras <= 2.3's unconditional
        /// `.decode('utf8')` works (PITFALLS #1). Limited to 64512 bytes.
        fixed_ascii,
    };

    /// An open HDF5 file. Object paths are '/'-separated, relative to the root (a leading '/' is optional;
    /// "" and "/" name the root); ':' and other characters are part of names.
    /// All HDF5 calls in the process are serialised by one mutex (Debian's HDF5 is not thread-safe).
    /// A file opened for reading is untrusted: where HDF5 1.10 follows damaged sizes without checking them
    /// (variable-length string references, attribute messages in version 1 object headers, compact and
    /// contiguous dataset storage, link names) this module checks them first and throws io_error.
    class File
    {
    public:
        /// io_error "Cannot open '<path>': no such file" / "not an HDF5 file" / "corrupt or truncated ...".
        static File open_read(const std::string& path);
        /// Creates the file, truncating an existing one.
        static File open_write(const std::string& path);

        File(File&& other) noexcept;
        File& operator=(File&& other) noexcept;
        File(const File&) = delete;
        File& operator=(const File&) = delete;
        /// Closes quietly; call close() to see errors.
        ~File();

        const std::string& path() const;
        bool is_open() const;
        /// Flushes and closes; throws io_error if HDF5 cannot finish writing. Later calls do nothing.
        void close();
        void flush();

        /// True when every component of the path exists (false, not an error, for missing intermediates).
        bool exists(const std::string& object_path) const;
        bool is_group(const std::string& object_path) const;
        bool is_dataset(const std::string& object_path) const;
        /// Link names of a group: creation order if the group tracks it, else name order (h5py's default).
        std::vector<std::string> children(const std::string& group_path) const;
        /// Names of the attributes attached to an object, in name order.
        std::vector<std::string> attribute_names(const std::string& object_path) const;

        /// () for a scalar dataset.
        Shape dataset_shape(const std::string& dataset_path) const;

        /// T = float, double or std::int64_t. Any stored integer or float type is converted by HDF5;
        /// a scalar dataset gives a 0-d tensor.
        template <class T>
        Tensor<T> read(const std::string& dataset_path) const;

        /// T = float (stored F32LE), double (F64LE) or std::int64_t (I64LE). Creates intermediate groups
        /// like h5py; a 0-d tensor becomes a scalar dataset. io_error if the path already exists.
        template <class T>
        void write(const std::string& dataset_path, const Tensor<T>& t);

        /// Creates the group and its missing parents; fine if the group already exists.
        void create_group(const std::string& group_path);

        bool has_attribute(const std::string& object_path, const std::string& name) const;

        /// A string attribute: scalar or a 1-element array, fixed or variable length, ASCII or UTF-8.
        /// Fixed-length padding (NULs, or spaces for SPACEPAD) is removed.
        std::string read_string_attribute(const std::string& object_path, const std::string& name) const;

        /// Keras's load_attributes_from_hdf5_group: `name` if present, else `name0`, `name1`, ... until one is
        /// missing, concatenated. Items may be fixed or variable length; an empty numeric array (Keras writes
        /// float64 (0,) for empty lists) gives {}. io_error if neither `name` nor `name0` exists.
        std::vector<std::string> read_string_list_attribute(const std::string& object_path,
                                                            const std::string& name) const;

        /// Replaces any attribute of that name.
        void write_string_attribute(const std::string& object_path, const std::string& name, const std::string& value,
                                    StringStorage storage = StringStorage::variable_utf8);

        /// Keras's save_attributes_to_hdf5_group with h5py 2 types: a fixed-length NULLPAD ASCII array (read as
        /// bytes by every h5py), split into `name0`, `name1`, ... (np.array_split) when the packed array exceeds
        /// 64512 bytes; an empty list becomes a float64 (0,) attribute as Keras writes it. Replaces a previous
        /// `name` or `name0...` series. io_error if one item alone exceeds 64512 bytes.
        void write_string_list_attribute(const std::string& object_path, const std::string& name,
                                         const std::vector<std::string>& values);

    private:
        struct Impl;
        explicit File(std::unique_ptr<Impl> impl);
        /// The implementation of an open file; io_error after close() or a move.
        Impl& open_impl() const;
        std::unique_ptr<Impl> m_impl;
    };

    extern template Tensor<float> File::read<float>(const std::string&) const;
    extern template Tensor<double> File::read<double>(const std::string&) const;
    extern template Tensor<std::int64_t> File::read<std::int64_t>(const std::string&) const;
    extern template void File::write<float>(const std::string&, const Tensor<float>&);
    extern template void File::write<double>(const std::string&, const Tensor<double>&);
    extern template void File::write<std::int64_t>(const std::string&, const Tensor<std::int64_t>&);

    /// Keras's limit on one attribute (HDF5_OBJECT_HEADER_LIMIT in save_attributes_to_hdf5_group).
    inline constexpr std::size_t object_header_limit = 64512;

    /// Item counts of the chunks write_string_list_attribute produces for `count` items padded to `item_size`
    /// bytes: np.array_split into the fewest chunks whose nbytes are all <= object_header_limit.
    std::vector<std::size_t> keras_attribute_chunks(std::size_t count, std::size_t item_size);

    /// write_file_atomically (framework/io/atomic_file.hpp) with an HDF5 file: `fill` writes the temporary.
    void write_atomically(const std::string& path, const std::function<void(File&)>& fill);
} // namespace xk::h5
