// Threads: predict on one model from several threads at once (built or not yet built), two models trained
// at once in one process, the process-wide thread cap that parallel_for honours, and the same training
// result on any thread count.
#include "framework/training/model.hpp"
#include "framework/engine/parallel.hpp"
#include "framework/engine/random.hpp"
#include "support/checks.hpp"
#include "support/gradcheck.hpp"
#include "support/models.hpp"

#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <thread>

using namespace xk;

namespace
{
    json seeded(const std::string& initializer, int seed)
    {
        return {{"class_name", initializer}, {"config", {{"seed", seed}}}};
    }

    /// Conv, pooling, batch norm and dense: the layers whose inference reads state that training writes.
    Sequential conv_model(int seed, bool declare_input = true)
    {
        Sequential model;
        if (declare_input)
            model.set_input({-1, 10, 10, 2});
        model.add(make_layer("Conv2D", {{"filters", 4},
                                        {"kernel_size", 3},
                                        {"activation", "relu"},
                                        {"kernel_initializer", seeded("GlorotUniform", seed)}}));
        model.add(make_layer("BatchNormalization"));
        model.add(make_layer("MaxPooling2D", {{"pool_size", 2}}));
        model.add(make_layer("Flatten"));
        model.add(make_layer("Dense", {{"units", 3},
                                       {"activation", "softmax"},
                                       {"kernel_initializer", seeded("GlorotUniform", seed + 1)}}));
        return model;
    }

    Tensor<float> inputs(std::size_t n, std::uint64_t seed)
    {
        return tensor_cast<float>(test::random_tensor({n, 10, 10, 2}, seed));
    }

    /// fit()'s losses per epoch and the weights it ends with.
    std::pair<std::vector<double>, std::vector<Tensor<float>>> fit_and_collect(Sequential& model, const Tensor<float>& x,
                                                                               const Tensor<float>& y,
                                                                               const FitOptions& options)
    {
        History history = model.fit(x, y, options);
        std::vector<Tensor<float>> weights;
        for (auto* w : model.weights())
            weights.push_back(w->variable.value());
        return {history.history.at("loss"), weights};
    }

    Tensor<float> labels(std::size_t n)
    {
        Tensor<float> y({n, 3}, 0.f);
        for (std::size_t i = 0; i < n; ++i)
            y(i, i % 3) = 1.f;
        return y;
    }
}

BOOST_AUTO_TEST_CASE(four_threads_predicting_on_one_model_match_one_thread)
{
    Sequential model = conv_model(1);
    const Tensor<float> x = inputs(24, 3);
    const Tensor<float> expected = model.predict(x, 8);

    constexpr int threads = 4, rounds = 20;
    std::vector<std::thread> pool;
    std::atomic<int> mismatches{0}, errors{0};
    for (int t = 0; t < threads; ++t)
        pool.emplace_back([&, t] {
            try
            {
                for (int r = 0; r < rounds; ++r)
                    // Different batch sizes per thread: different shapes flow through the kernels at once.
                    if (!(model.predict(x, std::size_t(4 + 4 * t)) == expected))
                        ++mismatches;
            }
            catch (...)
            {
                ++errors;
            }
        });
    for (auto& th : pool)
        th.join();
    BOOST_TEST(errors.load() == 0);
    BOOST_TEST(mismatches.load() == 0);
}

BOOST_AUTO_TEST_CASE(threads_predicting_on_an_unbuilt_model_build_it_once)
{
    Sequential model = conv_model(1, /*declare_input=*/false);
    BOOST_REQUIRE(!model.layer(0).built());
    const Tensor<float> x = inputs(6, 4);
    constexpr int threads = 4;
    std::vector<Tensor<float>> results(threads);
    std::vector<std::thread> pool;
    std::atomic<int> errors{0};
    for (int t = 0; t < threads; ++t)
        pool.emplace_back([&, t] {
            try
            {
                results[std::size_t(t)] = model.predict(x);
            }
            catch (...)
            {
                ++errors;
            }
        });
    for (auto& th : pool)
        th.join();
    BOOST_TEST(errors.load() == 0);
    BOOST_TEST(model.count_params() == conv_model(1).count_params());
    const Tensor<float> expected = model.predict(x);
    for (const auto& r : results)
        BOOST_TEST((r == expected));
    // Seeded initializers: the weights are the same as a model built before any thread ran.
    BOOST_TEST((expected == conv_model(1).predict(x)));
}

BOOST_AUTO_TEST_CASE(two_models_trained_at_once_equal_the_same_runs_one_after_the_other)
{
    const Tensor<float> x = inputs(32, 5), y = labels(32);
    auto train = [&](int seed) {
        Sequential model = conv_model(seed);
        model.compile("adam", "categorical_crossentropy", {"accuracy"});
        FitOptions options;
        options.epochs = 3;
        options.batch_size = 8;
        options.verbose = 0;
        options.shuffle = false; // the shuffle draws from the process's global generator
        return fit_and_collect(model, x, y, options);
    };
    const auto alone_a = train(10), alone_b = train(20);
    BOOST_REQUIRE(alone_a.first != alone_b.first);

    decltype(train(0)) together_a, together_b;
    std::thread ta([&] { together_a = train(10); }), tb([&] { together_b = train(20); });
    ta.join();
    tb.join();
    BOOST_TEST(together_a.first == alone_a.first);
    BOOST_TEST(together_b.first == alone_b.first);
    BOOST_TEST((together_a.second == alone_a.second));
    BOOST_TEST((together_b.second == alone_b.second));
}

namespace
{
    /// The most bodies of one parallel_for running at the same moment.
    int observed_concurrency()
    {
        std::atomic<int> running{0}, peak{0};
        parallel_for(64, 1, [&](std::size_t, std::size_t) {
            int now = ++running;
            int seen = peak.load();
            while (now > seen && !peak.compare_exchange_weak(seen, now))
            {
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
            --running;
        });
        return peak.load();
    }
}

BOOST_AUTO_TEST_CASE(parallel_for_never_runs_more_bodies_than_the_thread_cap)
{
    for (int cap : {1, 2, 3})
    {
        set_num_threads(cap);
        BOOST_TEST(num_threads() == cap);
        int seen = observed_concurrency();
        BOOST_TEST(seen <= cap, "cap " << cap << ", observed " << seen);
        BOOST_TEST(seen >= 1);
    }
    set_num_threads(0);
    BOOST_TEST(num_threads() >= 1);
    BOOST_CHECK_EXCEPTION(set_num_threads(-1), value_error,
                          test::message_contains({"set_num_threads", "Received threads=-1"}));

    // The cap changes nothing in the numbers: each output element is computed by one thread either way.
    Sequential model = conv_model(2);
    const Tensor<float> x = inputs(8, 6);
    set_num_threads(1);
    const Tensor<float> one = model.predict(x);
    set_num_threads(0);
    BOOST_TEST((model.predict(x) == one));
}

namespace
{
    /// With test::mnist_cnn, every kernel gradient that sums over the batch in partitions (the implicit-GEMM
    /// and small-channel conv kernels, the AVX-512 kernel gradient where built, depthwise, bias, batch norm).
    Sequential depthwise_model()
    {
        Sequential model("depthwise");
        model.set_input({-1, 28, 28, 1});
        model.add(make_layer("Conv2D", {{"filters", 24}, {"kernel_size", 3}, {"activation", "relu"}}));
        model.add(make_layer("DepthwiseConv2D", {{"kernel_size", 3}, {"depth_multiplier", 2}}));
        model.add(make_layer("BatchNormalization"));
        model.add(make_layer("SeparableConv2D", {{"filters", 40}, {"kernel_size", 3}, {"strides", 2}}));
        model.add(make_layer("GlobalAveragePooling2D"));
        model.add(make_layer("Dense", {{"units", 10}, {"activation", "softmax"}}));
        return model;
    }
}

BOOST_AUTO_TEST_CASE(the_same_seed_trains_to_the_same_bits_on_one_thread_and_on_two)
{
    // Reductions split into a fixed number of partitions (framework/engine/parallel.hpp), so the thread count
    // changes no sum's order: a few steps (dropout and shuffle included) end with bit-identical weights.
    Tensor<float> x = tensor_cast<float>(Tensor<double>(test::random_tensor({96, 28, 28, 1}, 3) * 0.5 + 0.5));
    Tensor<float> y({96, 10}, 0.f);
    for (std::size_t i = 0; i < 96; ++i)
        y(i, (i * 7) % 10) = 1.f;
    for (auto* make : {&test::mnist_cnn, &depthwise_model})
    {
        auto train = [&](int threads) {
            set_num_threads(threads);
            reset_layer_names();
            set_random_seed(42);
            Sequential model = make();
            model.compile("adam", "categorical_crossentropy");
            FitOptions options;
            options.batch_size = 32;
            options.verbose = 0;
            return fit_and_collect(model, x, y, options);
        };
        const auto one = train(1), two = train(2);
        set_num_threads(0);
        BOOST_TEST_CONTEXT((make == &test::mnist_cnn ? "mnist_cnn" : "depthwise"))
        {
            BOOST_TEST(one.first == two.first, boost::test_tools::per_element());
            BOOST_TEST_REQUIRE(one.second.size() == two.second.size());
            for (std::size_t i = 0; i < one.second.size(); ++i)
                BOOST_TEST((one.second[i] == two.second[i]), "weight " << i << " differs");
        }
    }
}
