/* vidgen_rt.h: the C ABI of the vidgen_rt native runtime (libvidgen_rt.so).
 *
 * A host (game engine, VR compositor, benchmark) loads an exported bundle (NAME.vgrt/) as a model,
 * opens streams on it and steps them: every step takes one action per player and returns the next
 * generated RGBA frame per player. This header is all a host needs; it compiles as C99 and C++.
 *
 * Usage (errors abbreviated; every call returns VGRT_OK or a negative vgrt_status):
 *
 *     vgrt_model_options mo = vgrt_model_options_default();
 *     mo.intra_op_threads = 2;
 *     vgrt_model* model = NULL;
 *     if (vgrt_model_create("maze.vgrt", &mo, &model) != VGRT_OK)
 *         fprintf(stderr, "%s\n", vgrt_last_error());
 *     vgrt_model_info info = vgrt_model_info_default();
 *     vgrt_model_get_info(model, &info);
 *
 *     vgrt_stream_options so = vgrt_stream_options_default();   // batch 1, the bundle's context
 *     so.seed = 7;                                                // a flow head's noise (see below)
 *     vgrt_stream* stream = NULL;
 *     vgrt_stream_open(model, &so, &stream);
 *     size_t size = (size_t)info.height * info.width * 4;        // times batch
 *     uint8_t* rgba = malloc(size);
 *     int64_t action = 1;
 *     for (int i = 0; i < 300; ++i)
 *         vgrt_stream_step(stream, &action, 1, NULL, rgba, size);  // host owns the loop
 *
 *     // or asynchronously: a generation thread, the host picks up the newest frame when it draws
 *     vgrt_stream_start(stream, 60.0);                            // 0 = as fast as possible
 *     vgrt_stream_push_action(stream, &action, 1);
 *     const vgrt_frame* frame = NULL;
 *     vgrt_stream_acquire_latest(stream, &frame);                 // NULL when nothing new
 *     if (frame) { upload(frame->rgba); vgrt_frame_release(frame); }
 *     vgrt_stream_stop(stream);
 *
 *     vgrt_stream_close(stream);
 *     vgrt_model_destroy(model);
 *     free(rgba);
 *
 * Ownership. Handles (vgrt_model, vgrt_stream, vgrt_snapshot) are created and destroyed only by
 * the calls named for them; they are checked on every call, so a destroyed, foreign or NULL handle
 * gives VGRT_ERROR_INVALID_HANDLE, never a crash (double destroy included). A stream keeps its
 * model's weights alive: destroying the model while streams are open is allowed, the memory goes
 * with the last stream. Memory passed in (frames, actions, conditions, output buffers) stays the
 * caller's and is not kept after the call returns. A vgrt_frame is the runtime's: read it until
 * vgrt_frame_release(); frames may outlive their stream. Strings returned by the runtime live as
 * long as the object they describe; vgrt_last_error() holds the message of this thread's most
 * recent failed call (a successful call leaves it unchanged).
 *
 * Thread safety. Every call may come from any thread. A model serves any number of streams from
 * any number of threads. Calls on one stream are serialised inside it; while the stream runs
 * asynchronously (vgrt_stream_start) the host may call push_action, acquire_latest, wait_frame, frame_release,
 * get_stats, set_postprocess, set_sampling, snapshot and restore from any thread, and vgrt_stream_step fails with
 * VGRT_ERROR_STATE. In synchronous mode the runtime starts no thread of its own besides the
 * backend's pool (ONNX Runtime's or OpenVINO's) and never sleeps. vgrt_last_error() is per thread.
 *
 * A packed bundle (NAME.vgrtpack, one file written by `vidgen export --pack`; docs/export.md) opens
 * from memory: vgrt_model_open_memory(bytes, size, &mo, &model). It passes the same validator as a
 * directory; the runtime copies what it keeps, so the caller may free the bytes when it returns.
 *
 * ABI rule. Every struct that carries struct_size and abi_version is stamped by the host, not by
 * the library: the *_default() functions below are static inline, compiled into the host, and they
 * write this header's VGRT_ABI_VERSION and sizeof(struct) before asking the library
 * (vgrt_*_init) to fill in the defaults. The library refuses a struct whose stamp differs from its
 * own with VGRT_ERROR_ABI_MISMATCH and a vgrt_last_error() naming both versions and sizes, so a
 * host compiled against an older (or newer) vidgen_rt.h is refused instead of misreading memory.
 * Always start from the *_default() value and change fields. Hosts without this header (ctypes,
 * C# P/Invoke) call vgrt_*_init() with their own declaration's version and size. NULL options are
 * allowed wherever an options pointer is taken and mean the library's defaults. VGRT_ABI_VERSION
 * changes whenever a struct's layout or a function's signature or meaning changes; the soname
 * (libvidgen_rt.so.N) carries the same N.
 */
#ifndef VIDGEN_RT_H
#define VIDGEN_RT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(_WIN32)
#  if defined(VGRT_BUILDING_LIBRARY)
#    define VGRT_API __declspec(dllexport)
#  else
#    define VGRT_API __declspec(dllimport)
#  endif
#elif defined(__GNUC__)
#  define VGRT_API __attribute__((visibility("default")))
#else
#  define VGRT_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

#define VGRT_ABI_VERSION 5
#define VGRT_MAX_BATCH_SIZES 16
#define VGRT_NAME_CAPACITY 64

typedef enum vgrt_status {
    VGRT_OK = 0,
    VGRT_ERROR_INVALID_ARGUMENT = -1, /* a NULL pointer, a wrong size, an action out of range, NaN */
    VGRT_ERROR_INVALID_HANDLE = -2,   /* NULL, destroyed or never created handle */
    VGRT_ERROR_BUNDLE = -3,           /* missing or corrupt bundle file, manifest field */
    VGRT_ERROR_BACKEND = -4,          /* ONNX Runtime / OpenVINO / TensorRT failed or could not be loaded */
    VGRT_ERROR_UNSUPPORTED = -5,      /* e.g. a provider the loaded library lacks, a batch not exported */
    VGRT_ERROR_STATE = -6,            /* the call does not fit the object's state (step while async) */
    VGRT_ERROR_ABI_MISMATCH = -7,     /* a struct from a header of another ABI version */
    VGRT_ERROR_OUT_OF_MEMORY = -8,
    VGRT_ERROR_INTERNAL = -9
} vgrt_status;

typedef enum vgrt_log_level {
    VGRT_LOG_DEBUG = 0,
    VGRT_LOG_INFO = 1,
    VGRT_LOG_WARNING = 2,
    VGRT_LOG_ERROR = 3
} vgrt_log_level;

typedef struct vgrt_model vgrt_model;       /* a loaded bundle: manifest, backend sessions */
typedef struct vgrt_stream vgrt_stream;     /* B players: KV ring, lags, latents, async state */
typedef struct vgrt_snapshot vgrt_snapshot; /* a stream's saved state, for rewind and branching */

/* A generated frame owned by the runtime; valid until vgrt_frame_release(). */
typedef struct vgrt_frame {
    uint64_t index;          /* 0 = the last context frame after open/reset, then +1 per step */
    int32_t batch;           /* players in the frame */
    int32_t height;
    int32_t width;
    int32_t channels;        /* 4: RGBA */
    const uint8_t* rgba;     /* batch * height * width * 4 bytes, player-major, rows top-down */
    size_t rgba_size;
    const int64_t* actions;  /* the batch actions the step that made it took (index 0: none, -1) */
} vgrt_frame;

typedef void (*vgrt_log_fn)(int level, const char* message, void* user_data);

typedef struct vgrt_model_options {
    uint32_t struct_size;
    uint32_t abi_version;
    const char* backend;          /* "ort" (ONNX Runtime, default), "openvino" (OpenVINO's CPU plugin,
                                     where built with its headers) or "tensorrt" (if built with it) */
    const char* provider;         /* ORT execution provider: "cpu" (default), "cuda", "tensorrt" */
    const char* ort_library;      /* explicit libonnxruntime.so path; else $VGRT_ORT_LIBRARY, else
                                     libonnxruntime.so* beside libvidgen_rt.so (an installed SDK) */
    const char* ort_search_dir;   /* then a directory holding libonnxruntime.so* (the Python layer
                                     passes the onnxruntime wheel's capi/), then the system loader */
    int32_t intra_op_threads;     /* threads per graph; 0: the backend's default (ONNX Runtime: one
                                     per physical core; OpenVINO: its own choice) */
    int32_t allow_spinning;       /* 0 (default): pool threads sleep between runs, as a game sharing
                                     its cores wants; 1: they busy-wait (a benchmark on idle cores) */
    int32_t device_id;            /* GPU for cuda/tensorrt */
    int32_t verify_checksums;     /* 1 (default): check the sha256 of every file the manifest lists
                                     before loading; 0 skips only that rule (every other bundle rule
                                     still applies), for hosts that verified the bundle already */
    const char* compute_precision; /* "" or NULL (default): compute in the bundle's precision; "bf16":
                                     compute in bfloat16 where the backend can (openvino only; the
                                     others refuse it with VGRT_ERROR_UNSUPPORTED) */
    const char* openvino_library; /* explicit libopenvino_c.so path; else $VGRT_OPENVINO_LIBRARY, else
                                     libopenvino_c.so* beside libvidgen_rt.so */
    const char* openvino_search_dir; /* then a directory holding libopenvino_c.so* (the Python layer
                                     passes the openvino wheel's libs/), then the system loader */
} vgrt_model_options;

typedef struct vgrt_postprocess {
    uint32_t struct_size;
    uint32_t abi_version;
    float brightness; /* added to every channel, in units of full scale: 0 = none, range [-1, 1] */
    float contrast;   /* scale around mid-grey: 1 = none */
    float gamma;      /* v' = v^(1/gamma) on [0, 1]: 1 = none, > 1 brightens the shadows */
    float sharpen;    /* unsharp-mask amount over a 3x3 blur: 0 = none, typical 0.5 .. 2 */
} vgrt_postprocess;

typedef struct vgrt_model_info {
    uint32_t struct_size;
    uint32_t abi_version;
    char name[VGRT_NAME_CAPACITY];
    char precision[16];               /* "fp32", "fp16", "int8" */
    char backend[16];                 /* the backend actually in use */
    int32_t height;
    int32_t width;
    int32_t action_count;
    int32_t default_action;
    int32_t cond_dim;                 /* 0: the bundle takes no cond vector */
    int32_t guide_channels;           /* 0: no guide map; else [guide_channels, height, width] */
    int32_t context_frames;           /* frames in the bundle's default context */
    int32_t window;                   /* frames the model sees: cache slots + 1 */
    int32_t batch_size_count;
    int32_t batch_sizes[VGRT_MAX_BATCH_SIZES]; /* exported batch sizes, ascending */
    vgrt_postprocess postprocess;     /* the bundle's defaults */
    char head[16];                    /* the sampling head: "mse", "flow_mlp" or "flow_conv" */
    int32_t sampling_steps;           /* the bundle's default Euler steps K of a flow head */
    int32_t max_sampling_steps;       /* the largest K a stream may choose */
} vgrt_model_info;

typedef struct vgrt_conditions {
    const float* cond;   /* [batch, cond_dim] (per step) or NULL when the bundle has none */
    size_t cond_count;   /* number of floats behind cond */
    const float* guide;  /* [batch, guide_channels, height, width] or NULL */
    size_t guide_count;
} vgrt_conditions;

/* Context frames to start a stream from: K frames and the K-1 actions between them. */
typedef struct vgrt_context {
    const uint8_t* frames;   /* RGB uint8: [K, H, W, 3] shared by all players, or [B, K, H, W, 3] */
    size_t frames_size;      /* bytes behind frames */
    size_t frame_count;      /* K >= 1 */
    int32_t per_player;      /* 0: one context for every player; 1: batch-major arrays */
    const int64_t* actions;  /* [K-1] or [B, K-1] */
    size_t action_count;
    const float* cond;       /* [K-1, cond_dim] or [B, K-1, cond_dim]; required iff cond_dim > 0 */
    size_t cond_count;
    const float* guide;      /* [K-1, G, H, W] or [B, K-1, G, H, W]; required iff guide_channels > 0 */
    size_t guide_count;
} vgrt_context;

/* Sampling (a flow head, manifest head.kind "flow_*"; docs/architecture.md §4): every generated
 * frame draws its noise from Philox4x32-10 keyed by `seed` at the stream's draw index (0 for the
 * first frame after open/reset, +1 per frame; snapshots keep it), scales it by `temperature` and
 * takes `sampling_steps` Euler steps to the next latents. The same seed gives the same frames on
 * every backend; temperature 0 gives the head's deterministic output. An "mse" head accepts these
 * options and ignores them. */
typedef struct vgrt_stream_options {
    uint32_t struct_size;
    uint32_t abi_version;
    int32_t batch;                 /* players; one of the bundle's exported batch sizes (default 1) */
    const vgrt_context* context;   /* NULL: the bundle's default context (manifest context.tensors) */
    uint64_t seed;                 /* the noise generator's key (default 0) */
    float temperature;             /* noise scale, finite, in [0, 4] (default 1) */
    int32_t sampling_steps;        /* Euler steps K in 1..max_sampling_steps; 0 (default): the bundle's */
} vgrt_stream_options;

typedef struct vgrt_latency {
    double mean_ms, p50_ms, p90_ms, p99_ms, max_ms;
} vgrt_latency;

typedef struct vgrt_stats {
    uint32_t struct_size;
    uint32_t abi_version;
    uint64_t frames;          /* steps since the stream opened */
    uint64_t dropped_frames;  /* async frames replaced before the host acquired them */
    uint32_t window;          /* frames the latency figures cover (the newest, at most 1024) */
    double fps;               /* frames per second over that window */
    vgrt_latency step;        /* the backend's step graph (with a flow head: and its noise and K sample runs) */
    vgrt_latency decode;      /* the backend's decode graph */
    vgrt_latency total;       /* the whole vgrt step: inputs, step, cache update, decode, post */
} vgrt_stats;

/* ---- library ------------------------------------------------------------------------------- */
VGRT_API const char* vgrt_version(void);         /* e.g. "0.1.0" */
VGRT_API int vgrt_abi_version(void);              /* VGRT_ABI_VERSION the library was built with */
VGRT_API const char* vgrt_last_error(void);       /* this thread's last error message, or "" */
VGRT_API const char* vgrt_status_string(int status);
/* One process-wide callback for runtime messages (NULL restores the default: warnings to stderr). */
VGRT_API int vgrt_set_log_callback(vgrt_log_fn callback, void* user_data, int min_level);

/* The noise bits a flow-head stream with `seed` draws for the frame with draw index `draw`:
 * Philox4x32-10, key (seed lo, seed hi), block j at counter (draw lo, draw hi, j, 0), its four words
 * in order, each shifted right by 8 (values 0 .. 2^24-1); `count` = batch * 2 * C * h * w. For hosts
 * and tests that reproduce a stream's noise (docs/architecture.md §4). */
VGRT_API int vgrt_noise_bits(uint64_t seed, uint64_t draw, int32_t* out, size_t count);

/* Fill *out with the library's defaults when abi_version and struct_size are this library's
 * VGRT_ABI_VERSION and sizeof the struct; otherwise write nothing and return
 * VGRT_ERROR_ABI_MISMATCH. C and C++ hosts use the *_default() wrappers at the end of this header;
 * hosts that declare the structs in another language pass their declaration's version and size. */
VGRT_API int vgrt_model_options_init(vgrt_model_options* out, uint32_t abi_version, uint32_t struct_size);
VGRT_API int vgrt_stream_options_init(vgrt_stream_options* out, uint32_t abi_version, uint32_t struct_size);
VGRT_API int vgrt_postprocess_init(vgrt_postprocess* out, uint32_t abi_version, uint32_t struct_size);
VGRT_API int vgrt_model_info_init(vgrt_model_info* out, uint32_t abi_version, uint32_t struct_size);
VGRT_API int vgrt_stats_init(vgrt_stats* out, uint32_t abi_version, uint32_t struct_size);

/* ---- bundle -------------------------------------------------------------------------------- */
/* Validates the bundle directory exactly as vgrt_model_create does, without loading a backend:
 * manifest.json and every file it lists are regular files inside the bundle (symlinks leaving it,
 * FIFOs, devices, "..", absolute paths and unlisted files are refused), the sha256 of each (unless
 * verify_checksums is 0), every field consistent with the model config and the cache layout, each
 * graph's ONNX inputs and outputs, and the default context. VGRT_OK or VGRT_ERROR_BUNDLE with the
 * reason in vgrt_last_error(). When out_manifest is not NULL it receives the manifest.json text
 * that was validated (read once); it stays valid until this thread's next vgrt_bundle_check. */
VGRT_API int vgrt_bundle_check(const char* bundle_path, int32_t verify_checksums, const char** out_manifest);
/* The same for a packed bundle (NAME.vgrtpack) held in memory: `size` bytes at `data`, read during
 * the call only. Besides every rule above: the pack's header and file table must be intact
 * (offsets 64-byte aligned, inside the data, not overlapping) and hold exactly manifest.json and
 * the files it lists. Errors name the files "[packed bundle]/NAME". */
VGRT_API int vgrt_bundle_check_memory(const void* data, size_t size, int32_t verify_checksums,
                                      const char** out_manifest);

/* ---- model --------------------------------------------------------------------------------- */
/* Validates the bundle (see vgrt_bundle_check; options->verify_checksums) and loads its graphs. */
VGRT_API int vgrt_model_create(const char* bundle_path, const vgrt_model_options* options,
                               vgrt_model** out_model);
/* A packed bundle from memory (see vgrt_bundle_check_memory), validated the same way; ONNX Runtime
 * builds its sessions from the bytes. The runtime keeps its own copy: `data` may be freed as soon as
 * this returns. The TensorRT backend needs a bundle directory (its engines are files). */
VGRT_API int vgrt_model_open_memory(const void* data, size_t size, const vgrt_model_options* options,
                                    vgrt_model** out_model);
VGRT_API int vgrt_model_destroy(vgrt_model* model);
VGRT_API int vgrt_model_get_info(const vgrt_model* model, vgrt_model_info* out_info);
/* Name and default keys (comma-separated GLFW key names, may be "") of action `index`. */
VGRT_API int vgrt_model_get_action(const vgrt_model* model, int32_t index, const char** out_name,
                                   const char** out_keys);
/* The library behind the backend: the path of the ONNX Runtime or OpenVINO library in use, or
 * TensorRT's name and major version. */
VGRT_API int vgrt_model_get_backend_library(const vgrt_model* model, const char** out_path);
/* The manifest.json text the model was validated from (lives as long as the model). */
VGRT_API int vgrt_model_get_manifest(const vgrt_model* model, const char** out_text);

/* ---- stream -------------------------------------------------------------------------------- */
VGRT_API int vgrt_stream_open(vgrt_model* model, const vgrt_stream_options* options,
                              vgrt_stream** out_stream);
VGRT_API int vgrt_stream_close(vgrt_stream* stream);   /* stops it first if it runs */
/* Start over from a context (NULL: the bundle's). Not while running asynchronously. */
VGRT_API int vgrt_stream_reset(vgrt_stream* stream, const vgrt_context* context);

/* One step: `actions` holds one action per player (count == batch); `conditions` may be NULL when
 * the bundle has none. The post-processed RGBA frames go into `rgba` (rgba_size must be exactly
 * batch * height * width * 4). */
VGRT_API int vgrt_stream_step(vgrt_stream* stream, const int64_t* actions, size_t action_count,
                              const vgrt_conditions* conditions, uint8_t* rgba, size_t rgba_size);
/* The same, into a runtime-owned frame the caller releases (no copy for the host). */
VGRT_API int vgrt_stream_step_acquire(vgrt_stream* stream, const int64_t* actions,
                                      size_t action_count, const vgrt_conditions* conditions,
                                      const vgrt_frame** out_frame);
VGRT_API int vgrt_frame_release(const vgrt_frame* frame);

/* Asynchronous mode: a generation thread steps the stream at `fps` (0: as fast as it can).
 * Actions pushed are queued and taken one per step, in order; with the queue empty a step repeats
 * the previous step's actions. Conditions stay fixed at the last value set. */
VGRT_API int vgrt_stream_start(vgrt_stream* stream, double fps);
VGRT_API int vgrt_stream_stop(vgrt_stream* stream);        /* waits for the thread; no-op if idle */
VGRT_API int vgrt_stream_is_running(const vgrt_stream* stream, int* out_running);
VGRT_API int vgrt_stream_push_action(vgrt_stream* stream, const int64_t* actions, size_t action_count);
VGRT_API int vgrt_stream_set_conditions(vgrt_stream* stream, const vgrt_conditions* conditions);
/* The newest frame not yet acquired, or *out_frame = NULL. A frame replaced before it was acquired
 * counts as dropped. After open/reset the context's last frame (index 0) is waiting here. */
VGRT_API int vgrt_stream_acquire_latest(vgrt_stream* stream, const vgrt_frame** out_frame);
/* As acquire_latest, but waits up to timeout_ms for a frame when none is waiting and the stream
 * runs asynchronously (*out_frame = NULL on timeout, or at once when it is not running). For hosts
 * that consume every frame at the generation rate: recorders, benchmarks, a compositor thread. */
VGRT_API int vgrt_stream_wait_frame(vgrt_stream* stream, int32_t timeout_ms, const vgrt_frame** out_frame);

/* Sampling options (see vgrt_stream_options) for every frame generated from now on; allowed
 * between steps and while the stream runs asynchronously. sampling_steps 0: the bundle's. Bad
 * values: VGRT_ERROR_INVALID_ARGUMENT, and the stream keeps its previous options. The draw index
 * goes on counting: a new seed changes the noise from the next frame, it does not rewind it. */
VGRT_API int vgrt_stream_set_sampling(vgrt_stream* stream, uint64_t seed, float temperature, int32_t sampling_steps);
/* The options in use (sampling_steps resolved: never 0). Any out pointer may be NULL. */
VGRT_API int vgrt_stream_get_sampling(const vgrt_stream* stream, uint64_t* out_seed, float* out_temperature,
                                      int32_t* out_sampling_steps);

/* ---- snapshots, post-processing, stats ---------------------------------------------------- */
/* A snapshot holds the KV ring, latents, frame and draw index and the sampling options, so restoring
 * it and taking the same actions replays the same frames. */
VGRT_API int vgrt_stream_snapshot(vgrt_stream* stream, vgrt_snapshot** out_snapshot);
VGRT_API int vgrt_stream_restore(vgrt_stream* stream, const vgrt_snapshot* snapshot);
VGRT_API int vgrt_snapshot_destroy(vgrt_snapshot* snapshot);
VGRT_API int vgrt_stream_set_postprocess(vgrt_stream* stream, const vgrt_postprocess* postprocess);
VGRT_API int vgrt_stream_get_postprocess(const vgrt_stream* stream, vgrt_postprocess* out);
VGRT_API int vgrt_stream_get_stats(const vgrt_stream* stream, vgrt_stats* out_stats);
VGRT_API int vgrt_stream_get_batch(const vgrt_stream* stream, int32_t* out_batch);

/* ---- struct defaults, stamped with this header's ABI (see "ABI rule" at the top) --------------
 * VGRT_STAMPED_DEFAULT(T) defines `static inline T T_default(void)`: a zeroed T carrying this
 * header's VGRT_ABI_VERSION and sizeof(T), filled by the library's T_init, which refuses (and
 * leaves the defaults unset) when the library was built for another ABI. Defined below:
 * vgrt_model_options_default, vgrt_stream_options_default, vgrt_postprocess_default,
 * vgrt_model_info_default, vgrt_stats_default. */
#define VGRT_STAMPED_DEFAULT(T)                                        \
    static inline T T##_default(void) {                                \
        T value;                                                       \
        memset(&value, 0, sizeof value);                               \
        value.struct_size = (uint32_t)sizeof value;                    \
        value.abi_version = VGRT_ABI_VERSION;                          \
        T##_init(&value, VGRT_ABI_VERSION, (uint32_t)sizeof value);    \
        return value;                                                  \
    }

VGRT_STAMPED_DEFAULT(vgrt_model_options)
VGRT_STAMPED_DEFAULT(vgrt_stream_options)
VGRT_STAMPED_DEFAULT(vgrt_postprocess)
VGRT_STAMPED_DEFAULT(vgrt_model_info)
VGRT_STAMPED_DEFAULT(vgrt_stats)

#ifdef __cplusplus
}
#endif

#endif /* VIDGEN_RT_H */
