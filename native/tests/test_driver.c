/* test_driver: the native tests of libvidgen_rt through its C ABI, for the sanitizer builds
 * (`make test-sanitize`: ASan + UBSan, TSan) and for tests/test_c_abi.py. It exercises bad input
 * (missing and corrupt bundles, NULL and destroyed handles, double destroy, out-of-range actions,
 * wrong buffer sizes, ABI mismatches), synchronous steps, snapshot/restore, the sampling options
 * (Philox's known answer, defaults, bad values, determinism, replay), and asynchronous
 * start/stop/close cycles with a second thread pushing actions, changing the sampling options and
 * taking frames.
 *
 *   vgrt_test_driver BUNDLE.vgrt [all|sync|async] [CYCLES=100]
 *
 * Prints one line per check that fails and exits 1 if any did; 0 otherwise.
 */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "expect.h"
#include "vidgen_rt.h"

static void sleep_us(long us) {
    struct timespec t;
    t.tv_sec = us / 1000000;
    t.tv_nsec = (us % 1000000) * 1000;
    nanosleep(&t, NULL);
}

static void write_file(const char* path, const char* text) {
    FILE* f = fopen(path, "w");
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

static void test_bad_bundles(void) {
    vgrt_model* model = (vgrt_model*)1;
    char dir[] = "/tmp/vgrt_bad_bundleXXXXXX";
    char manifest[256];
    vgrt_model_options options = vgrt_model_options_default();

    EXPECT_ERROR(vgrt_model_create("/nonexistent/bundle.vgrt", NULL, &model), VGRT_ERROR_BUNDLE);
    EXPECT(model == NULL, "out_model cleared on failure");
    EXPECT_ERROR(vgrt_model_create(NULL, NULL, &model), VGRT_ERROR_INVALID_ARGUMENT);
    EXPECT_ERROR(vgrt_model_create("/tmp", NULL, NULL), VGRT_ERROR_INVALID_ARGUMENT);
    if (!mkdtemp(dir)) return;
    EXPECT_ERROR(vgrt_model_create(dir, NULL, &model), VGRT_ERROR_BUNDLE); /* no manifest.json */
    snprintf(manifest, sizeof manifest, "%s/manifest.json", dir);
    write_file(manifest, "{\"format\": \"vidgen_rt.bundle\", \"format_version\": 3, [");
    EXPECT_ERROR(vgrt_model_create(dir, NULL, &model), VGRT_ERROR_BUNDLE); /* not JSON */
    write_file(manifest, "{\"format\": \"vidgen_rt.bundle\", \"format_version\": 3, \"precision\": \"fp32\"}");
    EXPECT_ERROR(vgrt_model_create(dir, NULL, &model), VGRT_ERROR_BUNDLE); /* fields missing */
    write_file(manifest, "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]");
    EXPECT_ERROR(vgrt_model_create(dir, NULL, &model), VGRT_ERROR_BUNDLE); /* too deep */
    unlink(manifest);
    rmdir(dir);
    options.struct_size = 8;
    EXPECT_ERROR(vgrt_model_create("/tmp", &options, &model), VGRT_ERROR_ABI_MISMATCH);
    options = vgrt_model_options_default();
    options.backend = "nonsense";
    EXPECT_ERROR(vgrt_model_create("/nonexistent", &options, &model), VGRT_ERROR_BUNDLE);
    options = vgrt_model_options_default();
    options.verify_checksums = 2;
    EXPECT_ERROR(vgrt_model_create("/tmp", &options, &model), VGRT_ERROR_INVALID_ARGUMENT);
}

/* The validator on its own: the manifest text it accepted, and its argument checks. */
static void test_bundle_check(const char* bundle) {
    const char* manifest = (const char*)1;
    EXPECT_ERROR(vgrt_bundle_check(NULL, 1, &manifest), VGRT_ERROR_INVALID_ARGUMENT);
    EXPECT(manifest == NULL, "out_manifest cleared on failure");
    EXPECT_ERROR(vgrt_bundle_check(bundle, 2, NULL), VGRT_ERROR_INVALID_ARGUMENT);
    EXPECT_ERROR(vgrt_bundle_check("/nonexistent/bundle.vgrt", 1, &manifest), VGRT_ERROR_BUNDLE);
    EXPECT_STATUS(vgrt_bundle_check(bundle, 0, NULL), VGRT_OK);
    EXPECT_STATUS(vgrt_bundle_check(bundle, 1, &manifest), VGRT_OK);
    EXPECT(manifest && strstr(manifest, "\"format_version\": 3"), "the validated manifest text comes back");
}

static void test_null_handles(void) {
    uint8_t rgba[16];
    int64_t action = 0;
    const vgrt_frame* frame = NULL;
    vgrt_snapshot* snapshot = NULL;
    vgrt_stats stats = vgrt_stats_default();
    EXPECT_ERROR(vgrt_model_destroy(NULL), VGRT_ERROR_INVALID_HANDLE);
    EXPECT_ERROR(vgrt_model_destroy((vgrt_model*)0xdeadbeef), VGRT_ERROR_INVALID_HANDLE);
    EXPECT_ERROR(vgrt_stream_close(NULL), VGRT_ERROR_INVALID_HANDLE);
    EXPECT_ERROR(vgrt_stream_step(NULL, &action, 1, NULL, rgba, sizeof rgba), VGRT_ERROR_INVALID_HANDLE);
    EXPECT_ERROR(vgrt_stream_start((vgrt_stream*)0x12345, 0), VGRT_ERROR_INVALID_HANDLE);
    EXPECT_ERROR(vgrt_stream_acquire_latest(NULL, &frame), VGRT_ERROR_INVALID_HANDLE);
    EXPECT_ERROR(vgrt_stream_snapshot(NULL, &snapshot), VGRT_ERROR_INVALID_HANDLE);
    EXPECT_ERROR(vgrt_snapshot_destroy(NULL), VGRT_ERROR_INVALID_HANDLE);
    EXPECT_ERROR(vgrt_stream_get_stats(NULL, &stats), VGRT_ERROR_INVALID_HANDLE);
    EXPECT_ERROR(vgrt_frame_release(NULL), VGRT_ERROR_INVALID_HANDLE);
    EXPECT_ERROR(vgrt_set_log_callback(NULL, NULL, 7), VGRT_ERROR_INVALID_ARGUMENT);
}

static vgrt_model* open_model(const char* bundle) {
    vgrt_model* model = NULL;
    vgrt_model_options options = vgrt_model_options_default();
    options.intra_op_threads = 1;
    EXPECT_STATUS(vgrt_model_create(bundle, &options, &model), VGRT_OK);
    return model;
}

static void test_sync(const char* bundle) {
    vgrt_model* model = open_model(bundle);
    vgrt_model_info info = vgrt_model_info_default();
    vgrt_stream* stream = NULL;
    vgrt_stream_options options = vgrt_stream_options_default();
    vgrt_snapshot* snapshot = NULL;
    vgrt_postprocess post = vgrt_postprocess_default();
    const vgrt_frame* frame = NULL;
    uint8_t *rgba, *recorded;
    size_t size;
    int64_t action = 1, bad = 1000;
    float cond = 0.5f;
    vgrt_conditions conditions = {&cond, 1, NULL, 0};
    int i;

    if (!model) return;
    EXPECT_STATUS(vgrt_model_get_info(model, &info), VGRT_OK);
    size = (size_t)info.height * (size_t)info.width * 4;
    rgba = (uint8_t*)malloc(size);
    recorded = (uint8_t*)malloc(size * 10);
    options.batch = 3;
    EXPECT_ERROR(vgrt_stream_open(model, &options, &stream), VGRT_ERROR_UNSUPPORTED);
    EXPECT_STATUS(vgrt_stream_open(model, NULL, &stream), VGRT_OK);

    EXPECT_STATUS(vgrt_stream_acquire_latest(stream, &frame), VGRT_OK);
    EXPECT(frame && frame->index == 0, "the context's last frame waits after open");
    EXPECT_STATUS(vgrt_frame_release(frame), VGRT_OK);
    EXPECT_ERROR(vgrt_frame_release(frame), VGRT_ERROR_INVALID_HANDLE);

    EXPECT_ERROR(vgrt_stream_step(stream, &bad, 1, NULL, rgba, size), VGRT_ERROR_INVALID_ARGUMENT);
    action = -1;
    EXPECT_ERROR(vgrt_stream_step(stream, &action, 1, NULL, rgba, size), VGRT_ERROR_INVALID_ARGUMENT);
    action = 1;
    EXPECT_ERROR(vgrt_stream_step(stream, &action, 2, NULL, rgba, size), VGRT_ERROR_INVALID_ARGUMENT);
    EXPECT_ERROR(vgrt_stream_step(stream, NULL, 1, NULL, rgba, size), VGRT_ERROR_INVALID_ARGUMENT);
    EXPECT_ERROR(vgrt_stream_step(stream, &action, 1, NULL, rgba, size - 1), VGRT_ERROR_INVALID_ARGUMENT);
    EXPECT_ERROR(vgrt_stream_step(stream, &action, 1, NULL, NULL, size), VGRT_ERROR_INVALID_ARGUMENT);
    if (info.cond_dim == 0)
        EXPECT_ERROR(vgrt_stream_step(stream, &action, 1, &conditions, rgba, size), VGRT_ERROR_INVALID_ARGUMENT);
    EXPECT_ERROR(vgrt_stream_push_action(stream, &bad, 1), VGRT_ERROR_INVALID_ARGUMENT);
    post.gamma = 0.0f;
    EXPECT_ERROR(vgrt_stream_set_postprocess(stream, &post), VGRT_ERROR_INVALID_ARGUMENT);
    post = vgrt_postprocess_default();
    post.abi_version = 99;
    EXPECT_ERROR(vgrt_stream_set_postprocess(stream, &post), VGRT_ERROR_ABI_MISMATCH);

    for (i = 0; i < 5; ++i) EXPECT_STATUS(vgrt_stream_step(stream, &action, 1, NULL, rgba, size), VGRT_OK);
    EXPECT_STATUS(vgrt_stream_snapshot(stream, &snapshot), VGRT_OK);
    for (i = 0; i < 10; ++i) {
        action = i % info.action_count;
        EXPECT_STATUS(vgrt_stream_step(stream, &action, 1, NULL, recorded + (size_t)i * size, size), VGRT_OK);
    }
    EXPECT_STATUS(vgrt_stream_restore(stream, snapshot), VGRT_OK);
    for (i = 0; i < 10; ++i) {
        action = i % info.action_count;
        EXPECT_STATUS(vgrt_stream_step_acquire(stream, &action, 1, NULL, &frame), VGRT_OK);
        if (!frame) continue;
        EXPECT(frame->index == (uint64_t)(6 + i), "frame index after restore");
        EXPECT(memcmp(frame->rgba, recorded + (size_t)i * size, size) == 0, "restore replays identical frames");
        EXPECT_STATUS(vgrt_frame_release(frame), VGRT_OK);
    }
    EXPECT_STATUS(vgrt_snapshot_destroy(snapshot), VGRT_OK);
    EXPECT_ERROR(vgrt_snapshot_destroy(snapshot), VGRT_ERROR_INVALID_HANDLE);
    EXPECT_ERROR(vgrt_stream_restore(stream, snapshot), VGRT_ERROR_INVALID_HANDLE);

    /* A held frame outlives its stream and model. */
    EXPECT_STATUS(vgrt_stream_step_acquire(stream, &action, 1, NULL, &frame), VGRT_OK);
    EXPECT_STATUS(vgrt_model_destroy(model), VGRT_OK);
    EXPECT_ERROR(vgrt_model_destroy(model), VGRT_ERROR_INVALID_HANDLE);
    EXPECT_STATUS(vgrt_stream_step(stream, &action, 1, NULL, rgba, size), VGRT_OK);
    EXPECT_STATUS(vgrt_stream_close(stream), VGRT_OK);
    EXPECT_ERROR(vgrt_stream_close(stream), VGRT_ERROR_INVALID_HANDLE);
    EXPECT_ERROR(vgrt_stream_step(stream, &action, 1, NULL, rgba, size), VGRT_ERROR_INVALID_HANDLE);
    if (frame) {
        EXPECT(frame->rgba_size == size && frame->rgba[3] == frame->rgba[3], "a held frame stays readable");
        EXPECT_STATUS(vgrt_frame_release(frame), VGRT_OK);
    }
    free(rgba);
    free(recorded);
}

/* Steps `count` frames of one player into `out` (count * size bytes). */
static void play(vgrt_stream* stream, int action_count, uint8_t* out, size_t size, int count) {
    int i;
    int64_t action;
    for (i = 0; i < count; ++i) {
        action = (i * 7 + 3) % action_count;
        EXPECT_STATUS(vgrt_stream_step(stream, &action, 1, NULL, out + (size_t)i * size, size), VGRT_OK);
    }
}

static void test_sampling(const char* bundle) {
    enum { FRAMES = 8 };
    static const int32_t zero_key[4] = {0x6627e8, 0xe169c5, 0xbc57ac, 0x9b00db}; /* Random123, >> 8 */
    vgrt_model* model = open_model(bundle);
    vgrt_model_info info = vgrt_model_info_default();
    vgrt_stream_options options = vgrt_stream_options_default();
    vgrt_stream *a = NULL, *b = NULL;
    vgrt_snapshot* snapshot = NULL;
    int32_t bits[6], steps = 0;
    uint64_t seed = 0;
    float temperature = 0.0f;
    uint8_t *first, *second;
    size_t size;
    int flow;

    EXPECT_STATUS(vgrt_noise_bits(0, 0, bits, 6), VGRT_OK);
    EXPECT(memcmp(bits, zero_key, sizeof zero_key) == 0, "philox4x32-10 known answer (counter = key = 0)");
    EXPECT(bits[4] >= 0 && bits[4] < (1 << 24) && bits[5] >= 0 && bits[5] < (1 << 24), "24-bit values");
    EXPECT_ERROR(vgrt_noise_bits(0, 0, NULL, 4), VGRT_ERROR_INVALID_ARGUMENT);
    EXPECT(options.seed == 0 && options.temperature == 1.0f && options.sampling_steps == 0, "sampling defaults");
    if (!model) return;
    EXPECT_STATUS(vgrt_model_get_info(model, &info), VGRT_OK);
    flow = strcmp(info.head, "mse") != 0;
    EXPECT(info.sampling_steps >= 1 && info.sampling_steps <= info.max_sampling_steps, "the bundle's K in range");
    size = (size_t)info.height * (size_t)info.width * 4;
    first = (uint8_t*)malloc(size * FRAMES);
    second = (uint8_t*)malloc(size * FRAMES);

    options.temperature = -0.5f;
    EXPECT_ERROR(vgrt_stream_open(model, &options, &a), VGRT_ERROR_INVALID_ARGUMENT);
    options.temperature = 1.0f;
    options.sampling_steps = info.max_sampling_steps + 1;
    EXPECT_ERROR(vgrt_stream_open(model, &options, &a), VGRT_ERROR_INVALID_ARGUMENT);
    EXPECT(a == NULL, "no stream from bad sampling options");
    options.sampling_steps = 0;
    options.seed = 5;
    EXPECT_STATUS(vgrt_stream_open(model, &options, &a), VGRT_OK);
    EXPECT_STATUS(vgrt_stream_open(model, &options, &b), VGRT_OK);
    EXPECT_STATUS(vgrt_stream_get_sampling(a, &seed, &temperature, &steps), VGRT_OK);
    EXPECT(seed == 5 && temperature == 1.0f && steps == info.sampling_steps, "options as opened, K resolved");
    EXPECT_ERROR(vgrt_stream_set_sampling(a, 1, 5.0f, 0), VGRT_ERROR_INVALID_ARGUMENT);
    EXPECT_ERROR(vgrt_stream_set_sampling(a, 1, 1.0f, -1), VGRT_ERROR_INVALID_ARGUMENT);
    EXPECT_STATUS(vgrt_stream_get_sampling(a, &seed, NULL, NULL), VGRT_OK);
    EXPECT(seed == 5, "refused options leave the stream's unchanged");

    play(a, info.action_count, first, size, FRAMES);
    play(b, info.action_count, second, size, FRAMES);
    EXPECT(memcmp(first, second, size * FRAMES) == 0, "the same seed gives the same frames");
    EXPECT_STATUS(vgrt_stream_snapshot(a, &snapshot), VGRT_OK);
    play(a, info.action_count, first, size, FRAMES);
    EXPECT_STATUS(vgrt_stream_set_sampling(b, 6, 1.0f, 0), VGRT_OK);
    play(b, info.action_count, second, size, FRAMES);
    EXPECT(flow == (memcmp(first, second, size * FRAMES) != 0), "another seed changes a flow head's frames only");
    EXPECT_STATUS(vgrt_stream_set_sampling(a, 6, 0.5f, 1), VGRT_OK);
    EXPECT_STATUS(vgrt_stream_restore(a, snapshot), VGRT_OK);
    play(a, info.action_count, second, size, FRAMES);
    EXPECT(memcmp(first, second, size * FRAMES) == 0, "restore replays the noise and the sampling options");
    EXPECT_STATUS(vgrt_snapshot_destroy(snapshot), VGRT_OK);
    EXPECT_STATUS(vgrt_stream_close(a), VGRT_OK);
    EXPECT_STATUS(vgrt_stream_close(b), VGRT_OK);
    EXPECT_ERROR(vgrt_stream_set_sampling(a, 1, 1.0f, 0), VGRT_ERROR_INVALID_HANDLE);
    EXPECT_STATUS(vgrt_model_destroy(model), VGRT_OK);
    printf("sampling: head %s, K = %d\n", info.head, info.sampling_steps);
    free(first);
    free(second);
}

struct consumer {
    vgrt_stream* stream;
    int action_count;
    volatile int done;
    unsigned long frames;
};

static void* consume(void* arg) {
    struct consumer* c = (struct consumer*)arg;
    uint64_t last = 0;
    int64_t action = 0;
    const vgrt_frame* frame;
    while (!__atomic_load_n(&c->done, __ATOMIC_ACQUIRE)) {
        action = (action + 1) % c->action_count;
        vgrt_stream_push_action(c->stream, &action, 1); /* may report a full queue */
        vgrt_stream_set_sampling(c->stream, (uint64_t)action, 0.5f * (float)(action % 3), 0); /* from the next frame */
        frame = NULL;
        if (vgrt_stream_acquire_latest(c->stream, &frame) == VGRT_OK && frame) {
            if (frame->index != 0 && frame->index <= last) {
                fprintf(stderr, "FAIL: frame %lu after %lu\n", (unsigned long)frame->index, (unsigned long)last);
                ++failures;
            }
            if (frame->index) last = frame->index;
            ++c->frames;
            vgrt_frame_release(frame);
        }
        sleep_us(200);
    }
    return NULL;
}

static void test_async(const char* bundle, int cycles) {
    vgrt_model* model = open_model(bundle);
    vgrt_model_info info = vgrt_model_info_default();
    vgrt_stream* stream = NULL;
    vgrt_stats stats = vgrt_stats_default();
    struct consumer c;
    pthread_t thread;
    uint8_t* rgba;
    size_t size;
    int64_t action = 0;
    int i, running = 0;

    if (!model) return;
    vgrt_model_get_info(model, &info);
    size = (size_t)info.height * (size_t)info.width * 4;
    rgba = (uint8_t*)malloc(size);
    EXPECT_STATUS(vgrt_stream_open(model, NULL, &stream), VGRT_OK);
    EXPECT_ERROR(vgrt_stream_start(stream, -1.0), VGRT_ERROR_INVALID_ARGUMENT);
    EXPECT_STATUS(vgrt_stream_stop(stream), VGRT_OK); /* stopping an idle stream is a no-op */

    c.stream = stream;
    c.action_count = info.action_count;
    c.done = 0;
    c.frames = 0;
    pthread_create(&thread, NULL, consume, &c);
    for (i = 0; i < cycles; ++i) {
        EXPECT_STATUS(vgrt_stream_start(stream, (i % 3) ? 0.0 : 500.0), VGRT_OK);
        EXPECT_STATUS(vgrt_stream_start(stream, 0.0), VGRT_OK); /* already running: new rate */
        EXPECT_STATUS(vgrt_stream_is_running(stream, &running), VGRT_OK);
        EXPECT(running == 1, "running after start");
        EXPECT_ERROR(vgrt_stream_step(stream, &action, 1, NULL, rgba, size), VGRT_ERROR_STATE);
        EXPECT_ERROR(vgrt_stream_reset(stream, NULL), VGRT_ERROR_STATE);
        sleep_us((i % 4) * 500);
        EXPECT_STATUS(vgrt_stream_stop(stream), VGRT_OK);
    }
    __atomic_store_n(&c.done, 1, __ATOMIC_RELEASE);
    pthread_join(thread, NULL);
    EXPECT_STATUS(vgrt_stream_get_stats(stream, &stats), VGRT_OK);
    EXPECT(stats.frames > 0, "the async cycles generated frames");
    EXPECT_STATUS(vgrt_stream_step(stream, &action, 1, NULL, rgba, size), VGRT_OK);

    /* Close and destroy while running, in both orders. */
    EXPECT_STATUS(vgrt_stream_start(stream, 0.0), VGRT_OK);
    sleep_us(2000);
    EXPECT_STATUS(vgrt_model_destroy(model), VGRT_OK);
    EXPECT_STATUS(vgrt_stream_close(stream), VGRT_OK);
    EXPECT_ERROR(vgrt_stream_stop(stream), VGRT_ERROR_INVALID_HANDLE);
    model = open_model(bundle);
    for (i = 0; model && i < cycles / 4 + 1; ++i) {
        EXPECT_STATUS(vgrt_stream_open(model, NULL, &stream), VGRT_OK);
        EXPECT_STATUS(vgrt_stream_start(stream, 0.0), VGRT_OK);
        EXPECT_STATUS(vgrt_stream_close(stream), VGRT_OK);
    }
    if (model) EXPECT_STATUS(vgrt_model_destroy(model), VGRT_OK);
    printf("async: %d start/stop cycles, %lu frames taken, %lu generated\n", cycles, c.frames,
           (unsigned long)stats.frames);
    free(rgba);
}

int main(int argc, char** argv) {
    const char* mode = argc > 2 ? argv[2] : "all";
    int cycles = argc > 3 ? atoi(argv[3]) : 100;
    if (argc < 2) {
        fprintf(stderr, "usage: %s BUNDLE.vgrt [all|sync|async] [CYCLES]\n", argv[0]);
        return 2;
    }
    EXPECT(vgrt_abi_version() == VGRT_ABI_VERSION, "library ABI matches the header");
    if (strcmp(mode, "async") != 0) {
        test_bad_bundles();
        test_null_handles();
        test_bundle_check(argv[1]);
        test_sync(argv[1]);
        test_sampling(argv[1]);
    }
    if (strcmp(mode, "sync") != 0) test_async(argv[1], cycles);
    if (failures) {
        fprintf(stderr, "test_driver: %d check(s) failed\n", failures);
        return 1;
    }
    printf("test_driver: all checks passed (%s)\n", mode);
    return 0;
}
