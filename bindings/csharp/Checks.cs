// Checks.cs: the binding checked from C#, run by tests/test_csharp.py.
//
//   mono vidgen_checks.exe layout       every P/Invoke struct's marshalled size and field offsets,
//                                       the constants, enum values and imported functions, for the
//                                       test to compare with the C compiler's view of vidgen_rt.h
//   mono vidgen_checks.exe BUNDLE.vgrt BUNDLE.vgrtpack
//                                       every safe-layer call once on a bundle (errors, snapshots,
//                                       contexts, batch, post-processing, sampling, async mode, the
//                                       same bundle packed and opened from memory), then "all checks
//                                       passed"; exit status 1 naming the first failure
using System;
using System.Linq;
using System.Reflection;
using System.Runtime.InteropServices;
using VidgenRt;
using VidgenRt.Native;

public static class Checks
{
    public static int Main(string[] args)
    {
        if (args.Length == 1 && args[0] == "layout")
        {
            PrintLayout();
            return 0;
        }
        if (args.Length != 2)
        {
            Console.Error.WriteLine("usage: vidgen_checks.exe layout | vidgen_checks.exe BUNDLE.vgrt BUNDLE.vgrtpack");
            return 2;
        }
        try
        {
            Run(args[0], args[1]);
        }
        catch (Exception error)
        {
            Console.WriteLine("FAILED: " + error);
            return 1;
        }
        Console.WriteLine("all checks passed");
        return 0;
    }

    private static void PrintLayout()
    {
        Type[] types = typeof(NativeMethods).Assembly.GetTypes().Where(t => t.Namespace == "VidgenRt.Native").ToArray();
        foreach (Type type in types.Where(t => t.IsValueType && !t.IsEnum).OrderBy(t => t.Name))
        {
            Console.WriteLine("struct {0} {1}", type.Name, Marshal.SizeOf(type));
            foreach (FieldInfo field in type.GetFields(BindingFlags.Public | BindingFlags.Instance))
                Console.WriteLine("field {0} {1} {2}", type.Name, field.Name, Marshal.OffsetOf(type, field.Name));
        }
        foreach (Type type in types.Where(t => t.IsEnum))
            foreach (object value in Enum.GetValues(type))
                Console.WriteLine("const {0} {1}", value, (int)value);
        foreach (FieldInfo constant in typeof(Abi).GetFields().Where(f => f.IsLiteral))
            Console.WriteLine("const {0} {1}", constant.Name, constant.GetRawConstantValue());
        foreach (MethodInfo method in typeof(NativeMethods).GetMethods().Where(m => m.IsDefined(typeof(DllImportAttribute), false)))
            Console.WriteLine("function {0}", method.Name);
    }

    private static void Expect(bool condition, string what)
    {
        if (!condition) throw new Exception("check failed: " + what);
    }

    private static Status ErrorOf(Action call)
    {
        try
        {
            call();
        }
        catch (VidgenException error)
        {
            Expect(error.Message.Length > 20, "an error message, got '" + error.Message + "'");
            return error.Status;
        }
        return Status.Ok;
    }

    private static void Run(string bundle, string pack)
    {
        Library.CheckAbi();
        Expect(Library.CheckBundle(bundle).Contains("\"vidgen_rt.bundle\""), "CheckBundle returns the manifest");
        Expect(ErrorOf(() => Library.CheckBundle(bundle + ".missing")) == Status.Bundle, "a missing bundle is a Bundle error");
        Console.WriteLine("noise {0}", string.Join(" ", Library.NoiseBits((1UL << 40) + 7, 3, 8)));

        ModelOptions options = new ModelOptions { IntraOpThreads = 1, AllowSpinning = false };
        using (Model model = new Model(bundle, options))
        {
            Console.WriteLine("backend library {0}", model.BackendLibrary);
            Expect(model.Manifest.Contains("\"key_bindings\""), "the model's manifest text");
            Expect(model.ActionForKey("w") == 1 && model.ActionForKey("F12") == -1, "ActionForKey maps GLFW key names");
            CheckSynchronous(model);
            CheckAsynchronous(model);
            if (model.Info.BatchSizes.Contains(2))
                using (VidgenRt.Stream pair = model.OpenStream(new StreamOptions { Batch = 2 }))
                using (Frame frame = pair.StepAcquire(new long[] { 1, 2 }))
                    Expect(pair.FrameBytes == frame.RgbaSize && frame.Batch == 2 && frame.Actions[1] == 2, "a batch of 2 players");
            Expect(ErrorOf(() => model.OpenStream(new StreamOptions { Batch = 3 })) != Status.Ok, "batch 3 is not exported");
            CheckPacked(model, System.IO.File.ReadAllBytes(pack), options);
        }
        Console.WriteLine("checked bundle {0}", bundle);
    }

    private static void CheckPacked(Model directory, byte[] pack, ModelOptions options)
    {
        Expect(Library.CheckBundle(pack) == directory.Manifest, "the pack holds the directory's manifest");
        byte[] truncated = new byte[pack.Length / 2];
        Array.Copy(pack, truncated, truncated.Length);
        Expect(ErrorOf(() => Library.CheckBundle(truncated)) == Status.Bundle, "a truncated pack is a Bundle error");
        using (Model packed = Model.FromMemory(pack, options))
        using (VidgenRt.Stream fromMemory = packed.OpenStream())
        using (VidgenRt.Stream fromDirectory = directory.OpenStream())
        {
            Expect(packed.Info.Name == directory.Info.Name && packed.Actions.Length == directory.Actions.Length,
                   "the pack's info");
            byte[] a = new byte[fromMemory.FrameBytes], b = new byte[fromDirectory.FrameBytes];
            for (int i = 0; i < 20; ++i)
            {
                long[] action = { i % packed.Info.ActionCount };
                fromMemory.Step(action, a);
                fromDirectory.Step(action, b);
            }
            Expect(a.SequenceEqual(b), "a pack from memory plays the directory's frames");
        }
    }

    private static void CheckSynchronous(Model model)
    {
        using (VidgenRt.Stream stream = model.OpenStream())
        {
            using (Frame first = stream.AcquireLatest())
                Expect(first != null && first.Index == 0 && first.Actions[0] == -1, "the context's last frame waits after open");
            Expect(ErrorOf(() => stream.Step(new long[] { 99 }, new byte[stream.FrameBytes])) == Status.InvalidArgument,
                   "an action out of range is refused");
            Expect(ErrorOf(() => stream.Step(new long[] { 1 }, new byte[3])) == Status.InvalidArgument, "a short buffer is refused");

            using (Frame frame = stream.StepAcquire(new long[] { 1 }))
                Expect(frame.Index == 1 && frame.Actions[0] == 1 && frame.Channels == 4 && frame.RgbaSize == stream.FrameBytes,
                       "StepAcquire returns frame 1");
            byte[] expected = new byte[stream.FrameBytes], replayed = new byte[stream.FrameBytes];
            using (Snapshot snapshot = stream.TakeSnapshot())
            {
                for (int i = 0; i < 5; ++i) stream.Step(new long[] { 3 }, expected);
                stream.Restore(snapshot);
                for (int i = 0; i < 5; ++i) stream.Step(new long[] { 3 }, replayed);
            }
            Expect(expected.SequenceEqual(replayed), "restoring a snapshot replays the same frames");

            Postprocess brighter = Postprocess.Default;
            brighter.Brightness = 0.25f;
            stream.Postprocess = brighter;
            Expect(stream.Postprocess.Brightness == 0.25f && model.Info.Postprocess.Gamma == 1f, "post-processing round trip");
            stream.Postprocess = Postprocess.Default;
            stream.Sampling = new Sampling { Seed = 1UL << 63, Temperature = 0.5f, SamplingSteps = 0 };
            Expect(stream.Sampling.Seed == 1UL << 63 && stream.Sampling.Temperature == 0.5f && stream.Sampling.SamplingSteps >= 1,
                   "sampling round trip");
            Expect(stream.Stats.Frames == 11, "stats count 11 steps, got " + stream.Stats.Frames);

            byte[] rgb = new byte[model.Info.Height * model.Info.Width * 3];
            for (int p = 0; p < rgb.Length / 3; ++p) Buffer.BlockCopy(replayed, 4 * p, rgb, 3 * p, 3);
            stream.Reset(new Context { Frames = rgb, FrameCount = 1, Actions = new long[0] });
            using (Frame context = stream.AcquireLatest())
                Expect(context != null && context.Index == 0, "Reset(context) restarts at frame 0");
            Expect(ErrorOf(() => stream.Reset(new Context { Frames = rgb, FrameCount = 2, Actions = new long[] { 1 } })) ==
                   Status.InvalidArgument, "a context of 2 frames with 1 frame's bytes is refused");
        }
    }

    private static void CheckAsynchronous(Model model)
    {
        VidgenRt.Stream stream = model.OpenStream();
        using (stream)
        {
            stream.AcquireLatest().Dispose();
            stream.PushAction(4);
            stream.Start(0);
            Expect(stream.IsRunning, "running after Start");
            Expect(ErrorOf(() => stream.Step(new long[] { 1 }, new byte[stream.FrameBytes])) == Status.State,
                   "a synchronous step while running is refused");
            using (Frame frame = stream.WaitFrame(10000))
                Expect(frame != null && frame.Index >= 1 && frame.Actions[0] == 4, "WaitFrame returns a generated frame");
            stream.Stop();
            Expect(!stream.IsRunning, "stopped after Stop");
        }
        bool disposed = false;
        try
        {
            stream.PushAction(1);
        }
        catch (ObjectDisposedException)
        {
            disposed = true;
        }
        Expect(disposed, "a disposed stream throws ObjectDisposedException");
    }
}
