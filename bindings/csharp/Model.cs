// Model.cs: a loaded bundle (vgrt_model) as an IDisposable: its info, its action table and the
// streams opened on it. Disposing the model while streams are open is allowed: the runtime keeps
// the weights until the last stream closes (vidgen_rt.h, "Ownership").
using System;
using System.Runtime.InteropServices;
using VidgenRt.Native;

namespace VidgenRt
{
    public sealed class Model : NativeHandle
    {
        public readonly string Path;
        public readonly ModelInfo Info;
        public readonly ActionInfo[] Actions;

        /// <summary>Validates the bundle directory (every rule of docs/architecture.md §9) and loads its
        /// graphs; VidgenException with the reason otherwise.</summary>
        public Model(string bundlePath, ModelOptions options = null)
            : this(bundlePath, "vgrt_model_create(" + bundlePath + ")", options,
                   (byte[] path, ref vgrt_model_options native, out IntPtr model) =>
                       NativeMethods.vgrt_model_create(path, ref native, out model))
        {
        }

        // Opens the handle while the options' strings are pinned: vgrt_model_create or _open_memory.
        private delegate int Open(byte[] path, ref vgrt_model_options options, out IntPtr model);

        private Model(string path, string call, ModelOptions options, Open open) : base("Model")
        {
            Path = path;
            using (Pins pins = new Pins())
            {
                vgrt_model_options native = (options ?? new ModelOptions()).ToNative(pins);
                VidgenException.Check(open(Strings.Utf8(path), ref native, out handle), call);
            }
            vgrt_model_info info = NativeMethods.vgrt_model_info_default();
            VidgenException.Check(NativeMethods.vgrt_model_get_info(handle, ref info), "vgrt_model_get_info");
            Info = new ModelInfo(info);
            Actions = new ActionInfo[Info.ActionCount];
            for (int id = 0; id < Actions.Length; ++id)
            {
                IntPtr name, keys;
                VidgenException.Check(NativeMethods.vgrt_model_get_action(handle, id, out name, out keys), "vgrt_model_get_action");
                string bound = Strings.Read(keys);
                Actions[id] = new ActionInfo
                {
                    Id = id, Name = Strings.Read(name),
                    Keys = bound.Length == 0 ? new string[0] : bound.Split(','),
                };
            }
        }

        /// <summary>A packed bundle (NAME.vgrtpack, `vidgen export --pack`) from memory: an asset the
        /// engine loaded (Unity StreamingAssets, a Godot .pck, an Unreal .pak). Validated as a directory
        /// is; the runtime copies what it keeps, so `pack` may be dropped afterwards.</summary>
        public static Model FromMemory(byte[] pack, ModelOptions options = null)
        {
            GCHandle pinned = GCHandle.Alloc(pack, GCHandleType.Pinned);
            try
            {
                return FromMemory(pinned.AddrOfPinnedObject(), pack.Length, options);
            }
            finally
            {
                pinned.Free();
            }
        }

        /// <summary>The same from native memory (`size` bytes at `data`, read during the call only).</summary>
        public static Model FromMemory(IntPtr data, long size, ModelOptions options = null)
        {
            return new Model("[packed bundle]", "vgrt_model_open_memory", options,
                             (byte[] path, ref vgrt_model_options native, out IntPtr model) =>
                                 NativeMethods.vgrt_model_open_memory(data, (UIntPtr)(ulong)size, ref native, out model));
        }

        /// <summary>The manifest.json text the model was validated from.</summary>
        public string Manifest
        {
            get
            {
                IntPtr text;
                VidgenException.Check(NativeMethods.vgrt_model_get_manifest(Handle, out text), "vgrt_model_get_manifest");
                return Strings.Read(text);
            }
        }

        /// <summary>The path of the ONNX Runtime library in use ("" for other backends).</summary>
        public string BackendLibrary
        {
            get
            {
                IntPtr path;
                VidgenException.Check(NativeMethods.vgrt_model_get_backend_library(Handle, out path), "vgrt_model_get_backend_library");
                return Strings.Read(path);
            }
        }

        /// <summary>The id of the action bound to `key` (a GLFW key name: "W", "UP", "SPACE"), or -1.</summary>
        public int ActionForKey(string key)
        {
            foreach (ActionInfo action in Actions)
                if (Array.IndexOf(action.Keys, key.ToUpperInvariant()) >= 0) return action.Id;
            return -1;
        }

        public Stream OpenStream(StreamOptions options = null)
        {
            return new Stream(this, options ?? new StreamOptions());
        }

        /// <summary>Open streams keep the weights alive: they may outlive the model.</summary>
        protected override void Release(IntPtr owned)
        {
            NativeMethods.vgrt_model_destroy(owned);
        }
    }
}
