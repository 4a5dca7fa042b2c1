// Stream.cs: B players of one model (vgrt_stream) as an IDisposable, with the frames, snapshots and
// contexts it takes and gives. Synchronous play: Step writes the next frames into the caller's
// memory (a byte[] or a pointer, e.g. an engine texture's staging buffer) or StepAcquire lends a
// runtime Frame. Asynchronous play: Start, PushAction, AcquireLatest (or WaitFrame), Stop. Frames
// are RGBA8, player-major, rows top-down (a GL-style bottom-up texture needs its rows flipped or
// its V coordinate mirrored: docs/embedding.md).
using System;
using System.Runtime.InteropServices;
using VidgenRt.Native;

namespace VidgenRt
{
    /// <summary>Context frames to start a stream from: K RGB frames and the K-1 actions between them.</summary>
    public sealed class Context
    {
        public byte[] Frames;      // RGB [K, H, W, 3] shared by all players, or [B, K, H, W, 3] with PerPlayer
        public int FrameCount;     // K >= 1
        public bool PerPlayer;
        public long[] Actions;     // [K-1] or [B, K-1]
        public float[] Cond;       // [K-1, cond_dim] (per player: [B, ...]) when the bundle takes cond
        public float[] Guide;      // [K-1, G, H, W] (per player: [B, ...]) when the bundle takes guide maps

        internal IntPtr ToNative(Pins pins)
        {
            vgrt_context c = new vgrt_context
            {
                frames = pins.Pin(Frames), frames_size = (UIntPtr)Length(Frames), frame_count = (UIntPtr)FrameCount,
                per_player = PerPlayer ? 1 : 0, actions = pins.Pin(Actions), action_count = (UIntPtr)Length(Actions),
                cond = pins.Pin(Cond), cond_count = (UIntPtr)Length(Cond),
                guide = pins.Pin(Guide), guide_count = (UIntPtr)Length(Guide),
            };
            return pins.Struct(c);
        }

        internal static int Length(Array array)
        {
            return array == null ? 0 : array.Length;
        }
    }

    public sealed class StreamOptions
    {
        public int Batch;              // one of the bundle's exported batch sizes
        public Context Context;        // null: the bundle's default context
        public ulong Seed;             // a flow head's noise key
        public float Temperature;      // noise scale in [0, 4]
        public int SamplingSteps;      // Euler steps K; 0: the bundle's

        public StreamOptions()
        {
            vgrt_stream_options d = NativeMethods.vgrt_stream_options_default();
            Batch = d.batch;
            Seed = d.seed;
            Temperature = d.temperature;
            SamplingSteps = d.sampling_steps;
        }
    }

    public struct Sampling
    {
        public ulong Seed;
        public float Temperature;
        public int SamplingSteps;
    }

    /// <summary>A runtime-owned frame: read Rgba until Dispose (vgrt_frame_release).</summary>
    public sealed class Frame : NativeHandle
    {
        public readonly ulong Index;   // 0: the context's last frame after open/reset, then +1 per step
        public readonly int Batch, Height, Width, Channels;
        public readonly IntPtr Rgba;   // Batch * Height * Width * 4 bytes, rows top-down
        public readonly int RgbaSize;
        public readonly long[] Actions;

        internal Frame(IntPtr native) : base("Frame")
        {
            handle = native;
            vgrt_frame f = (vgrt_frame)Marshal.PtrToStructure(native, typeof(vgrt_frame));
            Index = f.index;
            Batch = f.batch;
            Height = f.height;
            Width = f.width;
            Channels = f.channels;
            Rgba = f.rgba;
            RgbaSize = checked((int)f.rgba_size);
            Actions = new long[f.batch];
            Marshal.Copy(f.actions, Actions, 0, f.batch);
        }

        internal static Frame OrNull(IntPtr native)
        {
            return native == IntPtr.Zero ? null : new Frame(native);
        }

        public void CopyTo(byte[] target)
        {
            if (handle == IntPtr.Zero) throw new ObjectDisposedException("Frame");
            if (target.Length != RgbaSize) throw new ArgumentException("target holds " + target.Length + " bytes, the frame " + RgbaSize);
            Marshal.Copy(Rgba, target, 0, RgbaSize);
        }

        protected override void Release(IntPtr owned)
        {
            NativeMethods.vgrt_frame_release(owned);
        }
    }

    /// <summary>A stream's saved state (KV ring, latents, frame and draw index, sampling options).</summary>
    public sealed class Snapshot : NativeHandle
    {
        internal Snapshot(IntPtr native) : base("Snapshot")
        {
            handle = native;
        }

        protected override void Release(IntPtr owned)
        {
            NativeMethods.vgrt_snapshot_destroy(owned);
        }
    }

    public sealed class Stream : NativeHandle
    {
        public readonly Model Model;
        public readonly int Batch;
        /// <summary>Bytes of one step's frames: Batch * Height * Width * 4.</summary>
        public readonly int FrameBytes;

        internal Stream(Model model, StreamOptions options) : base("Stream")
        {
            Model = model;
            using (Pins pins = new Pins())
            {
                vgrt_stream_options o = NativeMethods.vgrt_stream_options_default();
                o.batch = options.Batch;
                o.context = options.Context == null ? IntPtr.Zero : options.Context.ToNative(pins);
                o.seed = options.Seed;
                o.temperature = options.Temperature;
                o.sampling_steps = options.SamplingSteps;
                VidgenException.Check(NativeMethods.vgrt_stream_open(model.Handle, ref o, out handle), "vgrt_stream_open");
            }
            int batch;
            VidgenException.Check(NativeMethods.vgrt_stream_get_batch(handle, out batch), "vgrt_stream_get_batch");
            Batch = batch;
            FrameBytes = batch * model.Info.Height * model.Info.Width * 4;
        }

        /// <summary>One step (one action per player) into `rgba` (FrameBytes bytes).</summary>
        public void Step(long[] actions, byte[] rgba, float[] cond = null, float[] guide = null)
        {
            GCHandle pinned = GCHandle.Alloc(rgba, GCHandleType.Pinned);
            try
            {
                Step(actions, pinned.AddrOfPinnedObject(), rgba.Length, cond, guide);
            }
            finally
            {
                pinned.Free();
            }
        }

        /// <summary>One step into native memory the caller owns (e.g. a texture's raw data).</summary>
        public void Step(long[] actions, IntPtr rgba, int rgbaSize, float[] cond = null, float[] guide = null)
        {
            using (Pins pins = new Pins())
                VidgenException.Check(NativeMethods.vgrt_stream_step(Handle, actions, (UIntPtr)Context.Length(actions),
                                                                     Conditions(pins, cond, guide), rgba, (UIntPtr)rgbaSize),
                                      "vgrt_stream_step");
        }

        /// <summary>One step into a runtime frame (no copy); dispose it when read.</summary>
        public Frame StepAcquire(long[] actions, float[] cond = null, float[] guide = null)
        {
            IntPtr frame;
            using (Pins pins = new Pins())
                VidgenException.Check(NativeMethods.vgrt_stream_step_acquire(Handle, actions, (UIntPtr)Context.Length(actions),
                                                                             Conditions(pins, cond, guide), out frame),
                                      "vgrt_stream_step_acquire");
            return new Frame(frame);
        }

        /// <summary>Start over from `context` (null: the bundle's). Not while running asynchronously.</summary>
        public void Reset(Context context = null)
        {
            using (Pins pins = new Pins())
                VidgenException.Check(NativeMethods.vgrt_stream_reset(Handle, context == null ? IntPtr.Zero : context.ToNative(pins)),
                                      "vgrt_stream_reset");
        }

        /// <summary>Generate on a runtime thread at `fps` frames per second (0: as fast as it can).</summary>
        public void Start(double fps = 0)
        {
            VidgenException.Check(NativeMethods.vgrt_stream_start(Handle, fps), "vgrt_stream_start");
        }

        public void Stop()
        {
            VidgenException.Check(NativeMethods.vgrt_stream_stop(Handle), "vgrt_stream_stop");
        }

        public bool IsRunning
        {
            get
            {
                int running;
                VidgenException.Check(NativeMethods.vgrt_stream_is_running(Handle, out running), "vgrt_stream_is_running");
                return running != 0;
            }
        }

        /// <summary>Queue one action per player for the generation thread (taken one per step, in order).</summary>
        public void PushAction(params long[] actions)
        {
            VidgenException.Check(NativeMethods.vgrt_stream_push_action(Handle, actions, (UIntPtr)Context.Length(actions)),
                                  "vgrt_stream_push_action");
        }

        /// <summary>The cond/guide every asynchronous step takes from now on.</summary>
        public void SetConditions(float[] cond, float[] guide)
        {
            using (Pins pins = new Pins())
                VidgenException.Check(NativeMethods.vgrt_stream_set_conditions(Handle, Conditions(pins, cond, guide)),
                                      "vgrt_stream_set_conditions");
        }

        /// <summary>The newest frame not yet acquired, or null.</summary>
        public Frame AcquireLatest()
        {
            IntPtr frame;
            VidgenException.Check(NativeMethods.vgrt_stream_acquire_latest(Handle, out frame), "vgrt_stream_acquire_latest");
            return Frame.OrNull(frame);
        }

        /// <summary>As AcquireLatest, waiting up to `timeoutMs` while the stream runs (null on timeout).</summary>
        public Frame WaitFrame(int timeoutMs)
        {
            IntPtr frame;
            VidgenException.Check(NativeMethods.vgrt_stream_wait_frame(Handle, timeoutMs, out frame), "vgrt_stream_wait_frame");
            return Frame.OrNull(frame);
        }

        public Sampling Sampling
        {
            get
            {
                Sampling s;
                VidgenException.Check(NativeMethods.vgrt_stream_get_sampling(Handle, out s.Seed, out s.Temperature, out s.SamplingSteps),
                                      "vgrt_stream_get_sampling");
                return s;
            }
            set
            {
                VidgenException.Check(NativeMethods.vgrt_stream_set_sampling(Handle, value.Seed, value.Temperature, value.SamplingSteps),
                                      "vgrt_stream_set_sampling");
            }
        }

        public Snapshot TakeSnapshot()
        {
            IntPtr snapshot;
            VidgenException.Check(NativeMethods.vgrt_stream_snapshot(Handle, out snapshot), "vgrt_stream_snapshot");
            return new Snapshot(snapshot);
        }

        public void Restore(Snapshot snapshot)
        {
            VidgenException.Check(NativeMethods.vgrt_stream_restore(Handle, snapshot.Handle), "vgrt_stream_restore");
        }

        public Postprocess Postprocess
        {
            get
            {
                vgrt_postprocess p = NativeMethods.vgrt_postprocess_default();
                VidgenException.Check(NativeMethods.vgrt_stream_get_postprocess(Handle, ref p), "vgrt_stream_get_postprocess");
                return Postprocess.From(p);
            }
            set
            {
                vgrt_postprocess p = value.ToNative();
                VidgenException.Check(NativeMethods.vgrt_stream_set_postprocess(Handle, ref p), "vgrt_stream_set_postprocess");
            }
        }

        public Stats Stats
        {
            get
            {
                vgrt_stats s = NativeMethods.vgrt_stats_default();
                VidgenException.Check(NativeMethods.vgrt_stream_get_stats(Handle, ref s), "vgrt_stream_get_stats");
                return new Stats(s);
            }
        }

        private static IntPtr Conditions(Pins pins, float[] cond, float[] guide)
        {
            if (cond == null && guide == null) return IntPtr.Zero;
            vgrt_conditions c = new vgrt_conditions
            {
                cond = pins.Pin(cond), cond_count = (UIntPtr)Context.Length(cond),
                guide = pins.Pin(guide), guide_count = (UIntPtr)Context.Length(guide),
            };
            return pins.Struct(c);
        }

        /// <summary>Stops the generation thread if it runs, then closes the stream.</summary>
        protected override void Release(IntPtr owned)
        {
            NativeMethods.vgrt_stream_close(owned);
        }
    }
}
