/* c_host: a minimal game host in plain C99 over vidgen_rt.h. It loads a bundle, plays a scripted
 * action sequence headlessly (the host owns the loop and steps synchronously), prints the frame
 * rate and writes the last frame as a binary PPM (RGB, alpha dropped).
 *
 *   vgrt_c_host BUNDLE.vgrt [FRAMES=300] [OUT.ppm=last_frame.ppm] [THREADS=0]
 *
 * ONNX Runtime is found through $VGRT_ORT_LIBRARY, beside libvidgen_rt (an installed SDK) or the
 * system loader (a C host has no Python package to search). Exit status 0 on success, 1 with a
 * message on any error.
 */
/* clock_gettime is POSIX, not C99. */
#define _POSIX_C_SOURCE 199309L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vidgen_rt.h"

#define CHECK(call)                                                                        \
    do {                                                                                   \
        int status_ = (call);                                                              \
        if (status_ != VGRT_OK) {                                                          \
            fprintf(stderr, "c_host: %s failed: %s (%s)\n", #call, vgrt_last_error(),      \
                    vgrt_status_string(status_));                                          \
            goto fail;                                                                     \
        }                                                                                  \
    } while (0)

static double seconds(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec * 1e-9;
}

/* Scripted input: hold forward, turn for a while, strafe, repeat (wrapped to the action count). */
static int64_t scripted_action(int frame, int action_count) {
    static const int64_t script[] = {1, 1, 1, 1, 3, 3, 1, 1, 4, 4, 5, 6, 2, 0};
    const int phase = (frame / 10) % (int)(sizeof script / sizeof script[0]);
    return script[phase] % action_count;
}

static int write_ppm(const char* path, const uint8_t* rgba, int width, int height) {
    FILE* file = fopen(path, "wb");
    int i;
    if (!file) return -1;
    fprintf(file, "P6\n%d %d\n255\n", width, height);
    for (i = 0; i < width * height; ++i) fwrite(rgba + 4 * i, 1, 3, file);
    return fclose(file);
}

int main(int argc, char** argv) {
    const char* bundle = argc > 1 ? argv[1] : NULL;
    const int frames = argc > 2 ? atoi(argv[2]) : 300;
    const char* out_path = argc > 3 ? argv[3] : "last_frame.ppm";
    vgrt_model_options model_options = vgrt_model_options_default();
    vgrt_model_info info = vgrt_model_info_default();
    vgrt_stats stats = vgrt_stats_default();
    vgrt_model* model = NULL;
    vgrt_stream* stream = NULL;
    uint8_t* rgba = NULL;
    size_t size;
    double start, elapsed;
    int i;

    if (!bundle || frames < 1) {
        fprintf(stderr, "usage: %s BUNDLE.vgrt [FRAMES=300] [OUT.ppm] [THREADS]\n", argv[0]);
        return 1;
    }
    model_options.intra_op_threads = argc > 4 ? atoi(argv[4]) : 0;
    CHECK(vgrt_model_create(bundle, &model_options, &model));
    CHECK(vgrt_model_get_info(model, &info));
    CHECK(vgrt_stream_open(model, NULL, &stream));
    size = (size_t)info.height * (size_t)info.width * 4;
    rgba = (uint8_t*)malloc(size);
    if (!rgba) goto fail;

    start = seconds();
    for (i = 0; i < frames; ++i) {
        int64_t action = scripted_action(i, info.action_count);
        CHECK(vgrt_stream_step(stream, &action, 1, NULL, rgba, size));
    }
    elapsed = seconds() - start;
    CHECK(vgrt_stream_get_stats(stream, &stats));
    printf("c_host: %s (%dx%d, %d actions): %d frames in %.3f s = %.1f fps; step p50 %.3f ms, "
           "decode p50 %.3f ms, total p99 %.3f ms\n",
           info.name, info.width, info.height, info.action_count, frames, elapsed, frames / elapsed,
           stats.step.p50_ms, stats.decode.p50_ms, stats.total.p99_ms);
    if (write_ppm(out_path, rgba, info.width, info.height) != 0) {
        fprintf(stderr, "c_host: cannot write %s\n", out_path);
        goto fail;
    }
    printf("c_host: wrote %s\n", out_path);
    free(rgba);
    vgrt_stream_close(stream);
    vgrt_model_destroy(model);
    return 0;

fail:
    free(rgba);
    vgrt_stream_close(stream);
    vgrt_model_destroy(model);
    return 1;
}
