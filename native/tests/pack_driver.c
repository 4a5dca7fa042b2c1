/* pack_driver: packed bundles through the C ABI, for the sanitizer builds (`make test-sanitize`)
 * and tests/test_packed_bundle.py. A pack opened from memory (the caller's copy freed at once) must
 * play the frames of its bundle directory; then the pack's container is attacked byte by byte:
 * every truncation of the first 16 KiB, growing lengths past it and the pack less one byte, and
 * every one-byte change of the header and the index, must be refused with VGRT_ERROR_BUNDLE, and
 * never read out of bounds, which AddressSanitizer would catch.
 *
 *   vgrt_pack_driver BUNDLE.vgrt BUNDLE.vgrtpack [FRAMES=30]
 *
 * Prints one line per check that fails and exits 1 if any did; 0 otherwise.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expect.h"
#include "vidgen_rt.h"

static unsigned char* read_file(const char* path, size_t* size) {
    FILE* file = fopen(path, "rb");
    unsigned char* data = NULL;
    long length;
    if (!file) return NULL;
    if (fseek(file, 0, SEEK_END) == 0 && (length = ftell(file)) > 0 && fseek(file, 0, SEEK_SET) == 0) {
        data = malloc((size_t)length);
        if (data && fread(data, 1, (size_t)length, file) != (size_t)length) {
            free(data);
            data = NULL;
        }
        *size = (size_t)length;
    }
    fclose(file);
    return data;
}

/* The last of `frames` steps of a batch-1 stream, into rgba (height * width * 4 bytes). */
static int play(vgrt_model* model, int frames, unsigned char* rgba, size_t size) {
    vgrt_stream* stream = NULL;
    int i, status = vgrt_stream_open(model, NULL, &stream);
    for (i = 0; status == VGRT_OK && i < frames; ++i) {
        const int64_t action = (i / 3) % 2;
        status = vgrt_stream_step(stream, &action, 1, NULL, rgba, size);
    }
    vgrt_stream_close(stream);
    return status;
}

static void test_frames(const char* bundle, const unsigned char* pack, size_t pack_size, int frames) {
    vgrt_model_options options = vgrt_model_options_default();
    vgrt_model_info info = vgrt_model_info_default();
    vgrt_model *directory = NULL, *memory = NULL;
    unsigned char* copy = malloc(pack_size);
    unsigned char *a = NULL, *b = NULL;
    size_t size;
    options.intra_op_threads = 1;
    EXPECT(vgrt_model_create(bundle, &options, &directory) == VGRT_OK, "open the bundle directory");
    memcpy(copy, pack, pack_size);
    EXPECT(vgrt_model_open_memory(copy, pack_size, &options, &memory) == VGRT_OK, "open the pack from memory");
    memset(copy, 0, pack_size); /* the model holds its own copy */
    free(copy);
    if (!directory || !memory || vgrt_model_get_info(memory, &info) != VGRT_OK) {
        ++failures;
        vgrt_model_destroy(directory);
        vgrt_model_destroy(memory);
        return;
    }
    size = (size_t)info.height * (size_t)info.width * 4;
    a = malloc(size);
    b = malloc(size);
    EXPECT(play(directory, frames, a, size) == VGRT_OK && play(memory, frames, b, size) == VGRT_OK, "both play");
    EXPECT(memcmp(a, b, size) == 0, "the pack's frames equal the directory's");
    free(a);
    free(b);
    EXPECT(vgrt_model_destroy(directory) == VGRT_OK && vgrt_model_destroy(memory) == VGRT_OK, "destroy both");
}

/* Truncation lengths: every one up to 16 KiB (the header, the index, the first files), then a
 * quarter longer each time, and last the pack less one byte. */
static size_t next_length(size_t length, size_t size) {
    if (length < 16384) return length + 1;
    if (length + length / 4 < size - 1) return length + length / 4;
    return length < size - 1 ? size - 1 : size;
}

static void test_damage(const unsigned char* pack, size_t size) {
    unsigned char* copy = malloc(size);
    size_t length, i, checked = 0, container;
    unsigned long long index_size = 0;
    for (i = 0; i < 8; ++i) index_size |= (unsigned long long)pack[16 + i] << (8 * i);
    container = 64 + (size_t)index_size;
    EXPECT(container < size, "the index fits in the pack");
    for (length = 0; length < size; length = next_length(length, size)) {
        /* A fresh allocation of exactly `length` bytes, so ASan sees any read past its end. */
        unsigned char* truncated = malloc(length ? length : 1);
        memcpy(truncated, pack, length);
        EXPECT(vgrt_bundle_check_memory(truncated, length, 0, NULL) == VGRT_ERROR_BUNDLE, "a truncated pack is refused");
        free(truncated);
        ++checked;
    }
    memcpy(copy, pack, size);
    for (i = 0; i < container && container < size; ++i) {
        copy[i] ^= 0xFF;
        EXPECT(vgrt_bundle_check_memory(copy, size, 0, NULL) == VGRT_ERROR_BUNDLE, "a changed header or index byte");
        copy[i] ^= 0xFF;
        ++checked;
    }
    EXPECT(vgrt_bundle_check_memory(copy, size, 1, NULL) == VGRT_OK, "the undamaged pack passes");
    free(copy);
    printf("pack: %lu damaged packs refused\n", (unsigned long)checked);
}

int main(int argc, char** argv) {
    unsigned char* pack;
    size_t size = 0;
    if (argc < 3) {
        fprintf(stderr, "usage: %s BUNDLE.vgrt BUNDLE.vgrtpack [FRAMES=30]\n", argv[0]);
        return 2;
    }
    pack = read_file(argv[2], &size);
    if (!pack) {
        fprintf(stderr, "pack_driver: cannot read %s\n", argv[2]);
        return 1;
    }
    EXPECT(vgrt_bundle_check(argv[2], 1, NULL) == VGRT_ERROR_BUNDLE &&
               strstr(vgrt_last_error(), "vgrt_model_open_memory") != NULL,
           "the directory loader given a pack's path says how to open it");
    test_frames(argv[1], pack, size, argc > 3 ? atoi(argv[3]) : 30);
    test_damage(pack, size);
    free(pack);
    if (failures) {
        fprintf(stderr, "pack_driver: %d check(s) failed\n", failures);
        return 1;
    }
    printf("pack_driver: all checks passed\n");
    return 0;
}
