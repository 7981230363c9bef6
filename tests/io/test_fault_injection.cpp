// Fault injection on the savers and loaders: a save that fails at any byte (disk full, file size limit) or
// whose process dies at any moment leaves the previous file intact and readable, and a truncated or
// bit-flipped file is rejected with an io_error naming it (or, for flips in raw weight bytes, which the
// format does not checksum, loads without crashing).
// Faults run in forked children, so the parent stays single-threaded: set_num_threads(1) keeps TBB from
// starting workers before the first fork.
#include "framework/training/callbacks.hpp"
#include "framework/io/atomic_file.hpp"
#include "framework/io/hdf5_file.hpp"
#include "framework/io/keras_h5.hpp"
#include "framework/training/model.hpp"
#include "framework/engine/parallel.hpp"
#include "framework/engine/random.hpp"
#include "support/checks.hpp"

#include <boost/test/unit_test.hpp>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <thread>

using namespace xk;
namespace fs = std::filesystem;

namespace
{
    struct SingleThreaded
    {
        SingleThreaded() { set_num_threads(1); }
        ~SingleThreaded() { set_num_threads(0); }
    };

    struct ScratchDir
    {
        fs::path path = fs::temp_directory_path() / ("xkeras_fault_test_" + std::to_string(::getpid()));
        ScratchDir()
        {
            fs::remove_all(path);
            fs::create_directories(path);
        }
        ~ScratchDir() { fs::remove_all(path); }
        std::vector<std::string> entries() const
        {
            std::vector<std::string> names;
            for (const auto& e : fs::directory_iterator(path))
                names.push_back(e.path().filename().string());
            std::sort(names.begin(), names.end());
            return names;
        }
    };

    Sequential make_model(std::uint64_t seed)
    {
        set_random_seed(seed);
        Sequential model;
        model.set_input({-1, 6, 6, 2});
        model.add(make_layer("Conv2D", {{"filters", 3}, {"kernel_size", 3}, {"activation", "relu"}}));
        model.add(make_layer("Flatten"));
        model.add(make_layer("Dense", {{"units", 4}, {"activation", "softmax"}}));
        model.compile("adam", "categorical_crossentropy");
        return model;
    }

    std::vector<Tensor<float>> weights_of(Sequential& model)
    {
        std::vector<Tensor<float>> out;
        for (auto* w : model.weights())
            out.push_back(w->variable.value());
        return out;
    }

    bool same_weights(Sequential& model, const std::vector<Tensor<float>>& expected)
    {
        auto got = weights_of(model);
        if (got.size() != expected.size())
            return false;
        for (std::size_t i = 0; i < got.size(); ++i)
            if (got[i] != expected[i])
                return false;
        return true;
    }

    enum ChildExit : int
    {
        saved = 0,
        io_error_naming_file = 2,
        other_exception = 3,
        io_error_without_name = 4,
    };

    /// Runs `body` in a forked child and returns its wait status. The child reports how the body ended
    /// through its exit code (ChildExit); `path` is the file the body's io_error must name.
    int in_child(const std::function<void()>& body, const std::string& path, rlim_t file_size_limit = RLIM_INFINITY)
    {
        pid_t pid = ::fork();
        BOOST_REQUIRE(pid >= 0);
        if (pid == 0)
        {
            int code = saved;
            try
            {
                if (file_size_limit != RLIM_INFINITY)
                {
                    // Writes past the limit fail with EFBIG instead of killing the process.
                    std::signal(SIGXFSZ, SIG_IGN);
                    rlimit limit{file_size_limit, file_size_limit};
                    ::setrlimit(RLIMIT_FSIZE, &limit);
                }
                body();
            }
            catch (const io_error& e)
            {
                code = std::string(e.what()).find(path) != std::string::npos ? io_error_naming_file
                                                                               : io_error_without_name;
            }
            catch (...)
            {
                code = other_exception;
            }
            ::_exit(code);
        }
        int status = 0;
        ::waitpid(pid, &status, 0);
        return status;
    }

    std::uintmax_t saved_size(const std::function<void(const std::string&)>& save, const fs::path& where)
    {
        save(where.string());
        auto size = fs::file_size(where);
        fs::remove(where);
        return size;
    }

    /// Cut-off sizes from 0 to size-1: every byte of the first 4 KiB's landmarks and ~60 points over the rest.
    std::vector<rlim_t> cutoffs(std::uintmax_t size)
    {
        std::vector<rlim_t> out{0, 1, 7, 8, 96, 512, 800, 1024, 2047, 2048, 4095};
        for (std::uintmax_t c = 4096; c < size; c += std::max<std::uintmax_t>(1, size / 60))
            out.push_back(rlim_t(c));
        out.push_back(rlim_t(size - 1));
        out.erase(std::remove_if(out.begin(), out.end(), [&](rlim_t c) { return c >= size; }), out.end());
        return out;
    }

    struct Saver
    {
        std::string name;
        std::string file;
        std::function<void(Sequential&, const std::string&)> save;
        std::function<void(Sequential&, const std::string&)> load;
    };

    std::vector<Saver> savers()
    {
        auto weights_save = [](Sequential& m, const std::string& p) { save_weights(m, p); };
        auto weights_load = [](Sequential& m, const std::string& p) { load_weights(m, p); };
        auto model_save = [](Sequential& m, const std::string& p) { m.save(p); };
        auto model_load = [](Sequential& m, const std::string& p) {
            Sequential loaded = Sequential::load(p);
            auto src = loaded.weights();
            auto dst = m.weights();
            BOOST_REQUIRE_EQUAL(src.size(), dst.size());
            for (std::size_t i = 0; i < src.size(); ++i)
                dst[i]->variable.value() = src[i]->variable.value();
        };
        return {
            {"save_weights (tf.keras .h5)", "w.h5", weights_save, weights_load},
            {"save_weights (Keras 3 .weights.h5)", "w.weights.h5", weights_save, weights_load},
            {"Sequential::save (model + optimizer)", "m.h5", model_save, model_load},
            {"Sequential::save (.keras archive + optimizer)", "m.keras", model_save, model_load},
        };
    }
}

BOOST_AUTO_TEST_CASE(a_save_failing_at_every_size_leaves_the_previous_file_intact)
{
    SingleThreaded single;
    for (const auto& saver : savers())
    {
        BOOST_TEST_CONTEXT(saver.name)
        {
            ScratchDir dir;
            const std::string path = (dir.path / saver.file).string();
            Sequential old_model = make_model(1), new_model = make_model(2);
            const auto old_weights = weights_of(old_model);
            BOOST_REQUIRE(!same_weights(new_model, old_weights));
            auto size = saved_size([&](const std::string& p) { saver.save(new_model, p); }, dir.path / ("probe_" + saver.file));
            saver.save(old_model, path);
            const auto before = dir.entries();

            std::size_t runs = 0;
            for (rlim_t cut : cutoffs(size))
            {
                BOOST_TEST_CONTEXT("file size limit " << cut << " of " << size << " bytes")
                {
                    int status = in_child([&] { saver.save(new_model, path); }, path, cut);
                    BOOST_REQUIRE(WIFEXITED(status));
                    BOOST_TEST(WEXITSTATUS(status) == int(io_error_naming_file));
                    BOOST_TEST(dir.entries() == before, "no temporary left behind");
                    Sequential check = make_model(3);
                    saver.load(check, path);
                    BOOST_TEST(same_weights(check, old_weights));
                    ++runs;
                }
            }
            BOOST_TEST_MESSAGE(saver.name << ": " << runs << " failing saves of a " << size << "-byte file");
            BOOST_TEST(runs >= 20u);

            // The same save without a limit succeeds: the failures above were the fault, not the saver.
            BOOST_TEST(WEXITSTATUS(in_child([&] { saver.save(new_model, path); }, path)) == int(saved));
            Sequential check = make_model(3);
            saver.load(check, path);
            BOOST_TEST(same_weights(check, weights_of(new_model)));
        }
    }
}

BOOST_AUTO_TEST_CASE(a_process_killed_just_before_the_rename_leaves_the_old_file_and_a_named_temporary)
{
    SingleThreaded single;
    for (const auto& saver : savers())
    {
        BOOST_TEST_CONTEXT(saver.name)
        {
            ScratchDir dir;
            const std::string path = (dir.path / saver.file).string();
            Sequential old_model = make_model(1), new_model = make_model(2);
            const auto old_weights = weights_of(old_model);
            saver.save(old_model, path);

            int status = in_child(
                [&] {
                    xk::testing::set_before_rename_hook([](const std::string&) { ::raise(SIGKILL); });
                    saver.save(new_model, path);
                },
                path);
            BOOST_REQUIRE(WIFSIGNALED(status));
            BOOST_TEST(WTERMSIG(status) == SIGKILL);

            Sequential check = make_model(3);
            saver.load(check, path);
            BOOST_TEST(same_weights(check, old_weights));
            // The dead process's temporary is complete and named after the target, so it can be found (and is
            // itself a readable file: the kill came after the fsync).
            auto entries = dir.entries();
            BOOST_REQUIRE_EQUAL(entries.size(), 2u);
            const std::string temporary = entries[0] == saver.file ? entries[1] : entries[0];
            BOOST_TEST(temporary.rfind(saver.file + ".tmp-", 0) == 0u, temporary);
            if (saver.file.find(".weights.h5") == std::string::npos)
            {
                // The format is chosen by the extension, so an archive's temporary is read under a .keras name.
                std::string readable = (dir.path / temporary).string();
                if (saver.file.ends_with(".keras"))
                {
                    const fs::path renamed = dir.path / "temporary.keras";
                    fs::copy_file(readable, renamed);
                    readable = renamed.string();
                }
                Sequential from_temporary = make_model(3);
                saver.load(from_temporary, readable);
                BOOST_TEST(same_weights(from_temporary, weights_of(new_model)));
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(a_process_killed_at_random_moments_while_saving_never_leaves_a_half_file)
{
    SingleThreaded single;
    ScratchDir dir;
    const std::string path = (dir.path / "m.h5").string();
    Sequential a = make_model(1), b = make_model(2);
    const auto weights_a = weights_of(a), weights_b = weights_of(b);
    a.save(path);

    Rng rng(7);
    std::uniform_int_distribution<int> delay_us(0, 20000);
    int kills = 0, complete = 0;
    for (int round = 0; round < 30; ++round)
    {
        pid_t pid = ::fork();
        BOOST_REQUIRE(pid >= 0);
        if (pid == 0)
        {
            // Saves a and b alternately until killed.
            for (int i = 0;; ++i)
                (i % 2 ? a : b).save(path);
        }
        std::this_thread::sleep_for(std::chrono::microseconds(delay_us(rng)));
        ::kill(pid, SIGKILL);
        int status = 0;
        ::waitpid(pid, &status, 0);
        kills += WIFSIGNALED(status) ? 1 : 0;

        BOOST_TEST_CONTEXT("round " << round)
        {
            Sequential check = Sequential::load(path);
            const bool is_a = same_weights(check, weights_a), is_b = same_weights(check, weights_b);
            BOOST_TEST((is_a || is_b), "the file holds one complete save");
            complete += (is_a || is_b) ? 1 : 0;
        }
        // Temporaries of killed saves are left (their pid is in the name); remove them for the next round.
        for (const auto& name : dir.entries())
            if (name != "m.h5")
                fs::remove(dir.path / name);
    }
    BOOST_TEST(kills == 30);
    BOOST_TEST_MESSAGE("random kills: " << kills << ", complete files after them: " << complete);
}

BOOST_AUTO_TEST_CASE(model_checkpoint_never_leaves_a_half_file)
{
    SingleThreaded single;
    ScratchDir dir;
    const std::string path = (dir.path / "checkpoint.h5").string();
    Tensor<float> x = Tensor<float>::from_shape({8, 6, 6, 2}), y({8, 4}, 0.f);
    Rng rng(3);
    std::normal_distribution<float> normal;
    for (auto& v : x)
        v = normal(rng);
    for (std::size_t i = 0; i < 8; ++i)
        y(i, i % 4) = 1.f;
    auto fit_with_checkpoint = [&](Sequential& model, bool weights_only) {
        FitOptions options;
        options.epochs = 2;
        options.verbose = 0;
        options.batch_size = 4;
        ModelCheckpoint::Options checkpoint;
        checkpoint.save_weights_only = weights_only;
        options.callbacks.push_back(std::make_shared<ModelCheckpoint>(path, checkpoint));
        model.fit(x, y, options);
    };

    for (bool weights_only : {false, true})
    {
        BOOST_TEST_CONTEXT("save_weights_only=" << weights_only)
        {
            Sequential first = make_model(1);
            fit_with_checkpoint(first, weights_only);
            const auto saved = weights_of(first);
            const auto before = dir.entries();
            const auto size = fs::file_size(path);

            for (rlim_t cut : {rlim_t(0), rlim_t(512), rlim_t(size / 3), rlim_t(size / 2), rlim_t(size - 1)})
            {
                Sequential second = make_model(2);
                int status = in_child([&] { fit_with_checkpoint(second, weights_only); }, path, cut);
                BOOST_REQUIRE(WIFEXITED(status));
                BOOST_TEST(WEXITSTATUS(status) == int(io_error_naming_file));
                BOOST_TEST(dir.entries() == before);
                Sequential check = make_model(3);
                load_weights(check, path);
                BOOST_TEST(same_weights(check, saved));
            }
            Sequential second = make_model(2);
            int status = in_child(
                [&] {
                    xk::testing::set_before_rename_hook([](const std::string&) { ::raise(SIGKILL); });
                    fit_with_checkpoint(second, weights_only);
                },
                path);
            BOOST_TEST(WIFSIGNALED(status));
            Sequential check = make_model(3);
            load_weights(check, path);
            BOOST_TEST(same_weights(check, saved));
            for (const auto& name : dir.entries())
                if (name != "checkpoint.h5")
                    fs::remove(dir.path / name);
        }
    }
}

namespace
{
    std::vector<char> read_bytes(const std::string& path)
    {
        std::ifstream in(path, std::ios::binary);
        return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    }

    void write_bytes(const std::string& path, const char* data, std::size_t size)
    {
        std::ofstream out(path, std::ios::binary | std::ios::trunc);
        out.write(data, std::streamsize(size));
    }

    /// How a load of a damaged file ended.
    enum class Outcome
    {
        loaded,
        rejected,
    };

    /// Loads `path` into a fresh model; the error must name the file, anything but io_error and value_error
    /// fails the test.
    Outcome try_load(const Saver& saver, const std::string& path, Sequential& into)
    {
        try
        {
            saver.load(into, path);
            return Outcome::loaded;
        }
        catch (const io_error& e)
        {
            BOOST_TEST(std::string(e.what()).find(path) != std::string::npos, "io_error names the file: " << e.what());
            return Outcome::rejected;
        }
        catch (const value_error& e)
        {
            // A damaged model_config that still parses as JSON is a config Keras would reject: value_error,
            // naming the file (load_model's contract).
            BOOST_TEST(std::string(e.what()).find(path) != std::string::npos,
                       "value_error names the file: " << e.what());
            return Outcome::rejected;
        }
        catch (const std::exception& e)
        {
            BOOST_ERROR("not an io_error: " << e.what());
            return Outcome::rejected;
        }
    }
}

BOOST_AUTO_TEST_CASE(a_truncated_file_is_rejected_at_every_length)
{
    SingleThreaded single;
    for (const auto& saver : savers())
    {
        BOOST_TEST_CONTEXT(saver.name)
        {
            ScratchDir dir;
            const std::string good = (dir.path / ("good_" + saver.file)).string();
            const std::string path = (dir.path / saver.file).string();
            Sequential model = make_model(1);
            saver.save(model, good);
            const auto bytes = read_bytes(good);
            std::size_t tried = 0;
            for (std::size_t cut = 0; cut < bytes.size(); cut += (cut < 4096 ? 7 : std::max<std::size_t>(1, bytes.size() / 200)))
            {
                BOOST_TEST_CONTEXT("cut at " << cut << " of " << bytes.size())
                {
                    write_bytes(path, bytes.data(), cut);
                    Sequential check = make_model(3);
                    BOOST_TEST((try_load(saver, path, check) == Outcome::rejected));
                    ++tried;
                }
            }
            BOOST_TEST_MESSAGE(saver.name << ": " << tried << " truncations of " << bytes.size() << " bytes rejected");
        }
    }
}

BOOST_AUTO_TEST_CASE(a_bit_flipped_file_is_rejected_or_loads_without_crashing)
{
    SingleThreaded single;
    for (const auto& saver : savers())
    {
        BOOST_TEST_CONTEXT(saver.name)
        {
            ScratchDir dir;
            const std::string good = (dir.path / ("good_" + saver.file)).string();
            const std::string path = (dir.path / saver.file).string();
            Sequential model = make_model(1);
            const auto weights = weights_of(model);
            saver.save(model, good);
            const auto bytes = read_bytes(good);
            std::size_t rejected = 0, same = 0, changed = 0;
            Rng rng(11);
            std::uniform_int_distribution<int> bit(0, 7);
            const std::size_t step = std::max<std::size_t>(1, bytes.size() / 600);
            for (std::size_t at = 0; at < bytes.size(); at += step)
            {
                BOOST_TEST_CONTEXT("bit flip at byte " << at << " of " << bytes.size())
                {
                    auto damaged = bytes;
                    damaged[at] = char(damaged[at] ^ (1 << bit(rng)));
                    write_bytes(path, damaged.data(), damaged.size());
                    Sequential check = make_model(3);
                    if (try_load(saver, path, check) == Outcome::rejected)
                        ++rejected;
                    else if (same_weights(check, weights))
                        ++same;
                    else
                        ++changed;
                }
            }
            BOOST_TEST_MESSAGE(saver.name << ": " << (rejected + same + changed) << " single-bit flips: " << rejected
                                          << " rejected, " << same << " loaded the same weights, " << changed
                                          << " loaded changed weights (raw data bytes carry no checksum)");
            BOOST_TEST(rejected > 0u);
        }
    }
}
