/* host.c: a plain-C99 host over vidgen_rt.h, built with `pkg-config --cflags --libs vidgen_rt`.
 * It loads a bundle directory, plays FRAMES steps of a fixed action script, prints an FNV-1a
 * checksum of the last frame and writes that frame's raw RGBA bytes (height x width x 4, rows
 * top-down) when OUT is given.
 *
 *   host BUNDLE.vgrt [FRAMES=60] [OUT.rgba] [THREADS=0]
 *
 * ONNX Runtime needs no setting: libvidgen_rt loads the copy installed beside it (printed). Exit
 * status 0 on success, 1 with vgrt_last_error() on any failure.
 */
#include <stdio.h>
#include <stdlib.h>

#include "vidgen_rt.h"

/* Action of frame i: walk forward, then cycle through every action for 5 frames each. */
static int64_t scripted_action(int frame, int action_count) { return (frame / 5 + 1) % action_count; }

static unsigned long long fnv1a(const uint8_t* data, size_t size) {
    unsigned long long hash = 1469598103934665603ull;
    size_t i;
    for (i = 0; i < size; ++i) hash = (hash ^ data[i]) * 1099511628211ull;
    return hash;
}

static int failed(const char* call, int status) {
    fprintf(stderr, "host: %s: %s (%s)\n", call, vgrt_last_error(), vgrt_status_string(status));
    return 1;
}

int main(int argc, char** argv) {
    const int frames = argc > 2 ? atoi(argv[2]) : 60;
    vgrt_model_options options = vgrt_model_options_default();
    vgrt_model_info info = vgrt_model_info_default();
    vgrt_model* model = NULL;
    vgrt_stream* stream = NULL;
    uint8_t* rgba = NULL;
    const char* ort = NULL;
    size_t size;
    int status, i, code = 1;

    if (argc < 2) {
        fprintf(stderr, "usage: %s BUNDLE.vgrt [FRAMES=60] [OUT.rgba] [THREADS=0]\n", argv[0]);
        return 1;
    }
    options.intra_op_threads = argc > 4 ? atoi(argv[4]) : 0;
    if ((status = vgrt_model_create(argv[1], &options, &model)) != VGRT_OK) return failed("vgrt_model_create", status);
    if ((status = vgrt_model_get_info(model, &info)) != VGRT_OK) {
        code = failed("vgrt_model_get_info", status);
        goto done;
    }
    if ((status = vgrt_stream_open(model, NULL, &stream)) != VGRT_OK) {  /* NULL: batch 1, bundle context */
        code = failed("vgrt_stream_open", status);
        goto done;
    }
    size = (size_t)info.height * (size_t)info.width * 4;
    rgba = malloc(size);
    if (!rgba) goto done;
    for (i = 0; i < frames; ++i) {
        const int64_t action = scripted_action(i, info.action_count);
        if ((status = vgrt_stream_step(stream, &action, 1, NULL, rgba, size)) != VGRT_OK) {
            code = failed("vgrt_stream_step", status);
            goto done;
        }
    }
    if ((status = vgrt_model_get_backend_library(model, &ort)) != VGRT_OK) {
        code = failed("vgrt_model_get_backend_library", status);
        goto done;
    }
    printf("%d frames of %dx%d, last frame checksum %016llx, ONNX Runtime %s\n", frames, info.width, info.height,
           fnv1a(rgba, size), ort);
    if (argc > 3) {
        FILE* out = fopen(argv[3], "wb");
        int written = out && fwrite(rgba, 1, size, out) == size;
        if (out && fclose(out) != 0) written = 0;
        if (!written) {
            fprintf(stderr, "host: cannot write %s\n", argv[3]);
            goto done;
        }
    }
    code = 0;
done:
    free(rgba);
    vgrt_stream_close(stream);
    vgrt_model_destroy(model);
    return code;
}
