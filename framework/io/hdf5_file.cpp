#include "framework/io/hdf5_file.hpp"

#include "framework/io/atomic_file.hpp"

#include <hdf5.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <mutex>
#include <new>
#include <set>

namespace xk::h5
{
    namespace
    {
        namespace fs = std::filesystem;

        // Debian builds HDF5 without its thread-safety option: every call into the library, from any File,
        // goes through this one lock. Recursive because helpers that lock call each other.
        std::recursive_mutex& hdf5_mutex()
        {
            static std::recursive_mutex mutex;
            return mutex;
        }

        class Lock
        {
        public:
            Lock() : m_guard(hdf5_mutex())
            {
                // HDF5 prints its error stack to stderr by default; failures are reported as io_error instead.
                static std::once_flag quiet;
                std::call_once(quiet, [] { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); });
            }

        private:
            std::lock_guard<std::recursive_mutex> m_guard;
        };

        /// Owns one HDF5 identifier and closes it with the matching H5?close.
        class Handle
        {
        public:
            using Closer = herr_t (*)(hid_t);

            Handle() = default;
            Handle(hid_t id, Closer closer) : m_id(id), m_closer(closer) {}
            Handle(Handle&& other) noexcept : m_id(other.m_id), m_closer(other.m_closer) { other.m_id = -1; }
            Handle& operator=(Handle&& other) noexcept
            {
                if (this != &other)
                {
                    reset();
                    m_id = other.m_id;
                    m_closer = other.m_closer;
                    other.m_id = -1;
                }
                return *this;
            }
            Handle(const Handle&) = delete;
            Handle& operator=(const Handle&) = delete;
            ~Handle() { reset(); }

            hid_t get() const { return m_id; }
            bool valid() const { return m_id >= 0; }

            /// Closes and reports whether HDF5 succeeded (closing a file is where buffered writes land).
            bool close()
            {
                bool ok = true;
                if (m_id >= 0 && m_closer)
                {
                    std::lock_guard<std::recursive_mutex> guard(hdf5_mutex());
                    ok = m_closer(m_id) >= 0;
                }
                m_id = -1;
                return ok;
            }

            void reset()
            {
                if (!close())
                {
                    std::lock_guard<std::recursive_mutex> guard(hdf5_mutex());
                    H5Eclear2(H5E_DEFAULT);
                }
            }

        private:
            hid_t m_id = -1;
            Closer m_closer = nullptr;
        };

        herr_t take_innermost_error(unsigned n, const H5E_error2_t* error, void* data)
        {
            auto* out = static_cast<std::string*>(data);
            if (n == 0 && error && error->desc && *error->desc)
                *out = error->desc;
            return 0;
        }

        /// " (HDF5: <innermost message>)" from the error stack of the call that just failed, or "".
        std::string hdf5_detail()
        {
            std::string detail;
            H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, take_innermost_error, &detail);
            H5Eclear2(H5E_DEFAULT);
            return detail.empty() ? std::string() : " (HDF5: " + detail + ")";
        }

        /// "/a/b" from "a/b", "/a//b/" or "a/b/"; "/" for the root.
        std::string absolute_path(const std::string& path)
        {
            std::string out;
            std::size_t i = 0;
            while (i < path.size())
            {
                std::size_t end = path.find('/', i);
                if (end == std::string::npos)
                    end = path.size();
                if (end > i)
                    out += "/" + path.substr(i, end - i);
                i = end + 1;
            }
            return out.empty() ? "/" : out;
        }

        /// "/a", "/a/b", "/a/b/c" for "/a/b/c".
        std::vector<std::string> prefixes(const std::string& absolute)
        {
            std::vector<std::string> out;
            for (std::size_t i = 1; i <= absolute.size(); ++i)
                if (i == absolute.size() || absolute[i] == '/')
                    out.push_back(absolute.substr(0, i));
            if (absolute == "/")
                out.clear();
            return out;
        }

        enum class Kind
        {
            missing,
            group,
            dataset,
            other,
        };

        const char* kind_name(Kind kind)
        {
            switch (kind)
            {
            case Kind::group:
                return "a group";
            case Kind::dataset:
                return "a dataset";
            case Kind::other:
                return "a named datatype";
            default:
                return "nothing";
            }
        }

        std::string type_class_name(hid_t type)
        {
            switch (H5Tget_class(type))
            {
            case H5T_INTEGER:
                return "integer";
            case H5T_FLOAT:
                return "float";
            case H5T_STRING:
                return H5Tis_variable_str(type) > 0 ? "variable-length string" : "fixed-length string";
            case H5T_BITFIELD:
                return "bitfield";
            case H5T_OPAQUE:
                return "opaque";
            case H5T_COMPOUND:
                return "compound";
            case H5T_REFERENCE:
                return "reference";
            case H5T_ENUM:
                return "enum";
            case H5T_VLEN:
                return "variable-length sequence";
            case H5T_ARRAY:
                return "array-typed";
            case H5T_TIME:
                return "time";
            default:
                return "unreadable-type";
            }
        }

        /// The dimensions of a simple dataspace; {} for a scalar one.
        bool space_dims(hid_t space, Shape& shape)
        {
            int rank = H5Sget_simple_extent_ndims(space);
            if (rank < 0)
                return false;
            std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
            if (rank > 0 && H5Sget_simple_extent_dims(space, dims.data(), nullptr) < 0)
                return false;
            shape.assign(dims.begin(), dims.end());
            return true;
        }

        /// "a 2-D integer array of shape (2, 3)", "a scalar float", for "found ..." in messages.
        std::string describe(hid_t type, hid_t space)
        {
            std::string cls = type_class_name(type);
            switch (H5Sget_simple_extent_type(space))
            {
            case H5S_SCALAR:
                return "a scalar " + cls;
            case H5S_NULL:
                return "an empty (null dataspace) " + cls;
            case H5S_SIMPLE:
            {
                Shape shape;
                if (!space_dims(space, shape))
                    break;
                return "a " + std::to_string(shape.size()) + "-D " + cls + " array of shape " + shape_str(shape);
            }
            default:
                break;
            }
            return "an unreadable " + cls;
        }

        /// Element count of a dataspace, refusing counts whose byte size would overflow.
        bool element_count(hid_t space, std::size_t element_size, std::size_t& count)
        {
            Shape shape;
            if (H5Sget_simple_extent_type(space) == H5S_NULL)
            {
                count = 0;
                return true;
            }
            if (!space_dims(space, shape))
                return false;
            std::size_t n = 1;
            for (std::size_t d : shape)
            {
                if (d != 0 && n > std::numeric_limits<std::size_t>::max() / d)
                    return false;
                n *= d;
            }
            if (element_size != 0 && n > std::numeric_limits<std::size_t>::max() / element_size)
                return false;
            count = n;
            return true;
        }

        template <class T>
        hid_t memory_type();
        template <>
        hid_t memory_type<float>()
        {
            return H5T_NATIVE_FLOAT;
        }
        template <>
        hid_t memory_type<double>()
        {
            return H5T_NATIVE_DOUBLE;
        }
        template <>
        hid_t memory_type<std::int64_t>()
        {
            return H5T_NATIVE_INT64;
        }

        // What h5py writes for numpy float32 / float64 / int64.
        template <class T>
        hid_t file_type();
        template <>
        hid_t file_type<float>()
        {
            return H5T_IEEE_F32LE;
        }
        template <>
        hid_t file_type<double>()
        {
            return H5T_IEEE_F64LE;
        }
        template <>
        hid_t file_type<std::int64_t>()
        {
            return H5T_STD_I64LE;
        }

        Handle file_access_list()
        {
            Handle fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
            // STRONG: closing the file really closes it (even if an object handle leaked), so
            // write_atomically's rename and a later reopen see a finished file.
            if (fapl.valid())
                H5Pset_fclose_degree(fapl.get(), H5F_CLOSE_STRONG);
            return fapl;
        }

        std::string chunk_name(const std::string& name, std::size_t i)
        {
            return name + std::to_string(i);
        }

        /// A little-endian unsigned integer of `size` <= 8 bytes, as HDF5 encodes addresses and lengths.
        std::uint64_t little_endian(const unsigned char* bytes, std::size_t size)
        {
            std::uint64_t value = 0;
            for (std::size_t i = size; i-- > 0;)
                value = (value << 8) | bytes[i];
            return value;
        }

        // A variable-length string item is stored as a 4-byte length and a global heap ID (collection address,
        // 4-byte object index); the text sits in a "GCOL" heap collection. HDF5 1.10 trusts those IDs (H5HG_read
        // only asserts the index), so a damaged file makes it read out of bounds and crash. For files this module
        // did not write, the IDs are therefore fetched as stored, through this do-nothing conversion to a tagged
        // opaque type of the same size, and followed by File::Impl::read_heap_object with bounds checks.
        const char* const raw_heap_id_tag = "xkeras raw variable-length heap id";

        herr_t raw_heap_id_conversion(hid_t source, hid_t destination, H5T_cdata_t* cdata, size_t, size_t, size_t,
                                      void*, void*, hid_t)
        {
            if (cdata->command != H5T_CONV_INIT)
                return 0; // the buffer already holds the stored bytes, which is the wanted result
            if (H5Tis_variable_str(source) <= 0 || H5Tget_class(destination) != H5T_OPAQUE ||
                H5Tget_size(source) != H5Tget_size(destination))
                return -1;
            char* tag = H5Tget_tag(destination);
            bool ours = tag && std::strcmp(tag, raw_heap_id_tag) == 0;
            H5free_memory(tag);
            if (!ours)
                return -1;
            cdata->need_bkg = H5T_BKG_NO;
            return 0;
        }

        bool register_raw_heap_id_conversion()
        {
            static const bool registered = []
            {
                // A soft conversion is matched by type class: variable-length string -> opaque.
                Handle source(H5Tcopy(H5T_C_S1), H5Tclose);
                Handle destination(H5Tcreate(H5T_OPAQUE, 16), H5Tclose);
                return source.valid() && destination.valid() && H5Tset_size(source.get(), H5T_VARIABLE) >= 0 &&
                       H5Tset_tag(destination.get(), raw_heap_id_tag) >= 0 &&
                       H5Tregister(H5T_PERS_SOFT, "xkeras_raw_heap_id", source.get(), destination.get(),
                                   raw_heap_id_conversion) >= 0;
            }();
            return registered;
        }
    } // namespace

    struct File::Impl
    {
        std::string m_path;
        Handle m_file;
        bool m_writable = false;

        // Files opened for reading: what read_heap_object needs to follow global heap IDs itself.
        mutable std::ifstream m_raw;
        std::uint64_t m_file_size = 0;
        std::uint64_t m_base_address = 0;
        std::size_t m_sizeof_addr = 8;
        std::size_t m_sizeof_size = 8;
        // Object headers whose attribute messages passed check_attribute_messages.
        mutable std::set<haddr_t> m_checked_headers;

        [[noreturn]] void fail(const std::string& what) const { throw io_error("'" + m_path + "': " + what); }

        void require_open() const
        {
            if (!m_file.valid())
                fail("the file is closed");
        }

        void require_writable() const
        {
            require_open();
            if (!m_writable)
                fail("the file is open for reading only");
        }

        /// What sits at an absolute path; `missing` for absent links anywhere along it, dangling links included.
        Kind kind_of(const std::string& absolute) const
        {
            if (absolute == "/")
                return Kind::group;
            // H5Lexists fails (rather than answering false) when a parent is missing, so walk down.
            for (const auto& prefix : prefixes(absolute))
                if (H5Lexists(m_file.get(), prefix.c_str(), H5P_DEFAULT) <= 0)
                {
                    H5Eclear2(H5E_DEFAULT);
                    return Kind::missing;
                }
            Handle object(H5Oopen(m_file.get(), absolute.c_str(), H5P_DEFAULT), H5Oclose);
            if (!object.valid())
            {
                H5Eclear2(H5E_DEFAULT);
                return Kind::missing;
            }
            switch (H5Iget_type(object.get()))
            {
            case H5I_GROUP:
                return Kind::group;
            case H5I_DATASET:
                return Kind::dataset;
            default:
                return Kind::other;
            }
        }

        Handle open_dataset(const std::string& absolute) const
        {
            Kind kind = kind_of(absolute);
            if (kind == Kind::missing)
                fail("dataset '" + absolute + "' not found");
            if (kind != Kind::dataset)
                fail("expected a dataset at '" + absolute + "', found " + kind_name(kind));
            Handle dataset(H5Dopen2(m_file.get(), absolute.c_str(), H5P_DEFAULT), H5Dclose);
            if (!dataset.valid())
                fail("cannot open dataset '" + absolute + "'" + hdf5_detail());
            return dataset;
        }

        Handle open_group(const std::string& absolute) const
        {
            Kind kind = kind_of(absolute);
            if (kind == Kind::missing)
                fail("group '" + absolute + "' not found");
            if (kind != Kind::group)
                fail("expected a group at '" + absolute + "', found " + kind_name(kind));
            Handle group(H5Gopen2(m_file.get(), absolute.c_str(), H5P_DEFAULT), H5Gclose);
            if (!group.valid())
                fail("cannot open group '" + absolute + "'" + hdf5_detail());
            return group;
        }

        /// A group or dataset that carries attributes.
        Handle open_object(const std::string& absolute) const
        {
            if (kind_of(absolute) == Kind::missing)
                fail("object '" + absolute + "' not found");
            Handle object(H5Oopen(m_file.get(), absolute.c_str(), H5P_DEFAULT), H5Oclose);
            if (!object.valid())
                fail("cannot open object '" + absolute + "'" + hdf5_detail());
            if (!m_writable)
                check_attribute_messages(object.get(), absolute);
            return object;
        }

        /// HDF5 1.10 decodes an attribute message without checking its parts against the message size, and in
        /// version 1 object headers (h5py's default, so every Keras file) nothing else guards them; version 2
        /// headers carry checksums. So before HDF5 touches the attributes of an object in a file it did not
        /// write, this walks the header's messages and checks each attribute's name, type, space and data sizes.
        void check_attribute_messages(hid_t object, const std::string& absolute) const
        {
            H5O_info_t info;
            if (H5Oget_info2(object, &info, H5O_INFO_BASIC) < 0)
                fail("cannot inspect object '" + absolute + "'" + hdf5_detail());
            if (m_checked_headers.count(info.addr))
                return;
            auto corrupt = [&](const std::string& why)
            {
                fail("damaged object header of '" + absolute + "' (" + why + ")");
            };
            unsigned char prefix[16];
            if (info.addr >= m_file_size || !read_raw(m_base_address + info.addr, sizeof prefix, prefix))
                corrupt("it lies outside the file");
            if (std::memcmp(prefix, "OHDR", 4) == 0 || prefix[0] != 1)
                return; // version 2 (checksummed) or unknown (HDF5 rejects it)
            // Version 1: a 16-byte prefix, then messages of 8-byte header + body; continuation messages
            // (type 0x10) point to further blocks of messages.
            std::vector<std::pair<std::uint64_t, std::uint64_t>> blocks = {
                {info.addr + 16, little_endian(prefix + 8, 4)}};
            std::uint64_t total = 0;
            for (std::size_t b = 0; b < blocks.size(); ++b)
            {
                auto [address, length] = blocks[b];
                total += length;
                if (blocks.size() > 10000 || total > m_file_size || address > m_file_size)
                    corrupt("its message blocks exceed the file");
                std::vector<unsigned char> block(static_cast<std::size_t>(length));
                if (!read_raw(m_base_address + address, block.size(), block.data()))
                    corrupt("a message block lies outside the file");
                for (std::size_t at = 0; at + 8 <= block.size();)
                {
                    std::uint64_t type = little_endian(&block[at], 2);
                    std::size_t size = static_cast<std::size_t>(little_endian(&block[at + 2], 2));
                    if (size > block.size() - at - 8)
                        corrupt("a message overruns its block");
                    const unsigned char* body = &block[at + 8];
                    if (type == 0x0c)
                        check_attribute_message(body, size, corrupt);
                    else if (type == 0x10)
                    {
                        if (size < m_sizeof_addr + m_sizeof_size)
                            corrupt("a short continuation message");
                        blocks.emplace_back(little_endian(body, m_sizeof_addr),
                                            little_endian(body + m_sizeof_addr, m_sizeof_size));
                    }
                    at += 8 + size;
                }
            }
            m_checked_headers.insert(info.addr);
        }

        /// The sizes inside one attribute message (versions 1-3 of the file format's attribute message).
        template <class Corrupt>
        void check_attribute_message(const unsigned char* body, std::size_t size, Corrupt&& corrupt) const
        {
            if (size < 8)
                corrupt("a short attribute message");
            unsigned version = body[0];
            if (version < 1 || version > 3)
                return; // HDF5 rejects unknown versions itself
            unsigned flags = version >= 2 ? body[1] : 0;
            // Version 1 pads the name, type and space to multiples of 8 bytes.
            auto part = [&](std::size_t n)
            {
                return version == 1 ? (n + 7) / 8 * 8 : n;
            };
            std::size_t name_size = static_cast<std::size_t>(little_endian(body + 2, 2));
            std::size_t type_size = static_cast<std::size_t>(little_endian(body + 4, 2));
            std::size_t space_size = static_cast<std::size_t>(little_endian(body + 6, 2));
            std::size_t type_at = (version == 3 ? 9 : 8) + part(name_size);
            std::size_t space_at = type_at + part(type_size);
            std::size_t data_at = space_at + part(space_size);
            if (data_at > size)
                corrupt("an attribute's name, type and space exceed its message");
            if (flags & 3)
                return; // shared type or space: described elsewhere
            if (type_size < 8 || space_size < 4)
                corrupt("an attribute with a truncated type or space");
            const unsigned char* type = body + type_at;
            unsigned type_class = type[0] & 0x0f;
            std::uint64_t element_size = little_endian(type + 4, 4);
            if (type_class == 9)
                element_size = 4 + m_sizeof_addr + 4; // variable length: stored as length + global heap ID
            else if (type_class == 6 || type_class == 10)
                return; // compound or array: may hold variable-length members of another stored size
            const unsigned char* space = body + space_at;
            unsigned space_version = space[0];
            std::size_t rank = space[1];
            std::size_t dims_at = space_version == 1 ? 8 : 4;
            if (space_version < 1 || space_version > 2)
                return;
            if (dims_at + rank * m_sizeof_size > space_size)
                corrupt("an attribute's dimensions exceed its dataspace");
            std::uint64_t count = (space_version == 2 && space[3] == 2) ? 0 : 1; // type 2: null dataspace
            for (std::size_t d = 0; d < rank && count != 0; ++d)
            {
                std::uint64_t extent = little_endian(space + dims_at + d * m_sizeof_size, m_sizeof_size);
                if (extent != 0 && count > size / extent)
                    corrupt("an attribute's data exceeds its message");
                count *= extent;
            }
            if (element_size != 0 && count > (size - data_at) / element_size)
                corrupt("an attribute's data exceeds its message");
        }

        /// HDF5 cannot create empty names or names with '/'; in a damaged file they would make paths that lead
        /// back to the group itself.
        std::vector<std::string> checked_link_names(std::vector<std::string> names, const std::string& absolute) const
        {
            for (const auto& name : names)
                if (name.empty() || name.find('/') != std::string::npos)
                    fail("damaged group '" + absolute + "': invalid link name '" + name + "'");
            return names;
        }

        /// Fails unless every proper prefix of `absolute` is a group or missing (h5py's "not a group" case).
        void check_parents(const std::string& absolute) const
        {
            auto all = prefixes(absolute);
            for (std::size_t i = 0; i + 1 < all.size(); ++i)
            {
                Kind kind = kind_of(all[i]);
                if (kind == Kind::missing)
                    return;
                if (kind != Kind::group)
                    fail("cannot create '" + absolute + "': '" + all[i] + "' is " + kind_name(kind) + ", not a group");
            }
        }

        Handle intermediate_groups_list() const
        {
            Handle lcpl(H5Pcreate(H5P_LINK_CREATE), H5Pclose);
            if (!lcpl.valid() || H5Pset_create_intermediate_group(lcpl.get(), 1) < 0)
                fail("cannot set up link creation" + hdf5_detail());
            return lcpl;
        }

        bool attribute_exists(hid_t object, const std::string& name, const std::string& absolute) const
        {
            htri_t found = H5Aexists(object, name.c_str());
            if (found < 0)
                fail("cannot look up attribute '" + name + "' on '" + absolute + "'" + hdf5_detail());
            return found > 0;
        }

        bool read_raw(std::uint64_t offset, std::size_t size, unsigned char* out) const
        {
            if (offset > m_file_size || size > m_file_size - offset)
                return false;
            m_raw.clear();
            m_raw.seekg(static_cast<std::streamoff>(offset));
            m_raw.read(reinterpret_cast<char*>(out), static_cast<std::streamsize>(size));
            return m_raw && static_cast<std::size_t>(m_raw.gcount()) == size;
        }

        /// The first `length` bytes of object `index` in the global heap collection at `address`, every size
        /// checked against the collection and the file (the layout is that of H5HGcache.c's deserializer).
        std::string read_heap_object(std::uint64_t address, std::uint64_t index, std::uint64_t length,
                                     const std::string& where) const
        {
            auto corrupt = [&](const std::string& why)
            {
                fail("cannot read " + where + ": damaged global heap (" + why + ")");
            };
            const std::size_t header_size = 8 + m_sizeof_size;        // "GCOL", version, reserved, collection size
            const std::size_t object_header_size = 8 + m_sizeof_size; // index, references, reserved, size
            std::string at_address = "collection at address " + std::to_string(address);
            if (index == 0)
                corrupt("object index 0 in a string reference");
            if (address >= m_file_size || m_base_address > m_file_size - address)
                corrupt(at_address + " lies outside the file of " + std::to_string(m_file_size) + " bytes");
            std::uint64_t offset = m_base_address + address;
            std::vector<unsigned char> head(header_size);
            if (!read_raw(offset, header_size, head.data()) || std::memcmp(head.data(), "GCOL", 4) != 0 || head[4] != 1)
                corrupt("no " + at_address);
            std::uint64_t collection_size = little_endian(head.data() + 8, m_sizeof_size);
            if (collection_size < header_size || collection_size > m_file_size - offset)
                corrupt(at_address + " claims " + std::to_string(collection_size) + " bytes");
            std::vector<unsigned char> collection(static_cast<std::size_t>(collection_size));
            if (!read_raw(offset, collection.size(), collection.data()))
                corrupt(at_address + " cannot be read");
            std::uint64_t at = header_size;
            while (at + object_header_size <= collection_size)
            {
                std::uint64_t object_index = little_endian(collection.data() + at, 2);
                std::uint64_t object_size = little_endian(collection.data() + at + 8, m_sizeof_size);
                std::uint64_t data_start = at + object_header_size;
                if (object_index == 0)
                {
                    // Free space; its size already includes its header.
                    if (object_size < object_header_size || object_size > collection_size - at)
                        break;
                    at += object_size;
                    continue;
                }
                if (object_size > collection_size - data_start)
                    corrupt("object " + std::to_string(object_index) + " overruns its " + at_address);
                if (object_index == index)
                {
                    if (length > object_size)
                        corrupt("a string of " + std::to_string(length) + " bytes in an object of " +
                                std::to_string(object_size));
                    return std::string(reinterpret_cast<const char*>(collection.data() + data_start),
                                       static_cast<std::size_t>(length));
                }
                at = data_start + (object_size + 7) / 8 * 8; // objects are padded to 8 bytes
            }
            fail("cannot read " + where + ": damaged global heap (object " + std::to_string(index) +
                 " missing from the " + at_address + ")");
        }

        /// Variable-length strings of a file opened for reading, without HDF5's unchecked heap access.
        std::vector<std::string> read_variable_strings_checked(hid_t attribute, std::size_t count,
                                                               const std::string& where) const
        {
            const std::size_t id_size = 4 + m_sizeof_addr + 4;
            if (count > m_file_size / id_size)
                fail("cannot read " + where + ": " + std::to_string(count) + " items cannot fit in the file");
            Handle raw_type(H5Tcreate(H5T_OPAQUE, id_size), H5Tclose);
            if (!register_raw_heap_id_conversion() || !raw_type.valid() ||
                H5Tset_tag(raw_type.get(), raw_heap_id_tag) < 0)
                fail("cannot set up reading " + where + hdf5_detail());
            // HDF5 copies count * id_size bytes from the attribute's stored data without comparing with the size
            // the file declares for it: a damaged size made it read past its buffer (fuzz_load_model, ASan).
            if (static_cast<std::size_t>(H5Aget_storage_size(attribute)) < count * id_size)
                fail("cannot read " + where + ": the file stores " + std::to_string(H5Aget_storage_size(attribute)) +
                     " bytes for " + std::to_string(count) + " strings of " + std::to_string(id_size) + " bytes");
            std::vector<unsigned char> ids(count * id_size);
            if (H5Aread(attribute, raw_type.get(), ids.data()) < 0)
                fail("cannot read " + where + hdf5_detail());
            std::vector<std::string> out;
            out.reserve(count);
            for (std::size_t i = 0; i < count; ++i)
            {
                const unsigned char* id = ids.data() + i * id_size;
                std::uint64_t length = little_endian(id, 4);
                std::uint64_t address = little_endian(id + 4, m_sizeof_addr);
                std::uint64_t index = little_endian(id + 4 + m_sizeof_addr, 4);
                out.push_back(length == 0 ? std::string() : read_heap_object(address, index, length, where));
            }
            return out;
        }

        /// Every item of a string attribute (scalar: one item), padding removed.
        std::vector<std::string> read_strings(hid_t attribute, hid_t type, hid_t space, const std::string& name,
                                              const std::string& absolute) const
        {
            std::string where = "attribute '" + name + "' on '" + absolute + "'";
            htri_t variable = H5Tis_variable_str(type);
            if (variable < 0)
                fail("cannot inspect " + where + hdf5_detail());
            std::size_t item_size = variable > 0 ? sizeof(char*) : H5Tget_size(type);
            std::size_t count = 0;
            if (item_size == 0 || !element_count(space, item_size, count))
                fail("cannot read " + where + ": its size is invalid");
            // Attribute data is stored in the file itself, so a damaged size cannot ask for more than that.
            if (!m_writable && variable == 0 && count > m_file_size / item_size)
                fail("cannot read " + where + ": " + std::to_string(count) + " items of " + std::to_string(item_size) +
                     " bytes cannot fit in the file");
            std::vector<std::string> out;
            if (count == 0)
                return out;
            try
            {
                out.reserve(count);
                // What this module wrote itself is trusted (and may still sit unflushed in HDF5's cache).
                if (variable > 0 && !m_writable)
                    return read_variable_strings_checked(attribute, count, where);
                if (variable > 0)
                {
                    // Same character set as stored: HDF5 refuses to convert between ASCII and UTF-8.
                    Handle memory(H5Tcopy(H5T_C_S1), H5Tclose);
                    if (!memory.valid() || H5Tset_size(memory.get(), H5T_VARIABLE) < 0 ||
                        H5Tset_cset(memory.get(), H5Tget_cset(type)) < 0)
                        fail("cannot set up reading " + where + hdf5_detail());
                    std::vector<char*> items(count, nullptr);
                    herr_t status = H5Aread(attribute, memory.get(), items.data());
                    std::string detail = status < 0 ? hdf5_detail() : std::string();
                    if (status >= 0)
                        for (char* item : items)
                            out.emplace_back(item ? item : "");
                    // Also after a failed read: whatever HDF5 allocated must go, and null entries are skipped.
                    H5Dvlen_reclaim(memory.get(), space, H5P_DEFAULT, items.data());
                    H5Eclear2(H5E_DEFAULT);
                    if (status < 0)
                        fail("cannot read " + where + detail);
                }
                else
                {
                    Handle memory(H5Tcopy(type), H5Tclose);
                    H5T_str_t pad = H5Tget_strpad(type);
                    std::vector<char> buffer(count * item_size, '\0');
                    if (!memory.valid() || H5Aread(attribute, memory.get(), buffer.data()) < 0)
                        fail("cannot read " + where + hdf5_detail());
                    for (std::size_t i = 0; i < count; ++i)
                    {
                        std::string item(buffer.data() + i * item_size, item_size);
                        if (pad == H5T_STR_NULLTERM)
                            item.resize(std::strlen(item.c_str()));
                        else
                        {
                            char padding = pad == H5T_STR_SPACEPAD ? ' ' : '\0';
                            item.erase(item.find_last_not_of(padding) + 1);
                        }
                        out.push_back(std::move(item));
                    }
                }
            }
            catch (const std::bad_alloc&)
            {
                fail("cannot read " + where + ": out of memory for " + std::to_string(count) + " items");
            }
            return out;
        }

        /// Items of one attribute in Keras's list sense (see read_string_list_attribute).
        std::vector<std::string> read_list_attribute(hid_t object, const std::string& name,
                                                     const std::string& absolute) const
        {
            Handle attribute(H5Aopen(object, name.c_str(), H5P_DEFAULT), H5Aclose);
            if (!attribute.valid())
                fail("cannot open attribute '" + name + "' on '" + absolute + "'" + hdf5_detail());
            Handle type(H5Aget_type(attribute.get()), H5Tclose);
            Handle space(H5Aget_space(attribute.get()), H5Sclose);
            if (!type.valid() || !space.valid())
                fail("cannot inspect attribute '" + name + "' on '" + absolute + "'" + hdf5_detail());
            H5T_class_t cls = H5Tget_class(type.get());
            H5S_class_t shape_class = H5Sget_simple_extent_type(space.get());
            int rank = H5Sget_simple_extent_ndims(space.get());
            if (shape_class == H5S_NULL)
                return {};
            if (cls == H5T_STRING && rank >= 0 && rank <= 1)
                return read_strings(attribute.get(), type.get(), space.get(), name, absolute);
            // Keras stores an empty list as `attrs[name] = []`, i.e. float64 of shape (0,).
            if ((cls == H5T_FLOAT || cls == H5T_INTEGER) && H5Sget_simple_extent_npoints(space.get()) == 0)
                return {};
            fail("expected a string list attribute '" + name + "' on '" + absolute + "', found " +
                 describe(type.get(), space.get()));
        }

        /// HDF5 1.10 copies compact data without comparing its size with the dataspace, and a damaged layout
        /// message can turn a dataset compact; contiguous data must lie inside the file.
        void check_storage(hid_t dataset, std::size_t needed, const std::string& absolute) const
        {
            Handle dcpl(H5Dget_create_plist(dataset), H5Pclose);
            H5D_layout_t layout = dcpl.valid() ? H5Pget_layout(dcpl.get()) : H5D_LAYOUT_ERROR;
            if (layout == H5D_LAYOUT_ERROR)
                fail("cannot inspect the storage of dataset '" + absolute + "'" + hdf5_detail());
            if (layout == H5D_COMPACT && H5Dget_storage_size(dataset) != needed)
                fail("damaged dataset '" + absolute + "': its compact storage holds " +
                     std::to_string(H5Dget_storage_size(dataset)) + " bytes, its shape and type need " +
                     std::to_string(needed));
            if (layout == H5D_CONTIGUOUS && !m_writable)
            {
                // Unlike the addresses stored in the file, this one already counts from the start of the file.
                haddr_t address = H5Dget_offset(dataset);
                H5Eclear2(H5E_DEFAULT); // no address yet is not an error: HDF5 then reads the fill value
                if (address != HADDR_UNDEF && (address > m_file_size || needed > m_file_size - address))
                    fail("damaged dataset '" + absolute + "': its " + std::to_string(needed) + " bytes at address " +
                         std::to_string(address) + " lie outside the file of " + std::to_string(m_file_size) +
                         " bytes");
            }
        }

        void delete_attribute(hid_t object, const std::string& name, const std::string& absolute) const
        {
            if (H5Adelete(object, name.c_str()) < 0)
                fail("cannot replace attribute '" + name + "' on '" + absolute + "'" + hdf5_detail());
        }

        /// A scalar (items[0]) or 1-D fixed-length NULLPAD ASCII attribute, like numpy 'S' values in h5py.
        void write_fixed_strings(hid_t object, const std::string& name, const std::string* items, std::size_t count,
                                 bool scalar, std::size_t item_size, const std::string& absolute) const
        {
            std::string where = "attribute '" + name + "' on '" + absolute + "'";
            Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
            if (!type.valid() || H5Tset_size(type.get(), item_size) < 0 ||
                H5Tset_strpad(type.get(), H5T_STR_NULLPAD) < 0 || H5Tset_cset(type.get(), H5T_CSET_ASCII) < 0)
                fail("cannot set up writing " + where + hdf5_detail());
            hsize_t dims[1] = {count};
            Handle space(scalar ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, dims, nullptr), H5Sclose);
            std::size_t n = scalar ? 1 : count;
            std::vector<char> buffer(n * item_size, '\0');
            for (std::size_t i = 0; i < n; ++i)
                std::memcpy(buffer.data() + i * item_size, items[i].data(), items[i].size());
            Handle attribute(H5Acreate2(object, name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT),
                             H5Aclose);
            if (!space.valid() || !attribute.valid() || H5Awrite(attribute.get(), type.get(), buffer.data()) < 0)
                fail("cannot write " + where + hdf5_detail());
        }
    };

    File::File(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}
    File::File(File&& other) noexcept = default;
    File& File::operator=(File&& other) noexcept = default;

    File::~File()
    {
        Lock lock;
        m_impl.reset();
    }

    File File::open_read(const std::string& path)
    {
        Lock lock;
        std::error_code ec;
        auto status = fs::status(path, ec);
        if (status.type() == fs::file_type::not_found)
            throw io_error("Cannot open '" + path + "': no such file");
        if (status.type() == fs::file_type::directory)
            throw io_error("Cannot open '" + path + "': not an HDF5 file (it is a directory)");
        // Permission problems get their own words rather than HDF5's generic failure.
        if (std::FILE* probe = std::fopen(path.c_str(), "rb"))
            std::fclose(probe);
        else
        {
            int error = errno;
            throw io_error("Cannot open '" + path + "': " + std::strerror(error));
        }
        if (H5Fis_hdf5(path.c_str()) <= 0)
        {
            H5Eclear2(H5E_DEFAULT);
            throw io_error("Cannot open '" + path + "': not an HDF5 file");
        }
        Handle fapl = file_access_list();
        Handle file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl.get()), H5Fclose);
        if (!file.valid())
            throw io_error("Cannot open '" + path + "': corrupt or truncated HDF5 file" + hdf5_detail());
        auto impl = std::make_unique<Impl>();
        impl->m_path = path;
        impl->m_file = std::move(file);
        Handle fcpl(H5Fget_create_plist(impl->m_file.get()), H5Pclose);
        hsize_t userblock = 0;
        if (!fcpl.valid() || H5Pget_sizes(fcpl.get(), &impl->m_sizeof_addr, &impl->m_sizeof_size) < 0 ||
            H5Pget_userblock(fcpl.get(), &userblock) < 0)
            throw io_error("Cannot open '" + path + "': corrupt HDF5 file" + hdf5_detail());
        auto valid_width = [](std::size_t w)
        {
            return w == 2 || w == 4 || w == 8;
        };
        if (!valid_width(impl->m_sizeof_addr) || !valid_width(impl->m_sizeof_size))
            throw io_error("Cannot open '" + path + "': corrupt HDF5 file (invalid address or length width)");
        impl->m_base_address = userblock;
        impl->m_raw.open(path, std::ios::binary);
        impl->m_file_size = fs::file_size(path, ec);
        if (!impl->m_raw || ec)
            throw io_error("Cannot open '" + path + "': cannot read it directly");
        return File(std::move(impl));
    }

    File File::open_write(const std::string& path)
    {
        Lock lock;
        std::error_code ec;
        if (fs::is_directory(path, ec))
            throw io_error("Cannot create '" + path + "': it is a directory");
        Handle fapl = file_access_list();
        Handle file(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get()), H5Fclose);
        if (!file.valid())
            throw io_error("Cannot create '" + path + "'" + hdf5_detail());
        auto impl = std::make_unique<Impl>();
        impl->m_path = path;
        impl->m_file = std::move(file);
        impl->m_writable = true;
        return File(std::move(impl));
    }

    File::Impl& File::open_impl() const
    {
        if (!m_impl)
            throw io_error("HDF5 file object was moved from");
        m_impl->require_open();
        return *m_impl;
    }

    const std::string& File::path() const
    {
        static const std::string none;
        return m_impl ? m_impl->m_path : none;
    }

    bool File::is_open() const
    {
        return m_impl && m_impl->m_file.valid();
    }

    void File::close()
    {
        Lock lock;
        if (!is_open())
            return;
        if (!m_impl->m_file.close())
            m_impl->fail("cannot finish writing and close the file" + hdf5_detail());
    }

    void File::flush()
    {
        Lock lock;
        const Impl& impl = open_impl();
        if (H5Fflush(impl.m_file.get(), H5F_SCOPE_GLOBAL) < 0)
            impl.fail("cannot flush" + hdf5_detail());
    }

    bool File::exists(const std::string& object_path) const
    {
        Lock lock;
        const Impl& impl = open_impl();
        return impl.kind_of(absolute_path(object_path)) != Kind::missing;
    }

    bool File::is_group(const std::string& object_path) const
    {
        Lock lock;
        const Impl& impl = open_impl();
        return impl.kind_of(absolute_path(object_path)) == Kind::group;
    }

    bool File::is_dataset(const std::string& object_path) const
    {
        Lock lock;
        const Impl& impl = open_impl();
        return impl.kind_of(absolute_path(object_path)) == Kind::dataset;
    }

    namespace
    {
        herr_t collect_link(hid_t, const char* name, const H5L_info_t*, void* data)
        {
            try
            {
                static_cast<std::vector<std::string>*>(data)->emplace_back(name);
                return 0;
            }
            catch (...)
            {
                return -1;
            }
        }

        herr_t collect_attribute(hid_t, const char* name, const H5A_info_t*, void* data)
        {
            try
            {
                static_cast<std::vector<std::string>*>(data)->emplace_back(name);
                return 0;
            }
            catch (...)
            {
                return -1;
            }
        }
    } // namespace

    std::vector<std::string> File::children(const std::string& group_path) const
    {
        Lock lock;
        const Impl& impl = open_impl();
        std::string absolute = absolute_path(group_path);
        Handle group = impl.open_group(absolute);
        bool tracked = false;
        {
            Handle gcpl(H5Gget_create_plist(group.get()), H5Pclose);
            unsigned flags = 0;
            if (gcpl.valid() && H5Pget_link_creation_order(gcpl.get(), &flags) >= 0)
                tracked = (flags & H5P_CRT_ORDER_TRACKED) != 0;
            H5Eclear2(H5E_DEFAULT);
        }
        std::vector<std::string> names;
        if (tracked)
        {
            hsize_t index = 0;
            if (H5Literate(group.get(), H5_INDEX_CRT_ORDER, H5_ITER_INC, &index, collect_link, &names) >= 0)
                return impl.checked_link_names(std::move(names), absolute);
            // Tracked but not indexed in dense storage: fall back to name order.
            H5Eclear2(H5E_DEFAULT);
            names.clear();
        }
        hsize_t index = 0;
        if (H5Literate(group.get(), H5_INDEX_NAME, H5_ITER_INC, &index, collect_link, &names) < 0)
            impl.fail("cannot list group '" + absolute + "'" + hdf5_detail());
        return impl.checked_link_names(std::move(names), absolute);
    }

    std::vector<std::string> File::attribute_names(const std::string& object_path) const
    {
        Lock lock;
        const Impl& impl = open_impl();
        std::string absolute = absolute_path(object_path);
        Handle object = impl.open_object(absolute);
        std::vector<std::string> names;
        hsize_t index = 0;
        if (H5Aiterate2(object.get(), H5_INDEX_NAME, H5_ITER_INC, &index, collect_attribute, &names) < 0)
            impl.fail("cannot list the attributes of '" + absolute + "'" + hdf5_detail());
        return names;
    }

    Shape File::dataset_shape(const std::string& dataset_path) const
    {
        Lock lock;
        const Impl& impl = open_impl();
        std::string absolute = absolute_path(dataset_path);
        Handle dataset = impl.open_dataset(absolute);
        Handle space(H5Dget_space(dataset.get()), H5Sclose);
        Shape shape;
        if (!space.valid() || H5Sget_simple_extent_type(space.get()) == H5S_NULL || !space_dims(space.get(), shape))
            impl.fail("dataset '" + absolute + "' has no readable shape" + hdf5_detail());
        return shape;
    }

    template <class T>
    Tensor<T> File::read(const std::string& dataset_path) const
    {
        Lock lock;
        const Impl& impl = open_impl();
        std::string absolute = absolute_path(dataset_path);
        Handle dataset = impl.open_dataset(absolute);
        Handle type(H5Dget_type(dataset.get()), H5Tclose);
        Handle space(H5Dget_space(dataset.get()), H5Sclose);
        if (!type.valid() || !space.valid())
            impl.fail("cannot inspect dataset '" + absolute + "'" + hdf5_detail());
        H5T_class_t cls = H5Tget_class(type.get());
        H5S_class_t shape_class = H5Sget_simple_extent_type(space.get());
        if ((cls != H5T_INTEGER && cls != H5T_FLOAT) || shape_class == H5S_NULL)
            impl.fail("expected a numeric array in dataset '" + absolute + "', found " +
                      describe(type.get(), space.get()));
        Shape shape;
        std::size_t count = 0;
        std::size_t stored_size = H5Tget_size(type.get());
        if (!space_dims(space.get(), shape) || !element_count(space.get(), std::max(sizeof(T), stored_size), count))
            impl.fail("dataset '" + absolute + "' has an invalid shape");
        impl.check_storage(dataset.get(), count * stored_size, absolute);
        Tensor<T> out;
        try
        {
            out = Tensor<T>::from_shape(shape);
        }
        catch (const std::bad_alloc&)
        {
            impl.fail("dataset '" + absolute + "' of shape " + shape_str(shape) + " does not fit in memory");
        }
        if (count > 0 && H5Dread(dataset.get(), memory_type<T>(), H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()) < 0)
            impl.fail("cannot read dataset '" + absolute + "'" + hdf5_detail());
        return out;
    }

    template <class T>
    void File::write(const std::string& dataset_path, const Tensor<T>& t)
    {
        Lock lock;
        const Impl& impl = open_impl();
        impl.require_writable();
        std::string absolute = absolute_path(dataset_path);
        if (absolute == "/")
            impl.fail("cannot write a dataset at the root group");
        impl.check_parents(absolute);
        Kind kind = impl.kind_of(absolute);
        if (kind != Kind::missing)
            impl.fail("cannot write dataset '" + absolute + "': " + kind_name(kind) + " already exists there");
        std::vector<hsize_t> dims(t.shape().begin(), t.shape().end());
        Handle space(dims.empty() ? H5Screate(H5S_SCALAR)
                                  : H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr),
                     H5Sclose);
        if (!space.valid())
            impl.fail("cannot describe the shape " + shape_str(shape_of(t)) + " of dataset '" + absolute + "'" +
                      hdf5_detail());
        Handle lcpl = impl.intermediate_groups_list();
        Handle dataset(H5Dcreate2(impl.m_file.get(), absolute.c_str(), file_type<T>(), space.get(), lcpl.get(),
                                  H5P_DEFAULT, H5P_DEFAULT),
                       H5Dclose);
        if (!dataset.valid())
            impl.fail("cannot create dataset '" + absolute + "'" + hdf5_detail());
        if (t.size() > 0 && H5Dwrite(dataset.get(), memory_type<T>(), H5S_ALL, H5S_ALL, H5P_DEFAULT, t.data()) < 0)
            impl.fail("cannot write dataset '" + absolute + "'" + hdf5_detail());
    }

    template Tensor<float> File::read<float>(const std::string&) const;
    template Tensor<double> File::read<double>(const std::string&) const;
    template Tensor<std::int64_t> File::read<std::int64_t>(const std::string&) const;
    template void File::write<float>(const std::string&, const Tensor<float>&);
    template void File::write<double>(const std::string&, const Tensor<double>&);
    template void File::write<std::int64_t>(const std::string&, const Tensor<std::int64_t>&);

    void File::create_group(const std::string& group_path)
    {
        Lock lock;
        const Impl& impl = open_impl();
        impl.require_writable();
        std::string absolute = absolute_path(group_path);
        impl.check_parents(absolute);
        Kind kind = impl.kind_of(absolute);
        if (kind == Kind::group)
            return;
        if (kind != Kind::missing)
            impl.fail("cannot create group '" + absolute + "': " + kind_name(kind) + " already exists there");
        Handle lcpl = impl.intermediate_groups_list();
        Handle group(H5Gcreate2(impl.m_file.get(), absolute.c_str(), lcpl.get(), H5P_DEFAULT, H5P_DEFAULT), H5Gclose);
        if (!group.valid())
            impl.fail("cannot create group '" + absolute + "'" + hdf5_detail());
    }

    bool File::has_attribute(const std::string& object_path, const std::string& name) const
    {
        Lock lock;
        const Impl& impl = open_impl();
        std::string absolute = absolute_path(object_path);
        Handle object = impl.open_object(absolute);
        return impl.attribute_exists(object.get(), name, absolute);
    }

    std::string File::read_string_attribute(const std::string& object_path, const std::string& name) const
    {
        Lock lock;
        const Impl& impl = open_impl();
        std::string absolute = absolute_path(object_path);
        Handle object = impl.open_object(absolute);
        if (!impl.attribute_exists(object.get(), name, absolute))
            impl.fail("attribute '" + name + "' not found on '" + absolute + "'");
        Handle attribute(H5Aopen(object.get(), name.c_str(), H5P_DEFAULT), H5Aclose);
        if (!attribute.valid())
            impl.fail("cannot open attribute '" + name + "' on '" + absolute + "'" + hdf5_detail());
        Handle type(H5Aget_type(attribute.get()), H5Tclose);
        Handle space(H5Aget_space(attribute.get()), H5Sclose);
        if (!type.valid() || !space.valid())
            impl.fail("cannot inspect attribute '" + name + "' on '" + absolute + "'" + hdf5_detail());
        if (H5Tget_class(type.get()) != H5T_STRING)
            impl.fail("expected a string attribute '" + name + "' on '" + absolute + "', found " +
                      describe(type.get(), space.get()));
        if (H5Sget_simple_extent_npoints(space.get()) != 1)
            impl.fail("expected a single string in attribute '" + name + "' on '" + absolute + "', found " +
                      describe(type.get(), space.get()));
        return impl.read_strings(attribute.get(), type.get(), space.get(), name, absolute).at(0);
    }

    std::vector<std::string> File::read_string_list_attribute(const std::string& object_path,
                                                              const std::string& name) const
    {
        Lock lock;
        const Impl& impl = open_impl();
        std::string absolute = absolute_path(object_path);
        Handle object = impl.open_object(absolute);
        if (impl.attribute_exists(object.get(), name, absolute))
            return impl.read_list_attribute(object.get(), name, absolute);
        if (!impl.attribute_exists(object.get(), chunk_name(name, 0), absolute))
            impl.fail("attribute '" + name + "' (or its chunks '" + name + "0', ...) not found on '" + absolute + "'");
        std::vector<std::string> out;
        for (std::size_t i = 0; impl.attribute_exists(object.get(), chunk_name(name, i), absolute); ++i)
        {
            auto chunk = impl.read_list_attribute(object.get(), chunk_name(name, i), absolute);
            out.insert(out.end(), std::make_move_iterator(chunk.begin()), std::make_move_iterator(chunk.end()));
        }
        return out;
    }

    void File::write_string_attribute(const std::string& object_path, const std::string& name, const std::string& value,
                                      StringStorage storage)
    {
        Lock lock;
        const Impl& impl = open_impl();
        impl.require_writable();
        std::string absolute = absolute_path(object_path);
        Handle object = impl.open_object(absolute);
        if (storage == StringStorage::fixed_ascii && value.size() > object_header_limit)
            impl.fail("cannot store attribute '" + name + "' on '" + absolute +
                      "' as a fixed-length string: " + std::to_string(value.size()) + " bytes exceed the limit of " +
                      std::to_string(object_header_limit));
        if (impl.attribute_exists(object.get(), name, absolute))
            impl.delete_attribute(object.get(), name, absolute);
        if (storage == StringStorage::fixed_ascii)
        {
            // HDF5 has no zero-size fixed strings; numpy stores b'' as S1 too.
            impl.write_fixed_strings(object.get(), name, &value, 0, true, std::max<std::size_t>(1, value.size()),
                                     absolute);
            return;
        }
        std::string where = "attribute '" + name + "' on '" + absolute + "'";
        Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
        if (!type.valid() || H5Tset_size(type.get(), H5T_VARIABLE) < 0 || H5Tset_cset(type.get(), H5T_CSET_UTF8) < 0)
            impl.fail("cannot set up writing " + where + hdf5_detail());
        Handle space(H5Screate(H5S_SCALAR), H5Sclose);
        Handle attribute(H5Acreate2(object.get(), name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT),
                         H5Aclose);
        const char* text = value.c_str();
        if (!space.valid() || !attribute.valid() || H5Awrite(attribute.get(), type.get(), &text) < 0)
            impl.fail("cannot write " + where + hdf5_detail());
    }

    std::vector<std::size_t> keras_attribute_chunks(std::size_t count, std::size_t item_size)
    {
        if (item_size > object_header_limit)
            throw value_error("keras_attribute_chunks: an item of " + std::to_string(item_size) +
                              " bytes cannot fit in " + std::to_string(object_header_limit));
        if (count == 0)
            return {};
        // Keras raises the chunk count one by one until the largest np.array_split piece fits.
        std::size_t chunks = 1;
        while ((count + chunks - 1) / chunks * item_size > object_header_limit)
            ++chunks;
        std::vector<std::size_t> sizes(chunks, count / chunks);
        for (std::size_t i = 0; i < count % chunks; ++i)
            ++sizes[i];
        return sizes;
    }

    void File::write_string_list_attribute(const std::string& object_path, const std::string& name,
                                           const std::vector<std::string>& values)
    {
        Lock lock;
        const Impl& impl = open_impl();
        impl.require_writable();
        std::string absolute = absolute_path(object_path);
        Handle object = impl.open_object(absolute);
        std::size_t item_size = 1; // numpy gives b'' the dtype S1; HDF5 has no zero-size strings
        for (std::size_t i = 0; i < values.size(); ++i)
        {
            if (values[i].size() > object_header_limit)
                impl.fail("cannot save attribute '" + name + "' on '" + absolute + "': item " + std::to_string(i) +
                          " is " + std::to_string(values[i].size()) + " bytes long, more than the HDF5 object " +
                          "header limit of " + std::to_string(object_header_limit));
            item_size = std::max(item_size, values[i].size());
        }
        // A previous value must not survive: readers prefer `name` over the chunks and stop at the first gap.
        if (impl.attribute_exists(object.get(), name, absolute))
            impl.delete_attribute(object.get(), name, absolute);
        for (std::size_t i = 0; impl.attribute_exists(object.get(), chunk_name(name, i), absolute); ++i)
            impl.delete_attribute(object.get(), chunk_name(name, i), absolute);

        if (values.empty())
        {
            hsize_t dims[1] = {0};
            Handle space(H5Screate_simple(1, dims, nullptr), H5Sclose);
            Handle attribute(
                H5Acreate2(object.get(), name.c_str(), H5T_IEEE_F64LE, space.get(), H5P_DEFAULT, H5P_DEFAULT),
                H5Aclose);
            if (!space.valid() || !attribute.valid())
                impl.fail("cannot write attribute '" + name + "' on '" + absolute + "'" + hdf5_detail());
            return;
        }
        auto chunks = keras_attribute_chunks(values.size(), item_size);
        if (chunks.size() == 1)
        {
            impl.write_fixed_strings(object.get(), name, values.data(), values.size(), false, item_size, absolute);
            return;
        }
        std::size_t begin = 0;
        for (std::size_t i = 0; i < chunks.size(); ++i)
        {
            impl.write_fixed_strings(object.get(), chunk_name(name, i), values.data() + begin, chunks[i], false,
                                     item_size, absolute);
            begin += chunks[i];
        }
    }

    void write_atomically(const std::string& path, const std::function<void(File&)>& fill)
    {
        write_file_atomically(path, [&](const std::string& temporary) {
            File file = File::open_write(temporary);
            fill(file);
            file.close();
        });
    }
} // namespace xk::h5
