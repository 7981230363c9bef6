// compile / fit / evaluate / predict, the progress display and the callbacks.
#include "framework/io/keras_h5.hpp"
#include "framework/training/model.hpp"
#include "framework/engine/random.hpp"
#include "support/checks.hpp"

#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>

using namespace xk;
using test::message_contains;
namespace fs = std::filesystem;

namespace
{
    /// Two classes of 8x8 images: a bright bar in the left or in the right half, plus noise.
    std::pair<Tensor<float>, Tensor<float>> bars(std::size_t n, std::uint64_t seed)
    {
        Rng rng(seed);
        std::normal_distribution<float> noise(0.f, 0.2f);
        std::uniform_int_distribution<int> col(0, 3);
        Tensor<float> x({n, 8, 8, 1}, 0.f), y({n, 2}, 0.f);
        for (std::size_t i = 0; i < n; ++i)
        {
            const std::size_t right = i % 2, c = std::size_t(col(rng)) + 4 * right;
            for (std::size_t r = 0; r < 8; ++r)
                for (std::size_t k = 0; k < 8; ++k)
                    x(i, r, k, 0) = noise(rng) + (k == c ? 1.f : 0.f);
            y(i, right) = 1.f;
        }
        return {x, y};
    }

    Sequential small_model(const std::string& optimizer = "adam")
    {
        Sequential model;
        model.set_input({-1, 8, 8, 1});
        model.add(make_layer("Conv2D", {{"filters", 4}, {"kernel_size", 3}, {"activation", "relu"}}));
        model.add(make_layer("MaxPooling2D", {{"pool_size", 2}}));
        model.add(make_layer("Dropout", {{"rate", 0.1}}));
        model.add(make_layer("Flatten"));
        model.add(make_layer("Dense", {{"units", 2}, {"activation", "softmax"}}));
        model.compile(json{{"class_name", optimizer == "adam" ? "Adam" : "SGD"}, {"config", {{"learning_rate", 0.02}}}},
                      "categorical_crossentropy", {"accuracy"});
        return model;
    }

    struct ScratchDir
    {
        fs::path path = fs::temp_directory_path() / ("xkeras_training_test_" + std::to_string(::getpid()));
        ScratchDir() { fs::create_directories(path); }
        ~ScratchDir() { fs::remove_all(path); }
    };

    FitOptions quiet(int epochs, std::size_t batch = 16)
    {
        FitOptions o;
        o.epochs = epochs;
        o.batch_size = batch;
        o.verbose = 0;
        return o;
    }
}

BOOST_AUTO_TEST_SUITE(training)

BOOST_AUTO_TEST_CASE(fit_learns_a_separable_problem)
{
    set_random_seed(3);
    auto [x, y] = bars(256, 1);
    auto [vx, vy] = bars(64, 2);
    Sequential model = small_model();
    FitOptions options = quiet(8);
    options.validation_data = {{vx, vy}};
    History h = model.fit(x, y, options);
    BOOST_TEST(h.epoch.size() == 8u);
    for (const char* key : {"loss", "accuracy", "val_loss", "val_accuracy"})
        BOOST_TEST(h.history.count(key) == 1u, key);
    BOOST_TEST(h.history["loss"].back() < h.history["loss"].front());
    BOOST_TEST(h.history["val_accuracy"].back() >= 0.95);
    Logs eval = model.evaluate(vx, vy, 10);
    BOOST_TEST(eval[0].first == "loss");
    BOOST_TEST(eval[0].second == h.history["val_loss"].back(), boost::test_tools::tolerance(1e-5));
    Tensor<float> p = model.predict(vx, 7); // batch size that does not divide 64
    BOOST_TEST(shape_of(p) == Shape({64, 2}));
    std::string why;
    BOOST_TEST(test::close_to_scale(p, model.network().predict(vx), 1e-6, &why), why);
}

BOOST_AUTO_TEST_CASE(same_seed_same_training)
{
    auto run = [] {
        set_random_seed(11);
        auto [x, y] = bars(64, 5);
        Sequential model = small_model();
        History h = model.fit(x, y, quiet(2));
        return std::make_pair(h.history["loss"], Tensor<float>(model.weights()[0]->variable.value()));
    };
    auto a = run(), b = run();
    BOOST_TEST(a.first == b.first);
    BOOST_TEST(a.second == b.second);
}

BOOST_AUTO_TEST_CASE(validation_split_holds_out_the_last_samples)
{
    set_random_seed(1);
    auto [x, y] = bars(40, 3);
    Sequential model = small_model();
    auto counter = std::make_shared<LambdaCallback>();
    int batches = 0;
    counter->batch_end = [&](int, const Logs&) { ++batches; };
    FitOptions o = quiet(1, 10);
    o.validation_split = 0.25;
    o.callbacks = {counter};
    History h = model.fit(x, y, o);
    BOOST_TEST(batches == 3); // 30 training samples in batches of 10
    Tensor<float> last_x = xt::view(x, xt::range(30, 40)), last_y = xt::view(y, xt::range(30, 40));
    BOOST_TEST(h.history["val_loss"][0] == model.evaluate(last_x, last_y)[0].second, boost::test_tools::tolerance(1e-5));
}

BOOST_AUTO_TEST_CASE(checkpoints_exist_and_load)
{
    ScratchDir dir;
    set_random_seed(2);
    auto [x, y] = bars(64, 4);
    Sequential model = small_model();
    FitOptions o = quiet(3);
    o.validation_split = 0.25;
    o.callbacks = {std::make_shared<ModelCheckpoint>((dir.path / "model.{epoch:02d}-{val_loss:.3f}.h5").string()),
                   std::make_shared<ModelCheckpoint>((dir.path / "best.weights.h5").string(),
                                                     ModelCheckpoint::Options{"val_accuracy", true, true})};
    History h = model.fit(x, y, o);
    std::size_t full = 0;
    for (const auto& entry : fs::directory_iterator(dir.path))
    {
        const std::string name = entry.path().filename().string();
        BOOST_TEST(name.find(".tmp") == std::string::npos, "temporary file left: " << name);
        if (name.rfind("model.", 0) == 0)
        {
            ++full;
            Sequential loaded = Sequential::load(entry.path().string());
            BOOST_TEST(loaded.compiled());
        }
    }
    BOOST_TEST(full == 3u);
    char expected[64];
    std::snprintf(expected, sizeof expected, "model.03-%.3f.h5", h.history["val_loss"][2]);
    BOOST_TEST(fs::exists(dir.path / expected), expected);
    Sequential fresh = small_model();
    load_weights(fresh, (dir.path / "best.weights.h5").string());
}

BOOST_AUTO_TEST_CASE(early_stopping_stops_and_restores)
{
    set_random_seed(4);
    auto [x, y] = bars(64, 6);
    Sequential model = small_model();
    // Loss falls, so in "max" mode it never improves: training stops after patience + 1 epochs.
    auto stopper = std::make_shared<EarlyStopping>(EarlyStopping::Options{"loss", 0.0, 1, "max", {}, true, 0});
    FitOptions o = quiet(10);
    o.callbacks = {stopper};
    History h = model.fit(x, y, o);
    BOOST_TEST(h.epoch.size() == 2u);
    BOOST_TEST(stopper->stopped_epoch() == 1);
}

BOOST_AUTO_TEST_CASE(nan_terminates_and_plateau_reduces_the_learning_rate)
{
    set_random_seed(5);
    auto [x, y] = bars(64, 7);
    Tensor<float> poisoned = y;
    poisoned(0, 0) = std::numeric_limits<float>::quiet_NaN();
    Sequential model = small_model();
    int batches = 0;
    auto counter = std::make_shared<LambdaCallback>();
    counter->batch_end = [&](int, const Logs&) { ++batches; };
    FitOptions o = quiet(3);
    o.shuffle = false;
    o.callbacks = {std::make_shared<TerminateOnNaN>(), counter};
    model.fit(x, poisoned, o);
    BOOST_TEST(batches == 1);

    Sequential plateau = small_model();
    FitOptions p = quiet(3);
    p.callbacks = {std::make_shared<ReduceLROnPlateau>(ReduceLROnPlateau::Options{"loss", 0.5, 1, "max"})};
    plateau.fit(x, y, p);
    BOOST_TEST(plateau.optimizer().learning_rate_value() < 0.02 * 0.5 + 1e-9);
}

BOOST_AUTO_TEST_CASE(csv_logger_writes_one_row_per_epoch)
{
    ScratchDir dir;
    auto [x, y] = bars(32, 8);
    Sequential model = small_model();
    FitOptions o = quiet(2);
    o.callbacks = {std::make_shared<CSVLogger>((dir.path / "log.csv").string())};
    model.fit(x, y, o);
    std::ifstream in(dir.path / "log.csv");
    std::string header, row1, row2, extra;
    std::getline(in, header);
    std::getline(in, row1);
    std::getline(in, row2);
    BOOST_TEST(header == "epoch,accuracy,loss");
    BOOST_TEST(row1.rfind("0,", 0) == 0u);
    BOOST_TEST(row2.rfind("1,", 0) == 0u);
    BOOST_TEST(!std::getline(in, extra));
}

BOOST_AUTO_TEST_CASE(saved_models_resume_training_identically)
{
    ScratchDir dir;
    set_random_seed(6);
    auto [x, y] = bars(32, 9);
    Sequential model = small_model();
    model.fit(x, y, quiet(1));
    model.save((dir.path / "m.h5").string());
    Sequential loaded = Sequential::load((dir.path / "m.h5").string());
    BOOST_TEST(loaded.optimizer().iterations() == model.optimizer().iterations());
    BOOST_TEST(loaded.training_config() == model.training_config());
    // Without dropout randomness in the way, one more step must give the same weights.
    Tensor<float> xb = xt::view(x, xt::range(0, 8)), yb = xt::view(y, xt::range(0, 8));
    for (Sequential* m : {&model, &loaded})
        m->layer(2).set_trainable(true);
    set_random_seed(99);
    Logs a = model.train_on_batch(xb, yb);
    set_random_seed(99);
    Logs b = loaded.train_on_batch(xb, yb);
    BOOST_TEST(a[0].second == b[0].second, boost::test_tools::tolerance(1e-6));
    BOOST_TEST(model.weights()[0]->variable.value() == loaded.weights()[0]->variable.value());
}

BOOST_AUTO_TEST_CASE(bad_calls_are_refused)
{
    auto [x, y] = bars(8, 1);
    Sequential raw;
    raw.set_input({-1, 8, 8, 1});
    raw.add(make_layer("Flatten"));
    BOOST_CHECK_EXCEPTION(raw.fit(x, y, quiet(1)), value_error, message_contains("compile"));
    Sequential model = small_model();
    Tensor<float> fewer = xt::view(y, xt::range(0, 4));
    BOOST_CHECK_EXCEPTION(model.fit(x, fewer, quiet(1)), value_error, message_contains({"same number of samples", "(4, 2)"}));
    BOOST_CHECK_EXCEPTION(model.evaluate(Tensor<float>::from_shape({0, 8, 8, 1}), Tensor<float>::from_shape({0, 2})),
                          value_error, message_contains("empty"));
    FitOptions o = quiet(1);
    o.validation_split = 1.5;
    BOOST_CHECK_EXCEPTION(model.fit(x, y, o), value_error, message_contains("validation_split"));
}

BOOST_AUTO_TEST_CASE(progress_display_is_keras_s)
{
    BOOST_TEST(Progbar::bar(47, 63) == "47/63 [=====================>........]");
    BOOST_TEST(Progbar::bar(63, 63) == "63/63 [==============================]");
    BOOST_TEST(Progbar::bar(1, 63) == " 1/63 [..............................]");
    BOOST_TEST(Progbar::format_eta(2.7) == "2s");
    BOOST_TEST(Progbar::format_eta(65) == "1:05");
    BOOST_TEST(Progbar::format_eta(3723) == "1:02:03");
    BOOST_TEST(Progbar::format_values({{"loss", 0.13124}, {"accuracy", 0.96011}}) == " - loss: 0.1312 - accuracy: 0.9601");
    BOOST_TEST(Progbar::format_values({{"loss", 0.00012}}) == " - loss: 1.2000e-04");
}

BOOST_AUTO_TEST_CASE(checkpoint_and_early_stopping_keep_the_best_epochs_weights_by_value)
{
    // SGD far past its stable step on a linear regression (the step multiplies the error by about -5): every
    // epoch's val_loss is worse than the one before, so the best epoch is the first. The checkpoint must hold
    // that epoch's weights, and EarlyStopping (patience 2) must stop at the third epoch and bring them back.
    reset_layer_names();
    set_random_seed(5);
    auto make = [] {
        Sequential m;
        m.set_input({-1, 4});
        m.add(make_layer("Dense", {{"units", 1}}));
        return m;
    };
    Sequential model = make();
    model.compile(json{{"class_name", "SGD"}, {"config", {{"learning_rate", 3.0}}}}, "mse");
    Rng rng(9);
    std::normal_distribution<float> normal(0.f, 1.f);
    Tensor<float> x({64, 4}, 0.f), y({64, 1}, 0.f);
    for (std::size_t i = 0; i < 64; ++i)
        for (std::size_t k = 0; k < 4; ++k)
        {
            x(i, k) = normal(rng);
            y(i, 0) += x(i, k);
        }
    auto flat = [](Model& m) {
        std::vector<float> out;
        for (auto* w : m.weights())
            out.insert(out.end(), w->variable.value().begin(), w->variable.value().end());
        return out;
    };
    std::vector<std::vector<float>> per_epoch;
    auto recorder = std::make_shared<LambdaCallback>();
    recorder->epoch_end = [&](int, const Logs&) { per_epoch.push_back(flat(model)); };
    ScratchDir dir;
    const std::string best = (dir.path / "best.h5").string();
    ModelCheckpoint::Options keep;
    keep.save_best_only = true;
    keep.save_weights_only = true;
    auto checkpoint = std::make_shared<ModelCheckpoint>(best, keep);
    EarlyStopping::Options stop;
    stop.patience = 2;
    stop.restore_best_weights = true;
    auto stopper = std::make_shared<EarlyStopping>(stop);
    FitOptions options = quiet(10, 64);
    options.shuffle = false;
    options.validation_data = ValidationData(x, y);
    options.callbacks = {recorder, checkpoint, stopper};
    History h = model.fit(x, y, options);

    BOOST_TEST_REQUIRE(h.history["val_loss"].size() == 3u);
    BOOST_TEST(h.history["val_loss"][1] > h.history["val_loss"][0]);
    BOOST_TEST(h.history["val_loss"][2] > h.history["val_loss"][1]);
    BOOST_TEST(stopper->stopped_epoch() == 2);
    BOOST_TEST_REQUIRE(per_epoch.size() == 3u);
    BOOST_TEST(per_epoch[2] != per_epoch[0]);
    // Restored: the first epoch's weights, not the last's.
    BOOST_TEST(flat(model) == per_epoch[0], boost::test_tools::per_element());
    // Saved once, at the best epoch: the file holds the first epoch's weights.
    Sequential saved = make();
    load_weights(saved, best);
    BOOST_TEST(flat(saved) == per_epoch[0], boost::test_tools::per_element());
}

BOOST_AUTO_TEST_SUITE_END()
