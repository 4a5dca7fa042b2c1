// VidgenRt.cs: the safe layer's foundations over NativeMethods.cs: the exception every failed call
// throws (carrying vgrt_last_error()), UTF-8 strings in and out, pinned caller memory, the library
// calls (version, ABI check, bundle check, log callback, noise bits) and the plain value types
// (options, info, post-processing, stats) that Model.cs and Stream.cs hand out.
//
// Defaults come from the library's own vgrt_*_default() functions, so this layer never restates a
// default the C header owns. Thread safety is the C ABI's: any call from any thread; the log
// callback runs on whichever runtime thread logs (see docs/embedding.md, "Threading").
using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using System.Text;
using System.Threading;
using VidgenRt.Native;

namespace VidgenRt
{
    public enum Status
    {
        Ok = 0, InvalidArgument = -1, InvalidHandle = -2, Bundle = -3, Backend = -4, Unsupported = -5,
        State = -6, AbiMismatch = -7, OutOfMemory = -8, Internal = -9,
    }

    public enum LogLevel { Debug = 0, Info = 1, Warning = 2, Error = 3 }

    /// <summary>A failed vgrt_* call: its status and this thread's vgrt_last_error().</summary>
    public sealed class VidgenException : Exception
    {
        public readonly Status Status;

        internal VidgenException(int status, string call, string message)
            : base(call + ": " + message + " (" + Strings.Read(NativeMethods.vgrt_status_string(status)) + ")")
        {
            Status = (Status)status;
        }

        internal static void Check(int status, string call)
        {
            if (status != (int)vgrt_status.VGRT_OK)
                throw new VidgenException(status, call, Strings.Read(NativeMethods.vgrt_last_error()));
        }
    }

    internal static class Strings
    {
        /// <summary>A NUL-terminated UTF-8 copy of `text` (null stays null: a NULL pointer).</summary>
        internal static byte[] Utf8(string text)
        {
            if (text == null) return null;
            byte[] bytes = new byte[Encoding.UTF8.GetByteCount(text) + 1];
            Encoding.UTF8.GetBytes(text, 0, text.Length, bytes, 0);
            return bytes;
        }

        internal static string Read(IntPtr text)
        {
            if (text == IntPtr.Zero) return null;
            int length = 0;
            while (Marshal.ReadByte(text, length) != 0) ++length;
            byte[] bytes = new byte[length];
            Marshal.Copy(text, bytes, 0, length);
            return Encoding.UTF8.GetString(bytes);
        }

        internal static string Read(byte[] field)
        {
            int length = Array.IndexOf(field, (byte)0);
            return Encoding.UTF8.GetString(field, 0, length < 0 ? field.Length : length);
        }
    }

    /// <summary>Arrays pinned for the length of one native call; Dispose unpins them.</summary>
    internal sealed class Pins : IDisposable
    {
        private readonly List<GCHandle> handles = new List<GCHandle>();

        internal IntPtr Pin(Array array)
        {
            if (array == null) return IntPtr.Zero;
            GCHandle handle = GCHandle.Alloc(array, GCHandleType.Pinned);
            handles.Add(handle);
            return handle.AddrOfPinnedObject();
        }

        /// <summary>A copy of `value` in pinned memory, for a `const T*` argument.</summary>
        internal IntPtr Struct<T>(T value) where T : struct
        {
            return Pin(new T[] { value });
        }

        public void Dispose()
        {
            foreach (GCHandle handle in handles) handle.Free();
            handles.Clear();
        }
    }

    /// <summary>A runtime handle released exactly once: by Dispose, or by the finalizer when its owner
    /// forgot (every vgrt_* call may come from any thread, the finalizer's included).</summary>
    public abstract class NativeHandle : IDisposable
    {
        protected IntPtr handle;
        private readonly string kind;

        protected NativeHandle(string kind)
        {
            this.kind = kind;
        }

        internal IntPtr Handle
        {
            get
            {
                if (handle == IntPtr.Zero) throw new ObjectDisposedException(kind);
                return handle;
            }
        }

        /// <summary>The vgrt_*_destroy, _close or _release call of this kind of handle.</summary>
        protected abstract void Release(IntPtr owned);

        public void Dispose()
        {
            Free();
            GC.SuppressFinalize(this);
        }

        ~NativeHandle()
        {
            Free();
        }

        private void Free()
        {
            IntPtr owned = Interlocked.Exchange(ref handle, IntPtr.Zero);
            if (owned != IntPtr.Zero) Release(owned);
        }
    }

    /// <summary>Marks a static method that native code calls (IL2CPP and Xamarin find it by name).</summary>
    [AttributeUsage(AttributeTargets.Method)]
    internal sealed class MonoPInvokeCallbackAttribute : Attribute
    {
        public MonoPInvokeCallbackAttribute(Type type) { }
    }

    public static class Library
    {
        /// <summary>The runtime's version, e.g. "0.1.0".</summary>
        public static string Version { get { return Strings.Read(NativeMethods.vgrt_version()); } }

        /// <summary>VGRT_ABI_VERSION the loaded library was built with.</summary>
        public static int AbiVersion { get { return NativeMethods.vgrt_abi_version(); } }

        /// <summary>Throws unless the loaded library speaks the ABI these declarations were written for.</summary>
        public static void CheckAbi()
        {
            if (AbiVersion != Abi.VGRT_ABI_VERSION)
                throw new InvalidOperationException("libvidgen_rt has ABI " + AbiVersion + ", this binding was written for ABI "
                                                    + Abi.VGRT_ABI_VERSION + ": use the binding from the same release");
        }

        /// <summary>Validates a bundle as Model's constructor does, without loading a backend; returns
        /// the manifest.json text it validated.</summary>
        public static string CheckBundle(string bundlePath, bool verifyChecksums = true)
        {
            IntPtr manifest;
            VidgenException.Check(NativeMethods.vgrt_bundle_check(Strings.Utf8(bundlePath), verifyChecksums ? 1 : 0,
                                                                  out manifest), "vgrt_bundle_check");
            return Strings.Read(manifest);
        }

        /// <summary>The same for a packed bundle (NAME.vgrtpack) held in memory.</summary>
        public static string CheckBundle(byte[] pack, bool verifyChecksums = true)
        {
            IntPtr manifest;
            using (Pins pins = new Pins())
                VidgenException.Check(NativeMethods.vgrt_bundle_check_memory(pins.Pin(pack), (UIntPtr)pack.Length,
                                                                             verifyChecksums ? 1 : 0, out manifest),
                                      "vgrt_bundle_check_memory");
            return Strings.Read(manifest);
        }

        /// <summary>The noise bits a flow-head stream draws for one frame (docs/architecture.md §4).</summary>
        public static int[] NoiseBits(ulong seed, ulong draw, int count)
        {
            int[] bits = new int[count];
            VidgenException.Check(NativeMethods.vgrt_noise_bits(seed, draw, bits, (UIntPtr)count), "vgrt_noise_bits");
            return bits;
        }

        private static readonly vgrt_log_fn nativeCallback = OnLog;  // a field: the GC must never collect it
        private static volatile Action<LogLevel, string> logHandler;

        /// <summary>Runtime messages at `minLevel` and above go to `handler` (null: back to stderr).
        /// The handler runs on the thread that logs (a runtime or ONNX Runtime thread) while the
        /// runtime holds its log lock: keep it short, never call SetLogCallback from it, and in an
        /// engine queue the message for the main thread instead of touching engine objects.</summary>
        public static void SetLogCallback(Action<LogLevel, string> handler, LogLevel minLevel = LogLevel.Warning)
        {
            logHandler = handler;
            VidgenException.Check(NativeMethods.vgrt_set_log_callback(handler == null ? null : nativeCallback,
                                                                      IntPtr.Zero, (int)minLevel), "vgrt_set_log_callback");
        }

        [MonoPInvokeCallback(typeof(vgrt_log_fn))]
        private static void OnLog(int level, IntPtr message, IntPtr userData)
        {
            Action<LogLevel, string> handler = logHandler;
            if (handler != null) handler((LogLevel)level, Strings.Read(message));
        }
    }

    public sealed class ModelOptions
    {
        public string Backend;        // "ort", "openvino" or "tensorrt"
        public string Provider;       // "cpu", "cuda", "tensorrt"
        public string OrtLibrary;     // an explicit libonnxruntime path, or null
        public string OrtSearchDir;   // a directory holding libonnxruntime*, or null
        public int IntraOpThreads;    // 0: the backend's default (ONNX Runtime: one per physical core)
        public bool AllowSpinning;
        public int DeviceId;
        public bool VerifyChecksums;
        public string ComputePrecision;   // "" (the bundle's precision) or "bf16" (backend "openvino")
        public string OpenvinoLibrary;    // an explicit libopenvino_c path, or null
        public string OpenvinoSearchDir;  // a directory holding libopenvino_c*, or null

        public ModelOptions()
        {
            vgrt_model_options d = NativeMethods.vgrt_model_options_default();
            Backend = Strings.Read(d.backend);
            Provider = Strings.Read(d.provider);
            OrtLibrary = Strings.Read(d.ort_library);
            OrtSearchDir = Strings.Read(d.ort_search_dir);
            IntraOpThreads = d.intra_op_threads;
            AllowSpinning = d.allow_spinning != 0;
            DeviceId = d.device_id;
            VerifyChecksums = d.verify_checksums != 0;
            ComputePrecision = Strings.Read(d.compute_precision);
            OpenvinoLibrary = Strings.Read(d.openvino_library);
            OpenvinoSearchDir = Strings.Read(d.openvino_search_dir);
        }

        internal vgrt_model_options ToNative(Pins pins)
        {
            vgrt_model_options o = NativeMethods.vgrt_model_options_default();
            o.backend = pins.Pin(Strings.Utf8(Backend));
            o.provider = pins.Pin(Strings.Utf8(Provider));
            o.ort_library = pins.Pin(Strings.Utf8(OrtLibrary));
            o.ort_search_dir = pins.Pin(Strings.Utf8(OrtSearchDir));
            o.intra_op_threads = IntraOpThreads;
            o.allow_spinning = AllowSpinning ? 1 : 0;
            o.device_id = DeviceId;
            o.verify_checksums = VerifyChecksums ? 1 : 0;
            o.compute_precision = pins.Pin(Strings.Utf8(ComputePrecision));
            o.openvino_library = pins.Pin(Strings.Utf8(OpenvinoLibrary));
            o.openvino_search_dir = pins.Pin(Strings.Utf8(OpenvinoSearchDir));
            return o;
        }
    }

    /// <summary>Post-processing of every frame (identity: 0, 1, 1, 0).</summary>
    public struct Postprocess
    {
        public float Brightness, Contrast, Gamma, Sharpen;

        public static Postprocess Default { get { return From(NativeMethods.vgrt_postprocess_default()); } }

        internal static Postprocess From(vgrt_postprocess p)
        {
            return new Postprocess { Brightness = p.brightness, Contrast = p.contrast, Gamma = p.gamma, Sharpen = p.sharpen };
        }

        internal vgrt_postprocess ToNative()
        {
            vgrt_postprocess p = NativeMethods.vgrt_postprocess_default();
            p.brightness = Brightness;
            p.contrast = Contrast;
            p.gamma = Gamma;
            p.sharpen = Sharpen;
            return p;
        }
    }

    /// <summary>One action of the bundle: its id (what a step takes), name and default keys (GLFW key names).</summary>
    public sealed class ActionInfo
    {
        public int Id;
        public string Name;
        public string[] Keys;
    }

    /// <summary>vgrt_model_info: what a host needs to size its texture and map its input.</summary>
    public sealed class ModelInfo
    {
        public string Name, Precision, Backend, Head;
        public int Height, Width, ActionCount, DefaultAction, CondDim, GuideChannels, ContextFrames, Window;
        public int SamplingSteps, MaxSamplingSteps;
        public int[] BatchSizes;
        public Postprocess Postprocess;

        internal ModelInfo(vgrt_model_info i)
        {
            Name = Strings.Read(i.name);
            Precision = Strings.Read(i.precision);
            Backend = Strings.Read(i.backend);
            Head = Strings.Read(i.head);
            Height = i.height;
            Width = i.width;
            ActionCount = i.action_count;
            DefaultAction = i.default_action;
            CondDim = i.cond_dim;
            GuideChannels = i.guide_channels;
            ContextFrames = i.context_frames;
            Window = i.window;
            SamplingSteps = i.sampling_steps;
            MaxSamplingSteps = i.max_sampling_steps;
            BatchSizes = new int[i.batch_size_count];
            Array.Copy(i.batch_sizes, BatchSizes, i.batch_size_count);
            Postprocess = Postprocess.From(i.postprocess);
        }
    }

    public struct Latency
    {
        public double MeanMs, P50Ms, P90Ms, P99Ms, MaxMs;

        internal Latency(vgrt_latency l)
        {
            MeanMs = l.mean_ms; P50Ms = l.p50_ms; P90Ms = l.p90_ms; P99Ms = l.p99_ms; MaxMs = l.max_ms;
        }
    }

    public sealed class Stats
    {
        public ulong Frames, DroppedFrames;
        public uint Window;
        public double Fps;
        public Latency Step, Decode, Total;

        internal Stats(vgrt_stats s)
        {
            Frames = s.frames;
            DroppedFrames = s.dropped_frames;
            Window = s.window;
            Fps = s.fps;
            Step = new Latency(s.step);
            Decode = new Latency(s.decode);
            Total = new Latency(s.total);
        }
    }
}
