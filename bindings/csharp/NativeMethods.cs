// NativeMethods.cs: the C ABI of libvidgen_rt (native/include/vidgen_rt.h) as P/Invoke declarations.
//
// Every type, field, constant and function is spelled exactly as in vidgen_rt.h, so the header is
// this file's documentation and tests/test_csharp.py can check each struct's size and field offsets
// against the C compiler's. Strings cross as UTF-8 bytes (byte[] in, IntPtr out) rather than
// through the marshaller's "ANSI" strings, which are UTF-8 on Mono/Linux but a code page on Windows.
// Pointers to caller memory are IntPtr: the safe layer (VidgenRt.cs) pins the arrays behind them.
// The library is found as "vidgen_rt": libvidgen_rt.so on Linux (LD_LIBRARY_PATH, a dllmap entry,
// or Unity's Plugins folder), vidgen_rt.dll on Windows, libvidgen_rt.dylib on macOS.
using System;
using System.Runtime.InteropServices;

namespace VidgenRt.Native
{
    public enum vgrt_status
    {
        VGRT_OK = 0,
        VGRT_ERROR_INVALID_ARGUMENT = -1,
        VGRT_ERROR_INVALID_HANDLE = -2,
        VGRT_ERROR_BUNDLE = -3,
        VGRT_ERROR_BACKEND = -4,
        VGRT_ERROR_UNSUPPORTED = -5,
        VGRT_ERROR_STATE = -6,
        VGRT_ERROR_ABI_MISMATCH = -7,
        VGRT_ERROR_OUT_OF_MEMORY = -8,
        VGRT_ERROR_INTERNAL = -9,
    }

    public enum vgrt_log_level
    {
        VGRT_LOG_DEBUG = 0,
        VGRT_LOG_INFO = 1,
        VGRT_LOG_WARNING = 2,
        VGRT_LOG_ERROR = 3,
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct vgrt_frame
    {
        public ulong index;
        public int batch;
        public int height;
        public int width;
        public int channels;
        public IntPtr rgba;       // const uint8_t*: batch * height * width * 4 bytes, rows top-down
        public UIntPtr rgba_size;
        public IntPtr actions;    // const int64_t*: batch actions
    }

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    public delegate void vgrt_log_fn(int level, IntPtr message, IntPtr user_data);

    [StructLayout(LayoutKind.Sequential)]
    public struct vgrt_model_options
    {
        public uint struct_size;
        public uint abi_version;
        public IntPtr backend;          // const char*
        public IntPtr provider;         // const char*
        public IntPtr ort_library;      // const char*
        public IntPtr ort_search_dir;   // const char*
        public int intra_op_threads;
        public int allow_spinning;
        public int device_id;
        public int verify_checksums;
        public IntPtr compute_precision;   // const char*: "" (the bundle's) or "bf16"
        public IntPtr openvino_library;    // const char*
        public IntPtr openvino_search_dir; // const char*
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct vgrt_postprocess
    {
        public uint struct_size;
        public uint abi_version;
        public float brightness;
        public float contrast;
        public float gamma;
        public float sharpen;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct vgrt_model_info
    {
        public uint struct_size;
        public uint abi_version;
        [MarshalAs(UnmanagedType.ByValArray, SizeConst = Abi.VGRT_NAME_CAPACITY)]
        public byte[] name;
        [MarshalAs(UnmanagedType.ByValArray, SizeConst = 16)]
        public byte[] precision;
        [MarshalAs(UnmanagedType.ByValArray, SizeConst = 16)]
        public byte[] backend;
        public int height;
        public int width;
        public int action_count;
        public int default_action;
        public int cond_dim;
        public int guide_channels;
        public int context_frames;
        public int window;
        public int batch_size_count;
        [MarshalAs(UnmanagedType.ByValArray, SizeConst = Abi.VGRT_MAX_BATCH_SIZES)]
        public int[] batch_sizes;
        public vgrt_postprocess postprocess;
        [MarshalAs(UnmanagedType.ByValArray, SizeConst = 16)]
        public byte[] head;
        public int sampling_steps;
        public int max_sampling_steps;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct vgrt_conditions
    {
        public IntPtr cond;          // const float*: [batch, cond_dim] or NULL
        public UIntPtr cond_count;
        public IntPtr guide;         // const float*: [batch, guide_channels, height, width] or NULL
        public UIntPtr guide_count;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct vgrt_context
    {
        public IntPtr frames;        // const uint8_t*: RGB [K, H, W, 3] or [B, K, H, W, 3]
        public UIntPtr frames_size;
        public UIntPtr frame_count;
        public int per_player;
        public IntPtr actions;       // const int64_t*: [K-1] or [B, K-1]
        public UIntPtr action_count;
        public IntPtr cond;          // const float*
        public UIntPtr cond_count;
        public IntPtr guide;         // const float*
        public UIntPtr guide_count;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct vgrt_stream_options
    {
        public uint struct_size;
        public uint abi_version;
        public int batch;
        public IntPtr context;       // const vgrt_context*, NULL: the bundle's context
        public ulong seed;
        public float temperature;
        public int sampling_steps;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct vgrt_latency
    {
        public double mean_ms, p50_ms, p90_ms, p99_ms, max_ms;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct vgrt_stats
    {
        public uint struct_size;
        public uint abi_version;
        public ulong frames;
        public ulong dropped_frames;
        public uint window;
        public double fps;
        public vgrt_latency step;
        public vgrt_latency decode;
        public vgrt_latency total;
    }

    public static class Abi
    {
        public const int VGRT_ABI_VERSION = 5;
        public const int VGRT_MAX_BATCH_SIZES = 16;
        public const int VGRT_NAME_CAPACITY = 64;
    }

    public static class NativeMethods
    {
        public const string Library = "vidgen_rt";
        private const CallingConvention Cdecl = CallingConvention.Cdecl;

        // ---- library ----
        [DllImport(Library, CallingConvention = Cdecl)] public static extern IntPtr vgrt_version();
        [DllImport(Library, CallingConvention = Cdecl)] public static extern int vgrt_abi_version();
        [DllImport(Library, CallingConvention = Cdecl)] public static extern IntPtr vgrt_last_error();
        [DllImport(Library, CallingConvention = Cdecl)] public static extern IntPtr vgrt_status_string(int status);
        [DllImport(Library, CallingConvention = Cdecl)]
        public static extern int vgrt_set_log_callback(vgrt_log_fn callback, IntPtr user_data, int min_level);
        [DllImport(Library, CallingConvention = Cdecl)]
        public static extern int vgrt_noise_bits(ulong seed, ulong draw, [Out] int[] @out, UIntPtr count);

        [DllImport(Library, CallingConvention = Cdecl)]
        public static extern int vgrt_model_options_init(ref vgrt_model_options @out, uint abi_version, uint struct_size);
        [DllImport(Library, CallingConvention = Cdecl)]
        public static extern int vgrt_stream_options_init(ref vgrt_stream_options @out, uint abi_version, uint struct_size);
        [DllImport(Library, CallingConvention = Cdecl)]
        public static extern int vgrt_postprocess_init(ref vgrt_postprocess @out, uint abi_version, uint struct_size);
        [DllImport(Library, CallingConvention = Cdecl)]
        public static extern int vgrt_model_info_init(ref vgrt_model_info @out, uint abi_version, uint struct_size);
        [DllImport(Library, CallingConvention = Cdecl)]
        public static extern int vgrt_stats_init(ref vgrt_stats @out, uint abi_version, uint struct_size);

        // ---- bundle ----
        [DllImport(Library, CallingConvention = Cdecl)]
        public static extern int vgrt_bundle_check(byte[] bundle_path, int verify_checksums, out IntPtr out_manifest);
        [DllImport(Library, CallingConvention = Cdecl)]
        public static extern int vgrt_bundle_check_memory(IntPtr data, UIntPtr size, int verify_checksums, out IntPtr out_manifest);

        // ---- model ----
        [DllImport(Library, CallingConvention = Cdecl)]
        public static extern int vgrt_model_create(byte[] bundle_path, ref vgrt_model_options options, out IntPtr out_model);
        [DllImport(Library, CallingConvention = Cdecl)]
        public static extern int vgrt_model_open_memory(IntPtr data, UIntPtr size, ref vgrt_model_options options, out IntPtr out_model);
        [DllImport(Library, CallingConvention = Cdecl)] public static extern int vgrt_model_destroy(IntPtr model);
        [DllImport(Library, CallingConvention = Cdecl)]
        public static extern int vgrt_model_get_info(IntPtr model, ref vgrt_model_info out_info);
        [DllImport(Library, CallingConvention = Cdecl)]
        public static extern int vgrt_model_get_action(IntPtr model, int index, out IntPtr out_name, out IntPtr out_keys);
        [DllImport(Library, CallingConvention = Cdecl)]
        public static extern int vgrt_model_get_backend_library(IntPtr model, out IntPtr out_path);
        [DllImport(Library, CallingConvention = Cdecl)]
        public static extern int vgrt_model_get_manifest(IntPtr model, out IntPtr out_text);

        // ---- stream ----
        [DllImport(Library, CallingConvention = Cdecl)]
        public static extern int vgrt_stream_open(IntPtr model, ref vgrt_stream_options options, out IntPtr out_stream);
        [DllImport(Library, CallingConvention = Cdecl)] public static extern int vgrt_stream_close(IntPtr stream);
        [DllImport(Library, CallingConvention = Cdecl)]
        public static extern int vgrt_stream_reset(IntPtr stream, IntPtr context);  // const vgrt_context* or NULL
        [DllImport(Library, CallingConvention = Cdecl)]
        public static extern int vgrt_stream_step(IntPtr stream, long[] actions, UIntPtr action_count,
                                                  IntPtr conditions, IntPtr rgba, UIntPtr rgba_size);
        [DllImport(Library, CallingConvention = Cdecl)]
        public static extern int vgrt_stream_step_acquire(IntPtr stream, long[] actions, UIntPtr action_count,
                                                          IntPtr conditions, out IntPtr out_frame);
        [DllImport(Library, CallingConvention = Cdecl)] public static extern int vgrt_frame_release(IntPtr frame);

        [DllImport(Library, CallingConvention = Cdecl)] public static extern int vgrt_stream_start(IntPtr stream, double fps);
        [DllImport(Library, CallingConvention = Cdecl)] public static extern int vgrt_stream_stop(IntPtr stream);
        [DllImport(Library, CallingConvention = Cdecl)]
        public static extern int vgrt_stream_is_running(IntPtr stream, out int out_running);
        [DllImport(Library, CallingConvention = Cdecl)]
        public static extern int vgrt_stream_push_action(IntPtr stream, long[] actions, UIntPtr action_count);
        [DllImport(Library, CallingConvention = Cdecl)]
        public static extern int vgrt_stream_set_conditions(IntPtr stream, IntPtr conditions);
        [DllImport(Library, CallingConvention = Cdecl)]
        public static extern int vgrt_stream_acquire_latest(IntPtr stream, out IntPtr out_frame);
        [DllImport(Library, CallingConvention = Cdecl)]
        public static extern int vgrt_stream_wait_frame(IntPtr stream, int timeout_ms, out IntPtr out_frame);
        [DllImport(Library, CallingConvention = Cdecl)]
        public static extern int vgrt_stream_set_sampling(IntPtr stream, ulong seed, float temperature, int sampling_steps);
        [DllImport(Library, CallingConvention = Cdecl)]
        public static extern int vgrt_stream_get_sampling(IntPtr stream, out ulong out_seed, out float out_temperature,
                                                          out int out_sampling_steps);

        // ---- snapshots, post-processing, stats ----
        [DllImport(Library, CallingConvention = Cdecl)]
        public static extern int vgrt_stream_snapshot(IntPtr stream, out IntPtr out_snapshot);
        [DllImport(Library, CallingConvention = Cdecl)] public static extern int vgrt_stream_restore(IntPtr stream, IntPtr snapshot);
        [DllImport(Library, CallingConvention = Cdecl)] public static extern int vgrt_snapshot_destroy(IntPtr snapshot);
        [DllImport(Library, CallingConvention = Cdecl)]
        public static extern int vgrt_stream_set_postprocess(IntPtr stream, ref vgrt_postprocess postprocess);
        [DllImport(Library, CallingConvention = Cdecl)]
        public static extern int vgrt_stream_get_postprocess(IntPtr stream, ref vgrt_postprocess @out);
        [DllImport(Library, CallingConvention = Cdecl)]
        public static extern int vgrt_stream_get_stats(IntPtr stream, ref vgrt_stats out_stats);
        [DllImport(Library, CallingConvention = Cdecl)]
        public static extern int vgrt_stream_get_batch(IntPtr stream, out int out_batch);

        // ---- struct defaults, stamped with this file's ABI: the header's static inline *_default() ----
        // The stamp is this declaration's version and marshalled size, so a library of another ABI
        // refuses these structs (VGRT_ERROR_ABI_MISMATCH) instead of misreading them.
        public static vgrt_model_options vgrt_model_options_default()
        {
            return Initialised(new vgrt_model_options { struct_size = SizeOf<vgrt_model_options>(), abi_version = Abi.VGRT_ABI_VERSION },
                               vgrt_model_options_init);
        }

        public static vgrt_stream_options vgrt_stream_options_default()
        {
            return Initialised(new vgrt_stream_options { struct_size = SizeOf<vgrt_stream_options>(), abi_version = Abi.VGRT_ABI_VERSION },
                               vgrt_stream_options_init);
        }

        public static vgrt_postprocess vgrt_postprocess_default()
        {
            return Initialised(new vgrt_postprocess { struct_size = SizeOf<vgrt_postprocess>(), abi_version = Abi.VGRT_ABI_VERSION },
                               vgrt_postprocess_init);
        }

        public static vgrt_model_info vgrt_model_info_default()
        {
            return Initialised(new vgrt_model_info
            {
                struct_size = SizeOf<vgrt_model_info>(), abi_version = Abi.VGRT_ABI_VERSION,
                name = new byte[Abi.VGRT_NAME_CAPACITY], precision = new byte[16], backend = new byte[16],
                batch_sizes = new int[Abi.VGRT_MAX_BATCH_SIZES], head = new byte[16],
            }, vgrt_model_info_init);
        }

        public static vgrt_stats vgrt_stats_default()
        {
            return Initialised(new vgrt_stats { struct_size = SizeOf<vgrt_stats>(), abi_version = Abi.VGRT_ABI_VERSION },
                               vgrt_stats_init);
        }

        private delegate int Init<T>(ref T value, uint abi_version, uint struct_size);

        // As in C, a refused init leaves the stamped struct as it was: the next call taking it names the mismatch.
        private static T Initialised<T>(T value, Init<T> init)
        {
            init(ref value, Abi.VGRT_ABI_VERSION, SizeOf<T>());
            return value;
        }

        private static uint SizeOf<T>()
        {
            return (uint)Marshal.SizeOf(typeof(T));
        }
    }
}
